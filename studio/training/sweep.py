"""Hyper-parameter sweeps on Optuna: each trial is an ordinary run in the project's run history.

Why Optuna rather than our own loop: its TPE sampler, median pruner and storages (a journal file
for one machine, an RDB such as PostgreSQL for many) already solve the hard parts: several
worker processes asking one storage for the next trial never get the same one, and a study
lives on after a crash. Studio adds what Optuna does not know: the search ranges in the project
file (`studio.graph.search`), a run folder per trial, and applying the best trial back.

Storage: by default a journal file beside the runs (``<stem>.runs/sweep.journal``); Optuna
appends each change under a file lock, so a worker killed with ``kill -9`` loses at most the
trial it was training. That trial stays "running" in the storage; the next worker that opens the
study on the same machine finds its process gone, marks it failed and queues its parameters
again, so no trial is lost (`_requeue_orphans`). On an RDB, Optuna's heartbeat does the same
across machines. Optuna is an optional extra (``studio-pytorch[sweep]``).
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.graph.search import Search, SearchRange
from studio.training.callbacks import BaseCallback, CSVLogger, EpochReport, StepLog
from studio.training.processes import process_alive
from studio.training.runs import RunStore, safe_name

INSTALL = 'pip install "studio-pytorch[sweep]"'
HINT = f"Sweeps need Optuna, which is not installed: {INSTALL}"
JOURNAL = "sweep.journal"
HEARTBEAT_S = 30  # RDB storages: a worker silent for GRACE_S is dead and its trial is retried
GRACE_S = 120


class SweepError(Exception):
    """The sweep cannot start or continue; the message is one line for the user."""


def optuna_module():
    """Optuna, or SweepError with the install hint."""
    try:
        import optuna
    except ImportError:
        raise SweepError(HINT) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def default_storage(runs_root: str | os.PathLike) -> str:
    return str(Path(runs_root) / JOURNAL)


def open_storage(url: str):
    """An Optuna storage: a URL (``sqlite:///x.db``, ``postgresql://...``) is an RDB storage with a
    heartbeat; anything else is a journal file path."""
    optuna = optuna_module()
    if "://" in url:
        return _rdb_storage(optuna, url)
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    path = Path(url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return optuna.storages.JournalStorage(backend)
    except OSError as e:
        raise SweepError(f"Cannot open the sweep file {path}: {e.strerror or e}") from None


def _rdb_storage(optuna, url: str):
    """An RDB storage whose workers send a heartbeat; a trial whose worker went silent is failed
    and tried again. Workers that start together race to create the tables: a few retries."""
    import inspect
    import warnings

    from optuna.storages import RetryFailedTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retry = RetryFailedTrialCallback(max_retry=3)
    params = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    stale = (
        "heartbeat_stale_trial_callback"
        if "heartbeat_stale_trial_callback" in params
        else "failed_trial_callback"
    )
    last: Exception | None = None
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "experimental" notes on every start
                return optuna.storages.RDBStorage(
                    url, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S, **{stale: retry}
                )
        except ImportError as e:
            raise SweepError(f"The storage {url} needs a package that is missing: {e}") from None
        except Exception as e:  # sqlalchemy's errors: a bad URL, a server that does not answer
            last = e  # "already exists", "UNIQUE constraint", "locked": another worker's creation
            if type(e).__name__ not in ("IntegrityError", "OperationalError"):
                break
            time.sleep(0.5 + attempt)
    first = str(last).splitlines()[0] if last else ""
    raise SweepError(f"Cannot open the storage {url}: {type(last).__name__}: {first}")


def default_study_name(project) -> str:
    return safe_name(project.name)


@dataclass
class TrialOutcome:
    number: int
    state: str  # complete | pruned | failed
    values: dict[str, Any]
    value: float | None
    run_id: str
    message: str = ""


@dataclass
class Sweep:
    """One worker of a study: ``run(trials)`` adds that many trials to it."""

    project: Any  # studio.graph.project.Project (saved: its runs live beside it)
    search: Search
    store: RunStore
    storage: str
    study_name: str
    seed: int = 0
    base_dir: Path | None = None
    on_trial: Callable[[TrialOutcome, Any], None] | None = None  # (outcome, study)
    stream: Any = field(default=sys.stderr)
    _stop: bool = False

    def __post_init__(self) -> None:
        from studio.training.search_targets import problems
        from studio.training.settings import TrainingSettings

        if not self.search:
            raise SweepError(
                "There is nothing to search: add a range to a block parameter or a "
                "training setting (or give --search TARGET=LOW..HIGH)."
            )
        errs = problems(self.search, self.project.graph)
        if errs:
            raise SweepError(" ".join(errs))
        self.optuna = optuna_module()
        self.settings = TrainingSettings.from_dict(self.project.training)
        self.monitor = self.settings.resolved_monitor()
        direction = "maximize" if self.settings.monitor_mode() == "max" else "minimize"
        storage = open_storage(self.storage)
        try:
            existing = self.optuna.load_study(study_name=self.study_name, storage=storage)
        except KeyError:
            existing = None
        if existing is not None and existing.direction.name.lower() != direction:
            raise SweepError(
                f"The study {self.study_name!r} {existing.direction.name.lower()}s, but "
                f"{self.monitor} should be {direction}d; name another study with --study."
            )
        count = len(existing.trials) if existing is not None else 0
        sampler = self.optuna.samplers.TPESampler(
            seed=self.seed + count
        )  # another worker: other draws
        # early epochs are noisy: no trial is pruned before a quarter of its epochs
        warmup = max(1, int(self.settings.epochs) // 4)
        pruner = self.optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
        self.study = self.optuna.create_study(
            study_name=self.study_name,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            direction=direction,
            load_if_exists=True,
        )
        self.study.set_user_attr("monitor", self.monitor)
        _requeue_orphans(self.study, self.optuna)

    def stop(self) -> None:
        """Stop after the current trial's current batch (thread-safe)."""
        self._stop = True
        trainer = getattr(self, "_trainer", None)
        if trainer is not None:
            trainer.stop()

    def run(self, trials: int | None, timeout: float | None = None) -> None:
        def after_trial(study, frozen):  # the trial is stored: "best so far" includes it
            outcome = self._outcomes.pop(frozen.number, None)
            if outcome is not None and self.on_trial is not None:
                self.on_trial(outcome, study)
            if self._stop:
                study.stop()

        self._outcomes: dict[int, TrialOutcome] = {}
        self.study.optimize(
            self._objective,
            n_trials=trials,
            timeout=timeout,
            callbacks=[after_trial],
            gc_after_trial=True,
        )

    # one trial ------------------------------------------------------------------------------
    def _objective(self, trial) -> float:
        from studio.graph.project import dumps
        from studio.training.prepare import PrepareError, prepare_run
        from studio.training.search_targets import apply
        from studio.training.settings import TrainingSettings
        from studio.training.trainer import Trainer

        values = {r.key: suggest(trial, r) for r in self.search.ranges}
        trial.set_user_attr("host", socket.gethostname())
        trial.set_user_attr("pid", os.getpid())
        project = apply(self.project, values)
        settings = TrainingSettings.from_dict(project.training)
        labels = {r.label(self.project.graph): values[r.key] for r in self.search.ranges}
        rec = self.store.create(
            settings.to_dict(),
            self.project.name,
            note=f"sweep {self.study_name} trial {trial.number}",
            model_json=dumps(project),
        )
        self.store.update(rec, sweep=self.study_name, trial=trial.number, params=labels)
        trial.set_user_attr("run", rec.id)
        outcome = TrialOutcome(trial.number, "failed", labels, None, rec.id)
        try:
            try:
                prepared = prepare_run(project, settings, base_dir=self.base_dir)
            except PrepareError as e:
                self.store.finish(rec, "failed", str(e), e.kind)
                outcome.message = str(e)
                return math.nan  # Optuna records a failed trial and goes on
            pruning = _Pruning(trial, self.monitor)
            steps = StepLog()
            trainer = Trainer(
                prepared.model,
                prepared.data,
                settings,
                [CSVLogger(rec.folder / "metrics.csv"), pruning, steps],
                out_dir=rec.folder,
                expected_input_shape=prepared.expected_shape,
            )
            pruning.trainer = self._trainer = trainer
            if self._stop:
                trainer.stop()
            result = trainer.fit()
            self._trainer = None
            status = "pruned" if pruning.pruned else result.status
            message = result.failure.message if result.failure else result.message
            if pruning.pruned:
                message = f"Pruned after epoch {len(result.history)}: {self.monitor} worse than the median of earlier trials."
            self.store.finish_run(rec, result, steps, status, message)
            outcome.message = message
            if pruning.pruned:
                outcome.state = "pruned"
                raise self.optuna.TrialPruned(message)
            if result.status == "failed" or result.best_value is None:
                return math.nan
            if result.status == "stopped" and self._stop:
                return math.nan  # stopped by the user: not a fair value
            outcome.state, outcome.value = "complete", float(result.best_value)
            return outcome.value
        finally:
            self._outcomes[trial.number] = outcome


def suggest(trial, r: SearchRange) -> Any:
    """One value for range ``r`` from an Optuna trial (the parameter is named by ``r.key``)."""
    if r.choices:
        return trial.suggest_categorical(r.key, list(r.choices))
    if r.is_int:
        return trial.suggest_int(r.key, int(r.low), int(r.high), step=int(r.step or 1), log=r.log)
    return trial.suggest_float(r.key, float(r.low), float(r.high), step=r.step, log=r.log)


class _Pruning(BaseCallback):
    """Reports the monitored metric per epoch; asks the trainer to stop when Optuna prunes."""

    def __init__(self, trial, monitor: str):
        self.trial, self.monitor = trial, monitor
        self.trainer = None
        self.pruned = False

    def on_epoch_end(self, r: EpochReport) -> None:
        value = r.metrics.get(self.monitor)
        if value is None or not math.isfinite(value):
            return
        self.trial.report(float(value), r.epoch)
        if r.epoch < r.epochs and self.trial.should_prune():
            self.pruned = True
            self.trainer.stop()


def _requeue_orphans(study, optuna) -> None:
    """Trials left "running" by a worker of this machine that no longer exists (killed, crashed)
    are marked failed and their parameters queued again, so a resumed sweep loses none. Marking
    is atomic in the storage: of two workers starting together only one re-queues a trial."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid = t.user_attrs.get("pid")
        if t.user_attrs.get("host") != host or not isinstance(pid, int) or process_alive(pid):
            continue
        try:
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except Exception:  # finished meanwhile, or another worker marked it first
            continue
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number}, skip_if_exists=False)


# ----------------------------------------------------------------------------------- reading
def load_study(storage: str, study_name: str):
    """An existing study; SweepError when there is none (a missing journal file is not created)."""
    optuna = optuna_module()
    missing = SweepError(f"No sweep {study_name!r} has run yet for this project (its trials would be kept in "
                         f"{storage}); Train > Sweep… or studio sweep starts one.")
    if "://" not in storage and not Path(storage).exists():
        raise missing
    try:
        return optuna.load_study(study_name=study_name, storage=open_storage(storage))
    except KeyError:
        raise missing from None


def best_values(study, search: Search) -> dict[str, Any]:
    """The best complete trial's values, keyed like the ranges (`SearchRange.key`)."""
    from optuna.trial import TrialState

    if not any(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False)):
        raise SweepError(f"The study {study.study_name!r} has no finished trial yet.")
    best = study.best_trial
    return {k: v for k, v in best.params.items()}


def summary_line(outcome: TrialOutcome, study, monitor: str) -> str:
    values = " ".join(f"{k}={_fmt(v)}" for k, v in outcome.values.items())
    if outcome.state == "complete":
        text = f"trial {outcome.number}: {values} -> best {monitor} {outcome.value:.4g}"
    elif outcome.state == "pruned":
        text = f"trial {outcome.number}: {values} -> pruned"
    else:
        text = f"trial {outcome.number}: {values} -> failed: {outcome.message}"
    try:
        best = study.best_trial
        text += f"  (best so far: trial {best.number}, {best.value:.4g})"
    except ValueError:
        pass
    return text


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def elapsed(start: float) -> str:
    s = int(time.time() - start)
    return f"{s // 60}:{s % 60:02d}"
