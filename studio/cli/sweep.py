"""`studio sweep PROJECT`: search hyper-parameters with Optuna; each trial is a run in the history.

    studio sweep spiral.studio.json --trials 20 --search lr=1e-4..1e-1:log --search fc1.out_features=8..128
    studio sweep spiral.studio.json --apply          # the best trial's values into the project

The ranges are the project's own (set in the window) overridden by ``--search``. The study lives
in ``<stem>.runs/sweep.journal`` (or ``--storage URL``), so running the command again adds
``--trials`` more trials, after a crash too. Exit status: 0 done, 1 every trial failed, 2 bad
project/ranges/storage, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from studio.cli import CliError, add_trust_option, load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project file")
    parser.add_argument(
        "--trials",
        type=int,
        metavar="N",
        default=None,
        help="trials to add to the study (default 20; with --timeout: until the time is up)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="S", help="stop starting trials after S seconds"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="J",
        default=1,
        help="worker processes on this machine (each trains one trial at a time)",
    )
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage shared by workers: a journal file path (default "
        "<project>.runs/sweep.journal) or a database URL (sqlite:///sweep.db, postgresql://...)",
    )
    parser.add_argument("--study", metavar="NAME", help="study name (default: the project's name)")
    parser.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="TARGET=RANGE",
        help="a range: lr=1e-4..1e-1:log, fc1.out_features=8..128, batch_size=16..128:step=16, "
        "optimizer=adam,sgd (repeatable; overrides the project's range of the same target)",
    )
    parser.add_argument(
        "--epochs", type=int, metavar="N", help="epochs per trial (overrides the project)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="the sampler's seed (default 0)"
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="do not search: write the best trial's values into the project (or -o)",
    )
    parser.add_argument(
        "-o", "--output", metavar="PATH", help="with --apply: write the result here instead"
    )
    add_trust_option(parser)


def main(args: argparse.Namespace) -> int:
    from studio.graph.search import Search, SearchError, parse
    from studio.training.runs import RunStore, runs_root
    from studio.training.sweep import (
        Sweep,
        SweepError,
        default_storage,
        default_study_name,
        summary_line,
    )

    project = load(args.project)
    path = Path(args.project)
    root = runs_root(path, project.name)
    storage = args.storage or default_storage(root)
    study = args.study or default_study_name(project)
    try:
        if args.apply:
            return _apply(project, path, args.output, storage, study)
        try:
            extra = Search([parse(text, project.graph) for text in args.search])
        except SearchError as e:
            raise CliError(str(e), 2) from None
        if args.epochs is not None:
            project.training = {**project.training, "epochs": args.epochs}
        search = project.search.merged(extra)
        trials = args.trials if args.trials is not None else (None if args.timeout else 20)
        if trials is not None and trials < 1 or args.jobs < 1:
            raise CliError("--trials and --jobs must be at least 1", 2)
        sweep = Sweep(
            project,
            search,
            RunStore(root),
            storage,
            study,
            seed=args.seed,
            base_dir=path.resolve().parent,
        )
    except SweepError as e:
        raise CliError(str(e), 2) from None

    outcomes = []

    def report(outcome, st):
        outcomes.append(outcome)
        print(summary_line(outcome, st, sweep.monitor), flush=True)

    sweep.on_trial = report
    helpers = _start_helpers(args, trials, storage, study) if args.jobs > 1 else []
    if helpers and "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.jobs))
    mine = trials if trials is None else _share(trials, args.jobs, 0)
    labels = ", ".join(f"{r.label(project.graph)} {r.describe()}" for r in search.ranges)
    print(
        f"Sweeping {labels}; {mine if mine else 'until the timeout'} trial(s) in this process"
        f"{f' and {len(helpers)} more worker(s)' if helpers else ''}; study {study!r} in {storage}",
        flush=True,
    )

    from studio.cli.interrupt import stop_on_ctrl_c

    try:
        with stop_on_ctrl_c(sweep.stop) as interrupted:
            if mine is None or mine > 0:
                sweep.run(mine, args.timeout)
    finally:
        for p in helpers:
            p.wait()
    try:
        best = sweep.study.best_trial
        print(
            f"Best: trial {best.number}, {sweep.monitor} {best.value:.4g} "
            f"(run {best.user_attrs.get('run', '?')}); apply it with: studio sweep {args.project} --apply"
            + (f" --study {study}" if args.study else "")
        )
    except ValueError:
        print("No trial finished.", file=sys.stderr)
        return 130 if interrupted else 1
    return 130 if interrupted else 0


def _share(trials: int, jobs: int, index: int) -> int:
    return trials // jobs + (1 if index < trials % jobs else 0)


def _start_helpers(args, trials, storage: str, study: str) -> list[subprocess.Popen]:
    """Workers 2..J: the same command with --jobs 1 on the same storage and study."""
    out = []
    for i in range(1, args.jobs):
        n = None if trials is None else _share(trials, args.jobs, i)
        if n == 0:
            continue
        cmd = [
            sys.executable,
            "-m",
            "studio",
            "sweep",
            args.project,
            "--storage",
            storage,
            "--study",
            study,
            "--seed",
            str(args.seed),
        ]
        cmd += [x for s in args.search for x in ("--search", s)]
        cmd += ["--trials", str(n)] if n is not None else []
        cmd += ["--timeout", str(args.timeout)] if args.timeout else []
        cmd += ["--epochs", str(args.epochs)] if args.epochs is not None else []
        cmd += ["--trust-code"] if args.trust_code else []
        out.append(subprocess.Popen(cmd, stdout=sys.stdout, stderr=sys.stderr, env=_env(args.jobs)))
    return out


def _env(jobs: int) -> dict[str, str]:
    """Workers share the CPU cores: each gets its part of them as threads (unless set already)."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // jobs)))
    return env


def _apply(project, path: Path, output: str | None, storage: str, study_name: str) -> int:
    from studio.graph.project import ProjectError, save_project
    from studio.training.search_targets import apply
    from studio.training.sweep import best_values, load_study

    study = load_study(storage, study_name)
    values = best_values(study, project.search)
    best = study.best_trial
    result = apply(project, values)
    result.path = None
    target = Path(output) if output else path
    try:
        save_project(result, target)
    except ProjectError as e:
        raise CliError(str(e)) from None
    shown = ", ".join(
        f"{_label(project, k)}={v:.4g}" if isinstance(v, float) else f"{_label(project, k)}={v}"
        for k, v in values.items()
    )
    print(f"Applied trial {best.number} ({best.value:.4g}): {shown} -> {target}")
    return 0


def _label(project, key: str) -> str:
    block_id, dot, param = key.partition(".")
    block = project.graph.blocks.get(block_id) if dot else None
    return f"{block.name}.{param}" if block is not None else key
