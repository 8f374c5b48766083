"""`studio train P` records its run where the window keeps P's runs (<stem>.runs/ beside P),
so `studio runs`, `studio export --run latest` and the window's Runs tab find it."""

import json
import shutil
from pathlib import Path

import pytest

from studio.cli import main
from studio.places import EXAMPLES_DIR
from studio.training.runs import RunStore

EXAMPLE = EXAMPLES_DIR / "mlp_classifier.studio.json"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A saved copy of the MLP example; the command runs from another folder."""
    path = tmp_path / "proj" / "p.studio.json"
    path.parent.mkdir()
    shutil.copy(EXAMPLE, path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(tmp_path / "config"))
    return path


def test_a_command_line_run_is_one_of_the_projects_runs(project, capsys):
    assert main(["train", str(project), "--epochs", "1", "--seed", "1"]) == 0
    err = capsys.readouterr().err
    runs = RunStore(project.parent / "p.runs").runs()
    assert len(runs) == 1 and runs[0].state == "completed" and runs[0].weights is not None
    run = runs[0]
    assert str(run.folder) in err  # it says where the run went
    assert not any(Path.cwd().iterdir())  # nothing in the folder it was started from
    # what the window's runs hold: the graph it trained, its curve, its epochs
    assert run.model_file is not None and len(run.steps()) == run.epoch_steps[-1] > 0
    assert run.status["epochs_done"] == 1 and "pid" in run.status

    assert main(["runs", str(project), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["run"] for r in listed] == [run.id]

    out = project.parent / "w.pt"
    assert (
        main(["export", str(project), "--format", "weights", "-o", str(out), "--run", "latest"])
        == 0
    )
    assert str(run.weights) in capsys.readouterr().out and out.is_file()

    # --resume from its checkpoint goes on with that run: no second run, two epochs, one curve
    last = run.folder / "checkpoints" / "last.pt"
    assert main(["train", str(project), "--epochs", "2", "--resume", str(last)]) == 0
    runs = RunStore(project.parent / "p.runs").runs()
    assert [r.id for r in runs] == [run.id] and runs[0].state == "completed"
    assert runs[0].status["epochs_done"] == 2 and len(runs[0].epoch_steps) == 2
    assert len(runs[0].steps()) == runs[0].epoch_steps[-1] == 2 * run.epoch_steps[0]


def test_out_still_writes_a_plain_folder(project, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["train", str(project), "--epochs", "1", "--out", str(out)]) == 0
    assert (out / "weights.pt").is_file() and (out / "metrics.csv").is_file()
    assert not (project.parent / "p.runs").exists()


def test_a_bundled_examples_runs_go_where_the_window_keeps_them(tmp_path, monkeypatch, capsys):
    config = tmp_path / "config"
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(config))
    monkeypatch.chdir(tmp_path)
    before = sorted(EXAMPLES_DIR.iterdir())
    assert main(["train", str(EXAMPLE), "--epochs", "1"]) == 0
    assert sorted(EXAMPLES_DIR.iterdir()) == before  # nothing written beside the shipped examples
    (root,) = (config / "runs").iterdir()
    assert len(RunStore(root).runs()) == 1
    assert main(["runs", str(EXAMPLE), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_a_runs_folder_that_cannot_be_written_is_one_line(project, capsys):
    (project.parent / "p.runs").write_text("not a folder")
    assert main(["train", str(project), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith(f"error: cannot write the run into {project.parent / 'p.runs'}")
    assert lines[0].endswith("give another folder with --out DIR")
