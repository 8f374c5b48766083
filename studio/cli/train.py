"""`studio train PROJECT`: train a project's model in the terminal.

Writes metrics.csv (one row per epoch), weights.pt (state_dict), checkpoints/ and (with the
tensorboard package) TensorBoard event files in tensorboard/ into --out.
Exit status: 0 done (or stopped early), 1 training failed, 2 bad project/settings/data, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.naming import file_name

# torch is imported only after the arguments and files were checked: ``studio train --help`` and a
# missing file answer at once (importing torch takes seconds, 20 s on a loaded machine)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project file to train")
    parser.add_argument("--epochs", type=int, metavar="N", help="number of epochs (overrides the project)")
    parser.add_argument("--device", metavar="D", help="auto, cpu, cuda, cuda:N or mps (overrides the project)")
    parser.add_argument("--seed", type=int, metavar="S", help="random seed (overrides the project)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: runs/<project name>)")
    parser.add_argument("--resume", metavar="CHECKPOINT", help="continue from a checkpoint file (e.g. DIR/checkpoints/last.pt)")
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
    settings = TrainingSettings.from_dict(project.training)
    for name in ("epochs", "device", "seed"):
        if getattr(args, name, None) is not None:
            setattr(settings, name, getattr(args, name))
    errors = settings.validate()
    if errors:
        _error(" ".join(errors))
        return 2
    safe = file_name(project.name or Path(args.project).stem)
    out = Path(args.out) if args.out else Path("runs") / safe
    problem = _resume_problem(args.resume)
    if problem:
        _error(problem)
        return 2
    from studio.training.run_lock import RunFolderBusy, RunLock

    try:  # the folder is checked (and owned) before any data is read or epoch trained
        lock = RunLock.acquire(out, f"studio train {args.project}")
    except RunFolderBusy as e:
        _error(str(e))
        return 2
    with lock:
        return _train(args, project, settings, out)


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
    from studio.hub.weights import terminal_progress
    from studio.training.prepare import PrepareError, prepare_run

    try:  # data, pretrained weights (cache or download with terminal progress), seed, model
        model, data, expected = prepare_run(
            project, settings, base_dir=Path(args.project).resolve().parent, progress=terminal_progress()
        )
    except PrepareError as e:
        _error(str(e))
        return 2

    from studio.training.callbacks import CSVLogger, ProgressBar
    from studio.training.tensorboard import tensorboard_callbacks
    from studio.training.trainer import Trainer

    trainer = Trainer(
        model, data, settings,
        [ProgressBar(), CSVLogger(out / "metrics.csv"), *tensorboard_callbacks(out, model, data, note=_note)],
        out_dir=out, expected_input_shape=expected,
    )

    from studio.cli.interrupt import stop_on_ctrl_c

    # first Ctrl-C: stop after this batch and save; second: abort
    with stop_on_ctrl_c(trainer.stop) as interrupted:
        result = trainer.fit(resume_from=args.resume)

    if result.status == "failed":
        print(file=sys.stderr)
        _error(result.failure.message if result.failure else result.message)
        return 2 if result.failure and result.failure.kind in ("settings", "check", "checkpoint") else 1
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    saved = f"weights in {result.weights_path}, " if result.weights_path else ""
    print(f"Saved {saved}metrics in {out / 'metrics.csv'}", file=sys.stderr)
    return 130 if interrupted else 0
