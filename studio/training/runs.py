"""Run history: every training run kept in its own folder next to the project. No Qt, no torch.

    <project stem>.runs/                 (unsaved, examples: $STUDIO_CONFIG_DIR/runs/<name>/)
        20260314-101502-3f9a/
            settings.json               the TrainingSettings dict the run used
            model.studio.json           the project as it was trained (graph and settings)
            status.json                 status, message, failure kind, epochs, best, times
            metrics.csv                 one row per epoch (the trainer's CSVLogger)
            steps.npy                   (step, loss) per optimizer step, float64 (n, 2)
            weights.pt                  final state_dict (the trainer writes it)
            weights.json                what the outputs mean: class_names, a regression target_scale
            tensorboard/                TensorBoard event files (when tensorboard is installed)
            checkpoints/last.pt, best.pt

A run whose status.json still says "running" when no process trains it was interrupted.
"""

from __future__ import annotations

import csv
import json
import math
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.naming import file_name
from studio.places import config_dir as places_config_dir
from studio.places import is_example
from studio.training.run_lock import RunLock

#: the run folders this process holds (the window's runs), by resolved path
_HELD: dict[Path, RunLock] = {}

RUNS_SUFFIX = ".runs"
MODEL_FILE = "model.studio.json"
BOARD_FOLDER = "tensorboard"  # studio.training.tensorboard.FOLDER
STATUS_VERSION = 1


def safe_name(name: str) -> str:
    return file_name(name)


def runs_root(project_path: str | os.PathLike | None, project_name: str,
              config_dir: str | os.PathLike | None = None) -> Path:
    """Where a project's runs live, for the window and the command line alike: `<stem>.runs`
    beside a saved project; an unsaved project's and a bundled example's (shared, read-only) in
    `<config dir>/runs/<name>` (``config_dir`` None: :func:`studio.places.config_dir`)."""
    if project_path is not None and not is_example(project_path):
        p = Path(project_path)
        stem = p.name.split(".")[0] or p.stem
        return p.with_name(stem + RUNS_SUFFIX)
    return places_config_dir(config_dir) / "runs" / safe_name(project_name)


@dataclass
class RunRecord:
    folder: Path
    settings: dict = field(default_factory=dict)
    status: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def state(self) -> str:
        return self.status.get("status", "running")

    @property
    def last_checkpoint(self) -> Path | None:
        p = self.folder / "checkpoints" / "last.pt"
        return p if p.exists() else None

    @property
    def model_file(self) -> Path | None:
        """The project as it was trained (older runs have none)."""
        p = self.folder / MODEL_FILE
        return p if p.exists() else None

    @property
    def weights(self) -> Path | None:
        p = self.folder / "weights.pt"
        return p if p.exists() else None

    @property
    def tensorboard_dir(self) -> Path | None:
        """The folder of the run's TensorBoard event files, when it wrote any."""
        p = self.folder / BOARD_FOLDER
        try:
            return p if any(f.name.startswith("events.out.tfevents") for f in p.iterdir()) else None
        except OSError:
            return None

    def summary(self) -> str:
        """One line for the run list: when, how far, how good."""
        s = self.status
        started = s.get("started")
        when = time.strftime("%b %d %H:%M", time.localtime(started)) if started else self.id
        epochs = s.get("epochs_done", 0)
        total = self.settings.get("epochs", "?")
        best = s.get("best_value")
        best_txt = f", {s.get('monitor', 'best')} {best:.4g}" if isinstance(best, float) and math.isfinite(best) else ""
        return f"{when}  {self.state}  {epochs}/{total} epochs{best_txt}"

    @property
    def epoch_steps(self) -> list[int]:
        """The step at which each finished epoch ended (as far as the status says)."""
        steps = self.status.get("epoch_steps", [])
        return [int(x) for x in steps if isinstance(x, (int, float))] if isinstance(steps, list) else []

    def kept_steps(self, epochs: int) -> np.ndarray:
        """The (step, loss) rows of the first `epochs` finished epochs: what a resumed run keeps
        (steps after its last checkpoint are trained again)."""
        ends = self.epoch_steps[:epochs]
        steps = self.steps()
        return steps[steps[:, 0] <= ends[-1]] if ends else steps[:0]

    def history(self) -> list[dict]:
        """Per-epoch metrics (floats) from metrics.csv; [] when there are none."""
        path = self.folder / "metrics.csv"
        if not path.exists():
            return []
        rows = []
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                rows.append({k: _float(v) for k, v in row.items()})
        return rows

    def steps(self) -> np.ndarray:
        """(n, 2) array of (step, loss); empty when not saved."""
        path = self.folder / "steps.npy"
        if not path.exists():
            return np.zeros((0, 2))
        try:
            a = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return np.zeros((0, 2))
        return a if a.ndim == 2 and a.shape[1] == 2 else np.zeros((0, 2))


def _float(v: str) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


