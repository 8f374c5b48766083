"""What the trainer reports, the callback protocol, and the callbacks every front end shares.

A progress bar, the CSV log and the GUI's live plots are all callbacks; the trainer knows none of them.
Step reports arrive at reading points (every `report_seconds`, or `report_every` steps if sooner),
carrying every step's values since the previous report.
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TextIO


@dataclass
class RunInfo:
    epochs: int
    start_epoch: int  # epochs already done (resume), 0 for a fresh run
    steps_per_epoch: int
    train_samples: int
    val_samples: int
    device: str
    task: str
    metric_name: str  # 'accuracy' | 'mae'
    monitor: str
    description: str
    notes: list[str] = field(default_factory=list)  # things the user should know, e.g. AMP turned off


@dataclass(slots=True)
class StepReport:
    epoch: int  # 1-based
    batch: int  # batches done in this epoch
    batches: int  # batches per epoch
    step: int  # global optimizer steps done
    losses: list[float]  # one per step since the previous report
    metrics: list[float]  # accuracy or MAE, one per step since the previous report
    loss: float  # mean over those steps
    metric: float
    lr: float
    samples_per_s: float
    eta_s: float

    @property
    def first_step(self) -> int:
        return self.step - len(self.losses) + 1


@dataclass
class EpochReport:
    epoch: int  # 1-based
    epochs: int
    metrics: dict[str, float]  # epoch, train_loss, train_<metric>, val_..., lr, samples_per_s, seconds
    improved: bool  # monitored metric is the best so far
    monitor: str
    eta_s: float


@dataclass
class Failure:
    kind: str  # settings | check | nan | oom | model | data | checkpoint | error
    message: str  # one line, for the user
    epoch: int | None = None
    step: int | None = None
    location: tuple[str, int, str] | None = None  # (file, line, text) in the generated model source
    details: str = ""  # full traceback, for a "details" view


@dataclass
class RunResult:
    status: str  # completed | stopped | early_stopped | failed
    history: list[dict] = field(default_factory=list)
    message: str = ""
    failure: Failure | None = None
    best_epoch: int | None = None
    best_value: float | None = None
    monitor: str = ""
    weights_path: Path | None = None
    checkpoint_dir: Path | None = None
    #: sentences about a run that ended but may not be usable (worse than predicting the mean)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status != "failed"


class Callback(Protocol):
    def on_run_start(self, info: RunInfo) -> None: ...
    def on_step_end(self, report: StepReport) -> None: ...
    def on_epoch_end(self, report: EpochReport) -> None: ...
    def on_checkpoint(self, path: Path, kind: str, epoch: int) -> None: ...
    def on_run_end(self, result: RunResult) -> None: ...
    def on_failure(self, failure: Failure) -> None: ...


class BaseCallback:
    """No-op implementations; subclass and override what you need."""

    def on_run_start(self, info: RunInfo) -> None:
        pass

    def on_step_end(self, report: StepReport) -> None:
        pass

    def on_epoch_end(self, report: EpochReport) -> None:
        pass

    def on_checkpoint(self, path: Path, kind: str, epoch: int) -> None:
        pass

    def on_run_end(self, result: RunResult) -> None:
        pass

    def on_failure(self, failure: Failure) -> None:
        pass


class MetricsBuffer(BaseCallback):
    """Collects every step's loss/metric and every epoch's metrics (what the GUI plots read)."""

    def __init__(self):
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.metrics: list[float] = []
        self.lrs: list[float] = []
        self.epochs: list[dict] = []

    def on_step_end(self, r: StepReport) -> None:
        self.steps.extend(range(r.first_step, r.step + 1))
        self.losses.extend(r.losses)
        self.metrics.extend(r.metrics)
        self.lrs.append(r.lr)

    def on_epoch_end(self, r: EpochReport) -> None:
        self.epochs.append(r.metrics)


class StepLog(BaseCallback):
    """Every step's loss and the step each epoch ended at: what a run folder keeps for the Runs
    tab's curves (steps.npy, status.json's epoch_steps), for a run the window did not watch."""

    def __init__(self):
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.epoch_steps: list[int] = []
        self._step = 0

    def on_step_end(self, r: StepReport) -> None:
        self.steps.extend(range(r.first_step, r.step + 1))
        self.losses.extend(r.losses)
        self._step = r.step

    def on_epoch_end(self, r: EpochReport) -> None:
        self.epoch_steps.append(self._step)


class CSVLogger(BaseCallback):
    """metrics.csv: a header and one row per epoch, flushed as each epoch ends."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file: TextIO | None = None
        self._writer = None

    def on_epoch_end(self, r: EpochReport) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=list(r.metrics))
            self._writer.writeheader()
        self._writer.writerow(r.metrics)
        self._file.flush()

    def on_run_start(self, info: RunInfo) -> None:
        self.close()

    def on_run_end(self, result: RunResult) -> None:
        """Rewrite the file from the full history (includes epochs done before a resume)."""
        self.close()
        if result.history:
            write_metrics_csv(self.path, result.history)

    def close(self) -> None:
        if self._file:
            self._file.close()
        self._file = self._writer = None


