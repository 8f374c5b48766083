"""Sweeps on Optuna: each trial a run in the history, pruning, resuming, several workers, apply."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from studio.graph.project import load_project, save_project  # noqa: E402
from studio.graph.search import Search, parse  # noqa: E402
from studio.training.runs import RunStore, runs_root  # noqa: E402
from studio.training.sweep import Sweep, SweepError, default_storage, load_study  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SPIRAL = ROOT / "resources/examples/mlp_classifier.studio.json"


def small_spiral(tmp_path, epochs=1):
    project = load_project(SPIRAL)
    project.training = {
        **project.training,
        "epochs": epochs,
        "data": {"kind": "spirals", "n": 200, "noise": 0.2},
    }
    project.search = Search(
        [parse("lr=1e-3..1e-1:log"), parse("fc1.out_features=4..32", project.graph)]
    )
    path = tmp_path / "spiral.studio.json"
    save_project(project, path)
    return load_project(path)


def make_sweep(project, **kw):
    root = runs_root(project.path, project.name, ".")
    return Sweep(
        project,
        project.search,
        RunStore(root),
        default_storage(root),
        "s",
        base_dir=project.path.parent,
        **kw,
    )


def test_each_trial_is_a_run_with_its_parameters(tmp_path):
    project = small_spiral(tmp_path, epochs=2)
    seen = []
    sweep = make_sweep(project, on_trial=lambda outcome, study: seen.append(outcome))
    sweep.run(2)
    runs = RunStore(runs_root(project.path, project.name, ".")).runs()
    assert len(runs) == 2 and [o.state for o in seen] == ["complete", "complete"]
    for rec, outcome in zip(runs, seen):
        assert rec.state == "completed" and rec.status["sweep"] == "s"
        assert rec.status["trial"] == outcome.number
        params = rec.status["params"]
        assert set(params) == {"lr", "fc1.out_features"} and 4 <= params["fc1.out_features"] <= 32
        # the run kept the model it trained: its hidden width is the trial's
        kept = json.loads(rec.model_file.read_text())
        fc1 = next(b for b in kept["graph"]["blocks"] if b["name"] == "fc1")
        assert fc1["params"]["out_features"] == params["fc1.out_features"]
        assert rec.settings["optimizer"]["lr"] == pytest.approx(params["lr"])
        assert len(rec.history()) == 2 and rec.status["best_value"] == pytest.approx(outcome.value)
    study = load_study(default_storage(runs_root(project.path, project.name, ".")), "s")
    assert [t.user_attrs["run"] for t in study.trials] == [r.id for r in runs]


def test_the_same_seed_samples_the_same_values(tmp_path):
    values = []
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        project = small_spiral(tmp_path / sub)
        sweep = make_sweep(project)
        sweep.run(2)
        values.append([t.params for t in sweep.study.trials])
    assert values[0] == values[1]


def test_the_median_pruner_stops_a_trial_that_does_worse(tmp_path):
    project = small_spiral(tmp_path, epochs=3)
    sweep = make_sweep(project)
    sweep.study.pruner._n_startup_trials = 1  # prune from the second trial on
    sweep.study.pruner._n_warmup_steps = 0
    # a first trial that learns; then one that cannot (a rate of ~0)
    sweep.study.enqueue_trial({"lr": 0.05, "b2.out_features": 32})
    sweep.study.enqueue_trial({"lr": 0.001, "b2.out_features": 4})
    sweep.search = Search(
        [parse("lr=1e-6..1e-1:log"), parse("fc1.out_features=4..32", project.graph)]
    )
    sweep.run(2)
    states = [t.state.name for t in sweep.study.trials]
    assert states == ["COMPLETE", "PRUNED"]
    pruned = RunStore(runs_root(project.path, project.name, ".")).runs()[-1]
    assert (
        pruned.state == "pruned"
        and len(pruned.history()) < 3
        and "median" in pruned.status["message"]
    )


def test_nothing_to_search_and_bad_ranges_are_messages(tmp_path):
    project = small_spiral(tmp_path)
    with pytest.raises(SweepError, match="nothing to search"):
        Sweep(project, Search(), RunStore(tmp_path / "r"), str(tmp_path / "j"), "s")
    project.graph.remove_block("b2")
    with pytest.raises(SweepError, match="no longer exists"):
        make_sweep(project)


def test_the_missing_optuna_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)
    project = small_spiral(tmp_path)
    with pytest.raises(SweepError, match=r'pip install "studio-pytorch\[sweep\]"'):
        make_sweep(project)


def _studio(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "studio", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_workers_on_one_storage_lose_no_trial_and_run_none_twice(tmp_path):
    project = small_spiral(tmp_path)
    storage = str(tmp_path / "shared.journal")
    workers = [
        _studio(
            "sweep",
            str(project.path),
            "--trials",
            "2",
            "--storage",
            storage,
            "--study",
            "w",
            "--seed",
            str(i),
            cwd=tmp_path,
        )
        for i in range(2)
    ]
    outs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outs
    study = load_study(storage, "w")
    assert len(study.trials) == 4 and sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert all(t.state.name == "COMPLETE" for t in study.trials)
    runs = RunStore(runs_root(project.path, project.name, ".")).runs()
    assert sorted(r.status["trial"] for r in runs) == [
        0,
        1,
        2,
        3,
    ]  # each trial trained exactly once
    assert {t.user_attrs["run"] for t in study.trials} == {r.id for r in runs}
    assert {t.user_attrs["pid"] for t in study.trials} == {w.pid for w in workers}  # both worked


def test_a_sweep_killed_mid_trial_resumes_and_loses_nothing(tmp_path, monkeypatch, capsys):
    from studio.cli import main

    # long enough that the kill, 0.2 s after the first epoch shows, always lands mid-trial: with
    # 40 epochs of 200 points a fresh-clone run saw the trial complete before it
    project = small_spiral(tmp_path, epochs=5000)
    args = ("sweep", str(project.path), "--trials", "1", "--study", "k")
    proc = _studio(*args, cwd=tmp_path)
    root = runs_root(project.path, project.name, ".")
    deadline = time.time() + 300
    while time.time() < deadline:  # until the trial trained an epoch
        recs = RunStore(root).runs()
        if recs and recs[0].history():
            break
        time.sleep(0.2)
    proc.kill()  # kill -9
    proc.wait()
    study = load_study(default_storage(root), "k")
    assert [t.state.name for t in study.trials] == ["RUNNING"]
    killed = study.trials[0].params
    project.training = {**project.training, "epochs": 1}
    save_project(project)
    monkeypatch.chdir(tmp_path)  # the resume in this process (a new one only imports torch again)
    assert main(list(args)) == 0, capsys.readouterr()
    study = load_study(default_storage(root), "k")
    assert [t.state.name for t in study.trials] == ["FAIL", "COMPLETE"]
    assert study.trials[1].params == killed and study.trials[1].user_attrs["retry_of"] == 0
    states = [r.state for r in RunStore(root).runs()]
    assert states == ["interrupted", "completed"]


def test_apply_writes_the_best_trial_into_the_project(tmp_path, capsys):
    from studio.cli import main

    project = small_spiral(tmp_path)
    sweep = make_sweep(project)
    sweep.run(2)
    best = sweep.study.best_trial
    out = tmp_path / "best.studio.json"
    assert main(["sweep", str(project.path), "--study", "s", "--apply", "-o", str(out)]) == 0
    assert f"Applied trial {best.number}" in capsys.readouterr().out
    applied = load_project(out)
    assert applied.graph.blocks["b2"].params["out_features"] == best.params["b2.out_features"]
    assert applied.training["optimizer"]["lr"] == pytest.approx(best.params["lr"])
    assert applied.search == project.search  # the ranges stay for the next sweep


def test_the_command_line_refuses_bad_ranges_with_one_line(tmp_path, capsys):
    from studio.cli import main

    project = small_spiral(tmp_path)
    assert main(["sweep", str(project.path), "--search", "fc9.units=1..2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no block called 'fc9'" in err
    assert main(["sweep", str(project.path), "--apply", "--study", "never"]) == 2
    assert "No sweep 'never' has run yet" in capsys.readouterr().err