class RunStore:
    """The runs of one project, in `root` (created on the first run)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def create(self, settings: dict, project_name: str = "", note: str = "",
               model_json: str | None = None, who: str = "Studio's window") -> RunRecord:
        """A new run folder. `model_json` (the project file text) keeps the graph that trains, so the
        run's weights can be tried later even after the model was edited."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = self.root / f"{stamp}-{secrets.token_hex(2)}"
        folder.mkdir(parents=True, exist_ok=False)
        rec = RunRecord(folder, dict(settings), {})
        self.claim(rec, who)
        _write_json(folder / "settings.json", rec.settings)
        if model_json is not None:
            tmp = folder / (MODEL_FILE + ".tmp")
            tmp.write_text(model_json, encoding="utf-8")
            os.replace(tmp, folder / MODEL_FILE)
        self.update(rec, status="running", project=project_name, note=note, started=time.time(),
                    epochs_done=0, pid=os.getpid())
        return rec

    def claim(self, rec: RunRecord, who: str = "Studio's window") -> None:
        """Lock ``rec``'s folder for this process until :meth:`finish` (a resumed run claims
        it again); :class:`~studio.training.run_lock.RunFolderBusy` names the holder when a
        ``studio train --out`` (or another window) writes into it now."""
        key = rec.folder.resolve()
        if key not in _HELD:
            _HELD[key] = RunLock.acquire(rec.folder, who)

    def release(self, rec: RunRecord) -> None:
        lock = _HELD.pop(rec.folder.resolve(), None)
        if lock is not None:
            lock.release()

    def update(self, rec: RunRecord, **fields) -> None:
        """Merge `fields` into status.json (atomically)."""
        rec.status.update(fields)
        rec.status["version"] = STATUS_VERSION
        _write_json(rec.folder / "status.json", rec.status)

    def finish(self, rec: RunRecord, status: str, message: str = "", failure_kind: str | None = None,
               history: list[dict] | None = None, best_epoch=None, best_value=None, monitor: str = "") -> None:
        clean = best_value if isinstance(best_value, (int, float)) and math.isfinite(best_value) else None
        self.update(rec, status=status, message=message, failure=failure_kind, ended=time.time(),
                    epochs_done=len(history or []), best_epoch=best_epoch, best_value=clean, monitor=monitor)
        self.release(rec)

    def finish_run(self, rec: RunRecord, result, log, status: str | None = None,
                   message: str | None = None, kept_epochs: int = 0) -> None:
        """A run trained without the window (``studio train``, a sweep's trial) ends:
        ``result`` (a RunResult) into status.json and ``log`` (a
        :class:`~studio.training.callbacks.StepLog`) into its curve, after the first
        ``kept_epochs`` epochs' steps and epoch ends already kept (a resumed run's)."""
        failure = result.failure
        if message is None:
            message = failure.message if failure else result.message
        self.finish(rec, status or result.status, message, failure.kind if failure else None,
                    result.history, result.best_epoch, result.best_value, result.monitor)
        ends = [*rec.epoch_steps[:kept_epochs], *log.epoch_steps]
        self.update(rec, epoch_steps=ends[: len(result.history)])
        if log.steps:
            kept = rec.kept_steps(kept_epochs) if kept_epochs else np.zeros((0, 2))
            steps = np.concatenate([kept[:, 0], log.steps])
            self.save_steps(rec, steps, np.concatenate([kept[:, 1], log.losses]))

    def save_steps(self, rec: RunRecord, steps: np.ndarray, losses: np.ndarray) -> None:
        a = np.stack([np.asarray(steps, dtype=np.float64), np.asarray(losses, dtype=np.float64)], axis=1)
        tmp = rec.folder / "steps.tmp.npy"
        np.save(tmp, a, allow_pickle=False)
        os.replace(tmp, rec.folder / "steps.npy")

    def runs(self) -> list[RunRecord]:
        """All runs, oldest first; unreadable folders are skipped."""
        if not self.root.is_dir():
            return []
        out = []
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            rec = self.load(folder)
            if rec is not None:
                out.append(rec)
        # by start time: two runs started within one second have the same stamp in their name
        return sorted(out, key=lambda r: (_number(r.status.get("started")), r.id))

    def find(self, run_id: str) -> RunRecord | None:
        return self.load(self.root / run_id) if run_id else None

    def adopt(self, old_root: str | os.PathLike) -> list[str]:
        """Move the runs this process kept in `old_root` (an unsaved project's) into this store;
        another session's runs of a project with the same name stay. Returns one message per run
        that could not move."""
        import shutil

        old_root, problems = Path(old_root), []
        if old_root == self.root or not old_root.is_dir():
            return problems
        for rec in RunStore(old_root).runs():
            if rec.status.get("pid") != os.getpid() or (self.root / rec.id).exists():
                continue
            self.root.mkdir(parents=True, exist_ok=True)
            try:
                shutil.move(str(rec.folder), str(self.root / rec.id))
            except OSError as e:
                problems.append(f"Run {rec.id} stays in {old_root}: {e}")
        try:
            old_root.rmdir()  # only if empty
        except OSError:
            pass
        return problems

    @staticmethod
    def load(folder: str | os.PathLike) -> RunRecord | None:
        folder = Path(folder)
        try:
            settings = json.loads((folder / "settings.json").read_text(encoding="utf-8"))
            status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(settings, dict) or not isinstance(status, dict):
            return None
        rec = RunRecord(folder, settings, status)
        if rec.state == "running" and not _alive(status.get("pid")):
            rec.status["status"] = "interrupted"
        return rec


def _number(v) -> float:
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else 0.0


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except (OSError, ValueError):
        return False
    return True


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str), encoding="utf-8")
    os.replace(tmp, path)
