"""`studio train` as a script or CI sees it: a real process with stdout and stderr piped.

One run of the example serves every test here: its log (plain lines, no carriage returns, the
best-epoch marker explained) and its TensorBoard event file, read back with tensorboard's reader.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.training import tensorboard
from studio.training.callbacks import EpochReport, ProgressBar, RunInfo, StepReport

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "mlp_classifier.studio.json"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STUDIO_NO_NETWORK": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "train", str(EXAMPLE), "--epochs", "3", "--out", str(out)],
        capture_output=True, env=env, cwd=out, timeout=300,  # both piped, as in CI or `> log`
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode(), proc.stderr.decode(), out


def test_piped_log_has_plain_lines_and_explains_the_best_marker(run):
    stdout, stderr, _ = run
    assert "\r" not in stdout and "\r" not in stderr
    epochs = [line for line in stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert epochs[0].endswith("  * best val_loss so far")  # the first epoch is always the best so far
    if tensorboard.available():
        folder = run[2] / "tensorboard"
        assert f"note: TensorBoard logs in {folder} (open them with: tensorboard --logdir {folder})" in stderr


def test_event_file_read_back_with_tensorboards_reader(run):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _, _, out = run
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = events.Tags()
    for name in ("loss/train", "loss/val", "accuracy/train", "accuracy/val", "lr"):
        assert [e.step for e in events.Scalars(name)] == [1, 2, 3], name
    steps = events.Scalars("loss/train_step")
    assert len(steps) > 3 and [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert tags["graph"], "the model graph was not written"
    metrics = (out / "metrics.csv").read_text().splitlines()
    header, last = metrics[0].split(","), metrics[-1].split(",")
    want = float(last[header.index("val_loss")])
    assert events.Scalars("loss/val")[-1].value == pytest.approx(want, rel=1e-4)


def test_without_tensorboard_the_run_says_so_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setattr(tensorboard, "available", lambda: False)
    notes = []
    assert tensorboard.tensorboard_callbacks(tmp_path, note=notes.append) == []
    assert notes == [tensorboard.MISSING_NOTE] and "\n" not in notes[0] and "pip install" in notes[0]


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_the_bar_is_redrawn_in_place():
    stream = _Terminal()
    bar = ProgressBar(stream, interval=0)
    bar.on_run_start(RunInfo(1, 0, 2, 10, 0, "cpu", "classification", "accuracy", "train_loss", "toy"))
    bar.on_step_end(StepReport(1, 1, 2, 1, [0.5], [0.5], 0.5, 0.5, 0.1, 100.0, 1.0))
    metrics = {"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.5, "lr": 0.1, "seconds": 0.1}
    bar.on_epoch_end(EpochReport(1, 1, metrics, False, "train_loss", 0.0))
    text = stream.getvalue()
    assert "\repoch 1/1 [" in text and "\repoch 1/1  loss 0.5000" in text  # the bar, then the epoch over it
    assert "best" not in text