def write_metrics_csv(path: str | Path, history: list[dict]) -> None:
    from studio.training.runtime.loop import write_metrics  # train.py writes with the same function

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_metrics(path, history)


def format_eta(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ProgressBar(BaseCallback):
    """A one-line terminal progress bar (stderr), redrawn at most every `interval` seconds.

    Only on a terminal: into a pipe or a file (CI, ``> log``) it writes one plain line per epoch,
    so the log reads without carriage returns. An epoch whose monitored value is the best so far
    ends in ``* best val_loss so far`` (the metric it monitors): checkpoints/best.pt holds it.
    """

    def __init__(self, stream: TextIO | None = None, width: int = 24, interval: float = 0.1):
        self.stream = stream or sys.stderr
        self.width, self.interval = width, interval
        self._last = 0.0
        self._drawn = 0  # length of the bar line on screen
        self._live = getattr(self.stream, "isatty", lambda: False)()
        self.info: RunInfo | None = None

    def _short(self) -> str:
        return "acc" if self.info and self.info.metric_name == "accuracy" else "mae"

    def on_run_start(self, info: RunInfo) -> None:
        self.info = info
        self.stream.write(
            f"Training on {info.device}: {info.description}, {info.train_samples} samples"
            f"{f', {info.val_samples} for validation' if info.val_samples else ''}\n"
        )
        for note in info.notes:
            self.stream.write(f"note: {note}\n")

    def on_step_end(self, r: StepReport) -> None:
        if not self._live:  # a log file or CI: epoch lines only
            return
        now = time.monotonic()
        if now - self._last < self.interval and r.batch < r.batches:
            return
        self._last = now
        done = int(self.width * r.batch / max(1, r.batches))
        bar = "#" * done + "." * (self.width - done)
        line = (
            f"epoch {r.epoch}/{self.info.epochs if self.info else '?'} [{bar}] {r.batch}/{r.batches} "
            f"loss {r.loss:.4f} {self._short()} {r.metric:.4f} {r.samples_per_s:,.0f} samples/s "
            f"ETA {format_eta(r.eta_s)}"
        )
        self.stream.write("\r" + line.ljust(self._drawn))
        self._drawn = len(line)
        self.stream.flush()

    def on_epoch_end(self, r: EpochReport) -> None:
        m = r.metrics
        parts = [f"epoch {r.epoch}/{r.epochs}", f"loss {m['train_loss']:.4f}"]
        name = self.info.metric_name if self.info else "accuracy"
        parts.append(f"{self._short()} {m[f'train_{name}']:.4f}")
        if "val_loss" in m:
            parts += [f"val_loss {m['val_loss']:.4f}", f"val_{self._short()} {m[f'val_{name}']:.4f}"]
        side = "val" if "val_perplexity" in m else "train"
        if f"{side}_perplexity" in m:  # text: exp of the mean token loss
            parts.append(f"{side}_perplexity {m[f'{side}_perplexity']:.2f}")
        parts.append(f"{m['seconds']:.1f}s")
        line = "  ".join(parts) + (f"  * best {r.monitor} so far" if r.improved else "")
        # over a bar on a terminal: return to the start of its line and cover it; into a pipe
        # or a file no bar was drawn, so plain lines with no carriage returns
        self.stream.write(("\r" + line.ljust(self._drawn) if self._live else line) + "\n")
        self._drawn = 0
        self.stream.flush()

    def on_run_end(self, result: RunResult) -> None:
        if result.message and result.status != "failed":
            self.stream.write(result.message + "\n")
