"""A run in a child process (how the window trains), driven without Qt."""

import time
from pathlib import Path

import numpy as np
import pytest
import torch

import studio.trust
from studio.graph.project import dumps, load_project
from studio.training import TrainingSettings
from studio.training.child_messages import PAUSED_FILE
from studio.training.prepare import PrepareError, load_trained
from studio.training.remote import RemoteRun, RunRequest, exit_message

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "resources" / "examples" / "mlp_classifier.studio.json"
)


def request(tmp_path, **over):
    project = load_project(EXAMPLE)
    settings = {
        "data": {"kind": "moons", "n": 400},
        "epochs": 2,
        "batch_size": 32,
        "seed": 3,
        "report_seconds": 0.01,
        **over,
    }
    return project, RunRequest(
        dumps(project),
        None,
        settings,
        str(tmp_path / "run"),
        trusted=studio.trust.snapshot(),
        threads=1,
    )


def messages_until_done(run, timeout=60.0, on=None):
    got, end = [], time.monotonic() + timeout
    while time.monotonic() < end:
        m = run.receive(0.1)
        if m is None:
            continue
        got.append(m)
        if on is not None:
            on(m)
        if m[0] in ("done", "exit"):
            return got
    raise AssertionError(f"no end within {timeout}s: {[m[0] for m in got]}")


def test_a_run_reports_progress_and_its_weights_match_a_local_copy(tmp_path):
    project, req = request(tmp_path)
    run = RemoteRun(req)
    run.start()
    got = messages_until_done(run)
    run.end()
    kinds = [m[0] for m in got]
    assert (
        kinds[0] == "status" and "prepared" in kinds and "started" in kinds and kinds[-1] == "done"
    )
    chunks = [m[1] for m in got if m[0] == "chunk"]
    steps = np.concatenate([c.steps for c in chunks])
    assert steps.tolist() == list(range(1, len(steps) + 1))  # every step arrives, once, in order
    assert sum(len(c.epochs) for c in chunks) == 2
    result = got[-1][1]
    assert result.status == "completed" and result.weights_path.is_file()
    assert run.process.exitcode == 0
    # the window's copy: same source, same data; with the child's weights it predicts the same
    settings = TrainingSettings.from_dict(req.settings)
    model, data, _ = load_trained(project, settings, result.weights_path)
    x = torch.stack([data.val[i][0] for i in range(16)])
    state = torch.load(result.weights_path, weights_only=True)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert model(x).shape == (16, 2)
    # a checkpoint loads too; a model edited since the run says so in words
    model, _, _ = load_trained(project, settings, tmp_path / "run" / "checkpoints" / "last.pt")
    project.graph.blocks[project.graph.block_by_name("fc1").id].params["out_features"] = 8
    with pytest.raises(PrepareError, match="do not fit the model as it is now.*size mismatch"):
        load_trained(project, settings, result.weights_path)


def test_pause_hands_over_the_current_state_then_the_run_goes_on(tmp_path):
    _, req = request(tmp_path, epochs=200)
    run = RemoteRun(req)
    run.start()
    paused = []

    def on(m):
        if m[0] == "chunk" and not run.control.paused and not paused:
            run.control.pause()
        elif m[0] == "paused":
            paused.append(m[1])
            state = torch.load(m[1], weights_only=True)
            assert set(state) >= {"fc1.weight", "classifier.bias"}
            run.control.resume()
            run.control.stop()

    got = messages_until_done(run, on=on)
    run.end()
    assert len(paused) == 1 and paused[0].endswith(PAUSED_FILE)
    assert got[-1][1].status == "stopped"


def test_the_child_stops_when_the_window_goes_away(tmp_path):
    _, req = request(tmp_path, epochs=10_000)
    run = RemoteRun(req)
    run.start()
    while (m := run.receive(0.1)) is None or m[0] != "chunk":
        pass
    run.child.commands.close()  # what the child sees when the window's process dies
    got = messages_until_done(run, timeout=20)
    run.end()
    assert got[-1][0] == "done" and got[-1][1].status == "stopped"


def test_a_failure_before_training_is_a_message(tmp_path):
    _, req = request(tmp_path, data={"kind": "image_folder", "path": str(tmp_path / "missing")})
    run = RemoteRun(req)
    run.start()
    result = messages_until_done(run)[-1][1]
    run.end()
    assert result.status == "failed" and result.failure.kind == "data"
    assert "missing" in result.message


def test_exit_messages_say_what_happened():
    assert "exit code 3" in exit_message(3)
    assert "SIGKILL" in exit_message(-9) and "memory" in exit_message(-9)


def test_a_warm_spare_takes_the_next_run_in_the_windows_current_folder(tmp_path, monkeypatch):
    from studio.training import remote

    remote.warm_spare()
    spare_pid = remote._spare.process.pid
    # after the spare started, the window's folder changes: the run reads data relative to it
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.3f},{b:.3f},{int(a > b)}" for a, b in rng.normal(size=(120, 2)))
    (tmp_path / "points.csv").write_text("a,b,label\n" + rows + "\n")
    _, req = request(tmp_path, data={"kind": "csv", "path": "points.csv"}, epochs=1)
    run = RemoteRun(req)
    assert run.process.pid == spare_pid and remote._spare is None
    run.start()
    result = messages_until_done(run)[-1][1]
    run.end()
    assert result.status == "completed", result.message
    remote.discard_spare()
