"""``studio profile PROJECT [--batch B] [--device D]``: time of each block in a training step.

A few real steps on the device (see :mod:`studio.training.profile`); the table lists each
block's forward and backward time per step and its share of the step, then what no block
owns (the loss, the optimizer step, the rest) and the time to load one batch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.cli import CliError, add_trust_option, load, print_table


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", metavar="PROJECT", help="project file (.studio.json)")
    parser.add_argument(
        "--batch", type=int, metavar="B", help="batch size (default: the project's)"
    )
    parser.add_argument(
        "--device", metavar="D", help="cpu, cuda, cuda:N or mps (default: the project's)"
    )
    parser.add_argument(
        "--steps", type=int, default=5, metavar="N", help="measured steps (default 5)"
    )
    parser.add_argument(
        "--inner", action="store_true", help="also list the blocks inside module definitions"
    )
    parser.add_argument("--json", action="store_true", help="print the profile as JSON")
    add_trust_option(parser)


def main(args: argparse.Namespace) -> int:
    from studio.training.profile import ProfileError, profile_run
    from studio.training.settings import TrainingSettings

    if args.batch is not None and args.batch < 1:
        raise CliError("--batch must be 1 or more", 2)
    if args.steps < 1:
        raise CliError("--steps must be 1 or more", 2)
    project = load(args.project)
    settings = TrainingSettings.from_dict(project.training)
    try:
        prof = profile_run(
            project,
            settings,
            batch=args.batch,
            device=args.device,
            steps=args.steps,
            base_dir=Path(args.project).resolve().parent,
        )
    except ProfileError as e:
        raise CliError(str(e)) from None
    if args.json:
        json.dump(prof.as_dict(), sys.stdout, indent=1)
        print()
        return 0
    print_profile(prof, inner=args.inner)
    return 0


def print_profile(prof, inner: bool = False) -> None:
    ms = lambda s: f"{s * 1e3:.2f}"  # noqa: E731
    rows = [("block", "forward ms", "backward ms", "total ms", "share")]
    listed = (
        sorted(prof.blocks + (prof.inner if inner else []), key=lambda b: b.path)
        if inner
        else prof.blocks
    )
    for b in listed:
        rows.append(
            (b.name, ms(b.forward), ms(b.backward), ms(b.total), f"{b.total / prof.step:.1%}")
        )
    steps = f"{prof.steps} training steps" if prof.steps > 1 else "one training step"
    print(f"Profile of {steps} at batch {prof.batch} on {prof.device} (the step of median time):")
    print_table(rows)
    print()
    top = ", ".join(f"{b.name} {b.total / prof.step:.0%}" for b in prof.top(5))
    print(f"Top blocks:  {top}")
    print(f"Blocks:      {ms(prof.attributed)} ms ({prof.attributed / prof.step:.1%} of the step)")
    print(f"Loss:        {ms(prof.loss)} ms (forward and backward)")
    print(f"Optimizer:   {ms(prof.optimizer)} ms (the step)")
    print(f"Other:       {ms(prof.other)} ms (Python between calls, autograd engine, zero_grad)")
    print(f"Step:        {ms(prof.step)} ms measured ({ms(prof.plain_step)} ms without measuring)")
    print(f"Data:        {ms(prof.data)} ms to load one batch (not part of the step)")
