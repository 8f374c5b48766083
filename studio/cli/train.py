"""`studio train PROJECT`: train a project's model in the terminal.

By default the run is a new run of the project, in the folder the window keeps its runs in
(`<stem>.runs/<YYYYmmdd-HHMMSS-xxxx>/` beside the project, :func:`studio.training.runs.runs_root`):
the window's Runs tab, `studio runs` and `studio export --run latest` find it. Besides what the
window's runs hold it writes metrics.csv (one row per epoch), weights.pt (state_dict),
checkpoints/ and (with the tensorboard package) TensorBoard event files in tensorboard/.
`--out DIR` writes those files into DIR instead, as a plain folder no run list shows.
Exit status: 0 done (or stopped early), 1 training failed, 2 bad project/settings/data, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# torch is imported only after the arguments and files were checked: ``studio train --help`` and a
# missing file answer at once (importing torch takes seconds, 20 s on a loaded machine)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project file to train")
    parser.add_argument(
        "--epochs", type=int, metavar="N", help="number of epochs (overrides the project)"
    )
    parser.add_argument(
        "--device", metavar="D", help="auto, cpu, cuda, cuda:N or mps (overrides the project)"
    )
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (overrides the project)")
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="write the run's files into DIR (default: a new run in the project's "
        "runs folder, <stem>.runs/ beside it, where the window and `studio runs` find it)",
    )
    parser.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue from a checkpoint file (e.g. "
        "<stem>.runs/RUN/checkpoints/last.pt: that run goes on)",
    )
    from studio.cli import add_trust_option

    add_trust_option(parser)


def _error(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)


def _note(message: str) -> None:
    print(f"note: {message}", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from studio.graph.project import ProjectError, load_project
    from studio.training.settings import TrainingSettings

    try:
        project = load_project(args.project)
    except ProjectError as e:
        _error(str(e))
        return 2
    from studio.training.kinds import pin_data

    # what reads the data alike later (a vocabulary), as the window's runs keep it
    settings = TrainingSettings.from_dict(
        pin_data(project.training, Path(args.project).resolve().parent)
    )
    for name in ("epochs", "device", "seed"):
        if getattr(args, name, None) is not None:
            setattr(settings, name, getattr(args, name))
    errors = settings.validate()
    if errors:
        _error(" ".join(errors))
        return 2
    problem = _resume_problem(args.resume)
    if problem:
        _error(problem)
        return 2
    from studio.training.run_lock import RunFolderBusy, RunLock

    if args.out is None:
        return _train_as_run(args, project, settings)
    out = Path(args.out)
    try:  # the folder is checked (and owned) before any data is read or epoch trained
        lock = RunLock.acquire(out, f"studio train {args.project}")
    except RunFolderBusy as e:
        _error(str(e))
        return 2
    with lock:
        return _train(args, project, settings, out)


def _train_as_run(args: argparse.Namespace, project, settings) -> int:
    """A run of the project in its runs folder, recorded as the window records one; a
    --resume checkpoint of one of those runs continues that run."""
    from studio.graph.project import dumps
    from studio.training.callbacks import StepLog
    from studio.training.run_lock import RunFolderBusy
    from studio.training.runs import RunStore, runs_root

    path = Path(args.project)
    store = RunStore(runs_root(path, project.name))
    who = f"studio train {args.project}"
    rec = _resumed_run(store, args.resume)
    try:
        if rec is None:
            rec = store.create(
                settings.to_dict(),
                project.name,
                note="studio train",
                model_json=dumps(project),
                who=who,
            )
        else:
            store.claim(rec, who)
            store.update(rec, status="running", settings_epochs=settings.epochs, pid=os.getpid())
    except RunFolderBusy as e:
        _error(str(e))
        return 2
    except OSError as e:
        why = e.strerror or str(e)
        _error(
            f"cannot write the run into {store.root} ({why}); give another folder with --out DIR"
        )
        return 2
    log = StepLog()
    # an exception that escapes leaves status.json "running" with this pid: read as interrupted
    code, result = _fit(args, project, settings, rec.folder, [log])
    store.finish_run(rec, result, log, kept_epochs=len(result.history) - len(log.epoch_steps))
    print(
        f"The run is {rec.folder} (the window's Runs tab and `studio runs {args.project}` list it)",
        file=sys.stderr,
    )
    return code


def _resumed_run(store, resume: str | None):
    """The run of ``store`` whose checkpoint ``resume`` is (None for a new run)."""
    if resume is None:
        return None
    folder = Path(resume).resolve().parent.parent
    if folder.parent != store.root.resolve():
        return None
    return store.load(store.root / folder.name)


def _resume_problem(resume: str | None) -> str | None:
    """A --resume that is not a readable regular file (a FIFO would block): one line."""
    if resume is None:
        return None
    from studio.graph.files import UnsafeFile, check_readable, memory_budget

    try:
        check_readable(resume, memory_budget(), "the checkpoint")
    except FileNotFoundError:
        return f"{resume}: no such checkpoint"
    except UnsafeFile as e:
        return str(e)
    return None


def _train(args: argparse.Namespace, project, settings, out: Path) -> int:
    return _fit(args, project, settings, out, [])[0]


def _fit(args: argparse.Namespace, project, settings, out: Path, extra: list) -> tuple[int, object]:
    """Train into ``out``: (exit status, the RunResult; failed when it could not start)."""
    from studio.hub.weights import terminal_progress
    from studio.training.prepare import PrepareError, prepare_run

    try:  # data, pretrained weights (cache or download with terminal progress), seed, model
        model, data, expected = prepare_run(
            project,
            settings,
            base_dir=Path(args.project).resolve().parent,
            progress=terminal_progress(),
        )
    except PrepareError as e:
        from studio.training.callbacks import Failure, RunResult

        _error(str(e))
        return 2, RunResult("failed", message=str(e), failure=Failure(e.kind, str(e)))

    from studio.training.callbacks import CSVLogger, ProgressBar
    from studio.training.tensorboard import tensorboard_callbacks
    from studio.training.trainer import Trainer

    trainer = Trainer(
        model,
        data,
        settings,
        [
            ProgressBar(),
            CSVLogger(out / "metrics.csv"),
            *tensorboard_callbacks(out, model, data, note=_note),
            *extra,
        ],
        out_dir=out,
        expected_input_shape=expected,
    )

    from studio.cli.interrupt import stop_on_ctrl_c

    # first Ctrl-C: stop after this batch and save; second: abort
    with stop_on_ctrl_c(trainer.stop) as interrupted:
        result = trainer.fit(resume_from=args.resume)

    if result.status == "failed":
        print(file=sys.stderr)
        _error(result.failure.message if result.failure else result.message)
        return (
            2
            if result.failure and result.failure.kind in ("settings", "check", "checkpoint")
            else 1
        ), result
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    saved = f"weights in {result.weights_path}, " if result.weights_path else ""
    print(f"Saved {saved}metrics in {out / 'metrics.csv'}", file=sys.stderr)
    return (130 if interrupted else 0), result
