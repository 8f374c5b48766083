"""``studio check PROJECT...``: validate, then print blocks, shapes, sizes and totals.

Validation covers the model and its training: the settings, and the data they name against
the model (the check before Train, as the window's Problems list shows it).

Several projects are checked one after another; the exit status is 1 if any is invalid (or
cannot be read), and every one is still checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.blocks.shapes import fmt_count
from studio.cli import add_trust_option, load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("projects", nargs="+", metavar="PROJECT", help="project files (.studio.json)")
    parser.add_argument("--batch", type=int, metavar="B",
                        help="estimate one training step's memory at this batch size (default: the project's)")
    parser.add_argument("--memory", metavar="SIZE",
                        help="device memory to fit, e.g. 24GB or 16GiB (default: the GPU found, if any)")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"),
                        help="activation precision (default: the project's setting)")
    parser.add_argument("--margin", type=float, default=None, metavar="SHARE",
                        help="share of the memory kept free for the allocator and CUDA (default 0.10)")
    parser.add_argument("--json", action="store_true", help="print the check and the estimate as JSON")
    add_trust_option(parser)


def main(args: argparse.Namespace) -> int:
    from studio.cli import CliError
    from studio.cli.check_memory import memory_wanted, parse_memory

    memory = parse_memory(args)
    if args.batch is not None and args.batch < 1:
        raise CliError("--batch must be 1 or more", 2)
    if args.json:
        from studio.cli.check_memory import check_json

        return check_json(args.projects, args, memory)
    wanted = memory_wanted(args)
    if len(args.projects) == 1:
        return check_one(args.projects[0], args if wanted else None, memory)
    status = 0
    for i, path in enumerate(args.projects):
        print(("\n" if i else "") + f"== {path}")
        try:
            status = max(status, check_one(path, args if wanted else None, memory))
        except CliError as e:
            print(f"studio check: error: {e}", file=sys.stderr)
            status = max(status, e.status)
    return status


def check_one(
    path: str, memory_args: argparse.Namespace | None = None, memory: int | None = None
) -> int:
    project = load(path)  # a missing or bad file answers before torch is imported (seconds)

    from studio.compiler import analyze
    from studio.training.fit_check import (
        check_training,
        data_spec,
        describe_signature,
        read_signature,
    )

    graph = project.graph
    analysis = analyze(graph)
    rows = [("name", "type", "output shape", "params", "MACs")]
    for block in graph.blocks.values():
        info = analysis.block_info(block.id)
        params = f"{info.params:,}" + _frozen_note(info.params, info.trainable)
        rows.append(
            (
                block.name,
                block.spec.label,
                info.out_text if info.out_shapes else "-",
                params if info.params else "-",
                fmt_count(info.macs) if info.macs else "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) if j < 2 or i == 0 else cell.rjust(w) for j, (cell, w) in enumerate(zip(row, widths))).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    t = analysis.totals()
    print()
    print(f"Project:    {project.name}")
    print(f"Parameters: {t.params:,} ({t.trainable:,} trainable, {t.frozen:,} frozen)")
    print(f"Size:       {t.size_mb:.2f} MB")
    print(f"MACs:       {fmt_count(t.macs)} per sample")
    base = Path(path).resolve().parent
    fit = check_training(graph, analysis, project.training, base_dir=base)
    signature = read_signature(data_spec(project.training), base)
    if not isinstance(signature, str):
        print(f"Data:       {describe_signature(as_the_loss_reads(signature, project.training))}")
    warnings = [d for d in analysis.diagnostics + fit if not d.is_error]
    errors = analysis.errors + [d for d in fit if d.is_error]
    for d in warnings:
        print(f"warning: {d.describe(graph)}")
    if memory_args is not None and analysis.ok:
        from studio.cli.check_memory import print_memory

        print()
        print_memory(project, analysis, memory_args, memory)
    if errors:
        print(f"\n{len(errors)} problem{'s' * (len(errors) != 1)}:", file=sys.stderr)
        for d in errors:
            print(f"  error: {d.describe(graph)}", file=sys.stderr)
        return 1
    print("OK: the model is valid.")
    return 0


def as_the_loss_reads(signature, training):
    """The data as the chosen loss reads it (numeric labels are values for a regression loss)."""
    from studio.training.fit_check import signature_for_loss
    from studio.training.kinds import get_loss
    from studio.training.settings import TrainingSettings

    try:
        return signature_for_loss(signature, get_loss(TrainingSettings.from_dict(training).loss.name))
    except KeyError:  # an unknown loss: the settings check names it
        return signature


def _frozen_note(params: int, trainable: int) -> str:
    if not params or trainable == params:
        return ""
    return " (frozen)" if not trainable else f" ({params - trainable:,} frozen)"
