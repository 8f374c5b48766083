"""A run folder is owned by one run; bad --out / --resume and a full disk mid-run give one line (#23 items 3, 6, 9)."""

import csv
import os
import subprocess
import sys
import threading
import time

import pytest

from studio.training import checkpoints
from studio.training.run_lock import LOCK_NAME, RunLock, is_locked
from studio.training.runs import RunStore
from tests.cli.test_train import _run, project  # noqa: F401  (fixture: a stubbed moons project)

pytestmark = pytest.mark.usefixtures("project")

HOLD = """
import sys, time
from studio.training.run_lock import RunLock
lock = RunLock.acquire(sys.argv[1], "studio train other.studio.json")
print("held", flush=True)
time.sleep(120)
"""


def _one_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err and lines, err
    assert lines[-1].startswith("error: "), err
    return lines[-1]


def test_a_second_run_into_a_held_folder_says_who_holds_it_and_writes_nothing(tmp_path, capsys):
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"  # an event, not a sleep
        assert is_locked(tmp_path)
        assert _run("moons.studio", "--out", str(tmp_path), "--epochs", "1") == 2
        line = _one_error(capsys.readouterr().err)
        assert (
            "in use by another run: studio train other.studio.json" in line
            and f"pid {holder.pid}" in line
        )
        assert sorted(os.listdir(tmp_path)) == [LOCK_NAME]
    finally:
        holder.kill()
        holder.wait()
    # the holder's death (kill -9 included) frees the folder: no stale lock to clean up
    assert not is_locked(tmp_path)
    assert _run("moons.studio", "--out", str(tmp_path), "--epochs", "1") == 0


def test_the_window_and_the_cli_never_write_into_the_same_run(tmp_path, capsys):
    store = RunStore(tmp_path / "p.runs")
    rec = store.create({"epochs": 1}, "p")
    assert _run("moons.studio", "--out", str(rec.folder), "--epochs", "1") == 2
    assert "Studio's window" in _one_error(capsys.readouterr().err)
    assert not (rec.folder / "metrics.csv").exists()
    store.finish(rec, "completed")
    assert not is_locked(rec.folder)
    # and a resumed window run is refused while the CLI holds it
    with RunLock.acquire(rec.folder, "studio train x"):
        from studio.training.run_lock import RunFolderBusy

        with pytest.raises(RunFolderBusy, match="studio train x"):
            store.claim(rec)


@pytest.mark.parametrize("kind", ["file", "device", "fifo-resume", "missing-resume"])
def test_a_bad_out_or_resume_is_one_line_before_training(tmp_path, capsys, kind):
    args = ["--out", str(tmp_path / "run")]
    if kind == "file":
        (tmp_path / "f").write_text("x")
        args = ["--out", str(tmp_path / "f")]
    elif kind == "device":
        args = ["--out", "/dev/null"]
    elif kind == "fifo-resume":
        os.mkfifo(tmp_path / "last.pt")
        args += ["--resume", str(tmp_path / "last.pt")]
    else:
        args += ["--resume", str(tmp_path / "nope.pt")]
    result = {}
    t = threading.Thread(
        target=lambda: result.setdefault("rc", _run("moons.studio", *args)), daemon=True
    )
    t.start()
    t.join(60)
    assert result.get("rc") == 2
    line = _one_error(capsys.readouterr().err)
    assert {
        "file": "is a file",
        "device": "device",
        "fifo-resume": "named pipe",
        "missing-resume": "no such",
    }[kind] in line
    assert "epoch" not in capsys.readouterr().err
    if kind == "file":
        assert (tmp_path / "f").read_text() == "x"


def test_a_disk_that_fills_mid_run_keeps_what_was_written_and_says_why(
    tmp_path, capsys, monkeypatch
):
    real = checkpoints.torch.save
    calls = []

    def full(obj, f, *a, **k):
        calls.append(f)
        if len(calls) >= 3:  # epoch 1's last.pt and best.pt are written, then the disk is full
            open(f, "wb").write(b"partial")
            raise RuntimeError(
                "[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0: file write failed"
            )
        return real(obj, f, *a, **k)

    monkeypatch.setattr(checkpoints.torch, "save", full)
    t0 = time.monotonic()
    assert _run("moons.studio", "--out", str(tmp_path), "--epochs", "3") == 1
    line = _one_error(capsys.readouterr().err)
    assert "Could not write" in line and "disk full" in line and "stopped after epoch 2" in line, (
        line
    )
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert len(rows) >= 1
    assert checkpoints.load(tmp_path / "checkpoints" / "last.pt")["epoch"] == 1
    leftovers = [p for _, _, fs in os.walk(tmp_path) for p in fs if p.endswith(".tmp")]
    assert not leftovers
    assert time.monotonic() - t0 < 600
