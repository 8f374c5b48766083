"""What the import's check costs: an import with it against the same import without it, in fresh
processes, interleaved.

For resnet50 and vit_b_16 (random weights; building the model is outside the timings):
``studio``: ``import_module`` as ``studio import`` runs it (trace with torch.fx, record the
shapes, build the graph, then the check: the class generated from the shapes the import
recorded, built on meta, traced again and proved node for node equal to the original's trace
under the weights' key mapping, or where no proof is made, the original's weights loaded and the
outputs compared at batch 1, on 64-pixel images where the import ran the model at two sizes);
``floor``: the same with ``verify=False``, the tracing work no check can avoid;
``symbolic_trace`` alone is printed for scale (once). ``--repeat`` pairs (5), each pair in the
other order than the last, so a busy moment hits both alike; the ratios are the medians
of the pairs' ratios (``*_ratio_max``: the worst pair); peak memory is the most each child held
above what it held before the timing.
The clock is the child's CPU time (``--wall``: wall time): with one torch thread all the work
runs on that thread, and on this shared 2-core machine wall time mostly measures the other
processes. Studio's compiler is imported before the timing, as in the window and the CLI,
where it is loaded already: importing it is not the check's work. The children start from
compiled bytecode, as an installed app does (PYTHONDONTWRITEBYTECODE is left out of their
environment; one untimed run of each kind writes the caches first).

Each ``studio`` child also times the check's own steps inside its import (recording the shapes
it generates from, then ``_verify``): ``*_within`` is the median of its import's time against
that time less those steps, in the same process, so a busy moment cannot fall on one side only
(at load 7 on this machine the pairs of processes ranged 0.80-1.36 for one and the same code).

Last line: ``resnet50_ratio=<float> vit_b_16_ratio=<float> resnet50_mem_ratio=<float>
vit_b_16_mem_ratio=<float> resnet50_ratio_max=<float> vit_b_16_ratio_max=<float>
resnet50_within=<float> vit_b_16_within=<float>`` (with the check / without, time and peak
memory; the in-process ratio).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("resnet50", "vit_b_16")


def child(which: str, name: str, clock=time.thread_time) -> None:
    import torch
    import torchvision

    torch.set_num_threads(1)  # as the importer runs (one thread, see studio/training/threads)
    model = torchvision.models.get_model(name, weights=None).eval()
    spent = [0.0]  # the check's own time inside this import (the studio child)
    if which != "trace":
        import studio.compiler  # noqa: F401  (loaded before any import in the window and the CLI)
        from studio.interop import fx_import
        from studio.interop.fx_import import import_module

        for step in ("recorded_specs", "_verify"):  # what only the check runs
            setattr(fx_import, step, _timed(getattr(fx_import, step), spent, clock))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = clock()
    if which != "trace":
        result = import_module(
            model, [((3, 224, 224), "float32")], name=name, verify=which == "studio"
        )
        assert which == "floor" or result.matches, result.max_difference
    else:
        torch.fx.symbolic_trace(model)
    seconds = clock() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base
    print(f"{seconds:.4f} {peak:.1f} {spent[0]:.4f}")


def _timed(function, spent: list[float], clock):
    def timed(*args, **kwargs):
        t = clock()
        try:
            return function(*args, **kwargs)
        finally:
            spent[0] += clock() - t

    return timed


#: the children run as an installed app does, from compiled bytecode: PYTHONDONTWRITEBYTECODE
#: (set in some shells) made the check's lazily imported modules compile from source inside
#: the timing, resnet50 1.34 against 1.08 in the same hour (untimed warm-up runs write the caches)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
CHILD_ENV["PYTHONPATH"] = str(ROOT)


def measure(which: str, name: str, wall: bool) -> tuple[float, float, float]:
    command = [sys.executable, __file__, "--child", which, name] + (["--wall"] if wall else [])
    out = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=CHILD_ENV,
    )
    if out.returncode:
        raise SystemExit(f"{which} {name} failed:\n{out.stderr[-2000:]}")
    seconds, peak, check = out.stdout.split()[-3:]
    return float(seconds), float(peak), float(check)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5, help="interleaved pairs per model")
    parser.add_argument("--wall", action="store_true", help="wall time instead of CPU time")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, clock=time.perf_counter if args.wall else time.thread_time)
        return
    figures = {}
    for which in ("studio", "floor"):  # untimed: writes the bytecode caches where none are yet
        measure(which, MODELS[0], args.wall)
    for name in MODELS:
        runs = {"studio": [], "floor": []}
        for i in range(args.repeat):
            for which in ("studio", "floor") if i % 2 == 0 else ("floor", "studio"):
                runs[which].append(measure(which, name, args.wall))
        pairs = list(zip(runs["studio"], runs["floor"]))
        ratios = [s[0] / f[0] for s, f in pairs]
        mem = [s[1] / max(f[1], 1.0) for s, f in pairs]
        # in one process: the import against itself less the check's own steps (no second
        # process, so a busy moment weighs on both sides alike)
        within = [s[0] / (s[0] - s[2]) for s in runs["studio"]]
        t = measure("trace", name, args.wall)
        s = statistics.median(s[0] for s in runs["studio"])
        f = statistics.median(f[0] for f in runs["floor"])
        check = statistics.median(s[2] for s in runs["studio"])
        print(
            f"{name}: with the check {s:.2f} s, without {f:.2f} s (medians), pairs "
            + ", ".join(f"{r:.2f}" for r in ratios)
            + f"; the check's own steps {check * 1000:.0f} ms (median), in-process ratios "
            + ", ".join(f"{r:.3f}" for r in within)
            + f"; peak {max(p[1] for p in runs['studio']):.0f} MB against "
            f"{max(p[1] for p in runs['floor']):.0f} MB; symbolic_trace alone {t[0]:.2f} s",
            flush=True,
        )
        figures[name] = (
            statistics.median(ratios),
            statistics.median(mem),
            max(ratios),
            statistics.median(within),
        )
    print(
        " ".join(f"{n}_ratio={t:.2f}" for n, (t, _, _, _) in figures.items())
        + " "
        + " ".join(f"{n}_mem_ratio={m:.2f}" for n, (_, m, _, _) in figures.items())
        + " "
        + " ".join(f"{n}_ratio_max={w:.2f}" for n, (_, _, w, _) in figures.items())
        + " "
        + " ".join(f"{n}_within={i:.3f}" for n, (_, _, _, i) in figures.items())
    )


if __name__ == "__main__":
    main()
