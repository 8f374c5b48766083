"""The memory part of ``studio check``: ``--batch``, ``--memory``, ``--precision``, ``--json``.

The table lists what each block keeps during one training step (weights, gradients, the
optimizer's state, activations saved for backward), then the peak and the verdict: whether it
fits the memory given (or the GPU found) and the largest batch that does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from studio.cli import CliError, load, print_table


def memory_wanted(args: argparse.Namespace) -> bool:
    return args.batch is not None or args.memory is not None or args.precision is not None


def parse_memory(args: argparse.Namespace) -> int | None:
    if args.margin is not None and not 0 <= args.margin < 1:
        raise CliError("--margin is a share of the memory between 0 and 1, e.g. 0.1", 2)
    if args.memory is None:
        return None
    from studio.units import parse_size

    try:
        size = parse_size(args.memory)
    except ValueError as e:
        raise CliError(str(e), 2) from None
    if size <= 0:
        raise CliError("--memory must be more than 0", 2)
    return size


def _estimate(project, analysis, args: argparse.Namespace):
    from studio.compiler.memory import DEFAULT_MARGIN, EstimateError
    from studio.training.cost import device_memory, memory_for
    from studio.training.settings import TrainingSettings

    settings = TrainingSettings.from_dict(project.training)
    precision = {"fp32": "none"}.get(args.precision, args.precision)
    try:
        est = memory_for(
            project.graph, settings, batch=args.batch, precision=precision, analysis=analysis
        )
    except EstimateError as e:
        raise CliError(str(e)) from None
    return (
        est,
        settings,
        device_memory(settings.device),
        (DEFAULT_MARGIN if args.margin is None else args.margin),
    )


def _target(memory: int | None, found):
    from studio.units import fmt_bytes

    if memory is not None:
        return memory, fmt_bytes(memory)
    if found is not None:
        return found[0], f"{found[1]} ({fmt_bytes(found[0])})"
    return None, None


def print_memory(project, analysis, args: argparse.Namespace, memory: int | None) -> None:
    from studio.training.cost import verdict
    from studio.units import fmt_bytes

    est, settings, found, margin = _estimate(project, analysis, args)
    size = lambda n: fmt_bytes(n) if n else "-"  # noqa: E731
    peak = est.peak or 1
    rows = [("block", "weights", "gradients", "optimizer", "activations", "total", "share")]
    for b in est.blocks:
        rows.append(
            (
                b.name,
                size(b.weights),
                size(b.gradients),
                size(b.optimizer),
                size(b.activations),
                size(b.total),
                f"{b.total / peak:.0%}",
            )
        )
    precision = {"none": "fp32"}.get(est.precision, est.precision)
    print(f"Memory of one training step at batch {est.batch} ({precision}, {est.optimizer}):")
    print_table(rows)
    print()
    print(f"Weights:     {fmt_bytes(est.weights)}")
    print(f"Gradients:   {fmt_bytes(est.gradients)}")
    print(f"Optimizer:   {fmt_bytes(est.optimizer_state)} ({est.optimizer})")
    print(
        f"Activations: {fmt_bytes(est.activations)} saved for backward "
        f"({fmt_bytes(est.per_sample)} per sample)"
    )
    print(f"Workspace:   {fmt_bytes(est.workspace)} (the largest gradient in flight, twice)")
    print(
        f"Peak:        {fmt_bytes(est.peak)}; most in "
        + ", ".join(f"{b.name} ({b.total / peak:.0%})" for b in est.dominant(3))
    )
    target, where = _target(memory, found)
    if target is None:
        print(
            "Fit:         no GPU found; give a size with --memory (e.g. --memory 24GB) for a verdict"
        )
        return
    print(verdict(est, target, where, margin).text(est))


def check_json(paths: list[str], args: argparse.Namespace, memory: int | None) -> int:
    """Every project's validity, counts and (when it is valid) memory estimate as one JSON."""
    from studio.compiler import analyze
    from studio.training.cost import verdict
    from studio.training.fit_check import check_training

    out, status = [], 0
    for path in paths:
        try:
            project = load(path)
        except CliError as e:
            out.append({"project": path, "error": str(e)})
            status = max(status, e.status)
            continue
        analysis = analyze(project.graph)
        fit = check_training(
            project.graph, analysis, project.training, base_dir=Path(path).resolve().parent
        )
        problems = analysis.diagnostics + fit
        t = analysis.totals()
        entry = {
            "project": path,
            "name": project.name,
            "valid": not any(d.is_error for d in problems),
            "problems": [
                {"error": d.is_error, "message": d.describe(project.graph)} for d in problems
            ],
            "params": t.params,
            "trainable": t.trainable,
            "macs": t.macs,
        }
        if analysis.ok:
            est, _, found, margin = _estimate(project, analysis, args)
            entry["memory"] = est.as_dict()
            target, where = _target(memory, found)
            if target is not None:
                v = verdict(est, target, where, margin)
                entry["fit"] = {
                    "device": where,
                    "memory": target,
                    "margin": margin,
                    "fits": v.fits,
                    "largest_batch": v.largest_batch,
                }
        status = max(status, 0 if entry["valid"] else 1)
        out.append(entry)
    json.dump(out[0] if len(out) == 1 else out, sys.stdout, indent=1)
    print()
    return status
