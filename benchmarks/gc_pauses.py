"""The garbage collector's pauses while a 5,000-block project is edited, without and with
``studio.gctune`` (its objects frozen once it has opened).

Each run is a fresh process that does what the window does: torch and the compiler loaded and
frozen (as the window's loader freezes them), the project read from its file
(``load_project``) and analysed, and then 12 edits, each a parameter changed with the analysis
refreshed, the class written again (the Code tab) and the recovery file's text made (the
autosave). ``gc.callbacks`` time every collection during the edits. The modes: ``before`` (as
the window was: only torch frozen), ``after`` (``gctune.project_opened`` once the project has
opened: its objects frozen, generation 0's threshold raised), ``young`` (only the threshold
raised, to tell the two apart); ``after@N`` and ``young@N`` the same with a threshold of N
instead of gctune's (``after@700``: the freeze alone); a mode ending ``+threads`` lets the
collector run in whichever thread allocates, as before the window collected on its GUI thread
only (``studio.ui.gui_gc``). ``--modes before,after,after@700,after+threads``. Runs
alternate between the modes, ``--rounds`` each; ``--busy N`` starts N processes spinning on the
CPU for the whole run. ``GC_PAUSES_TYPES=1`` prints, after the edits, the types of the objects
full collections still walk. On 2 shared cores a run of 2,000 blocks and 6 edits takes 1-4
minutes.

A pause holds the GIL: on the GUI thread it is a frozen window, in a worker thread it stops the
GUI thread as well. Each run's line gives its collections by generation, the longest pause's
generation, the pauses of 50 and 100 ms or more, and the share of the edits' time spent
collecting (the figure least moved by the load, which changes the edits' time as much); the two
lines before the last the longest full and young pause of each mode. The last line, for each
mode M (``@`` left out): ``M_max_ms`` (the longest pause of any generation over all rounds),
``M_median_max_ms`` (the runs' longest, median), ``M_over_100`` (pauses of 100 ms or more a
run), ``M_gc_ms`` (all collections' time a run), ``M_gc_share`` (percent of the edits' time),
``M_full`` (full collections a run), all medians over the rounds; then ``open_freeze_ms`` and
``switch_ms`` (the time ``project_opened`` took at the open, and at the next open, which
unfreezes and collects, median; turned by ``processEvents`` outside an event loop, the old
window's ``deleteLater`` comes after that collection here), ``busy`` and ``rounds``.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MODES = ("before", "after", "young")


def child(mode: str, path: str, edits: int) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from studio import gctune
    from studio.graph.commands import SetParams

    app = QApplication.instance() or QApplication([])
    opened_ms: list[float] = []
    real = gctune.project_opened

    if mode.endswith("+threads"):  # collections wherever they fall, as before studio.ui.gui_gc
        from studio.ui import gui_gc

        gui_gc.hold = lambda owner: None
        mode = mode.removesuffix("+threads")
    kind, _, threshold = mode.partition("@")
    if threshold:  # another young threshold than gctune's, to compare
        gctune.GEN0_THRESHOLD = int(threshold)

    def project_opened(blocks: int) -> bool:  # the window's call, timed; or left out (before)
        t0 = time.perf_counter()
        held = (
            real(blocks)
            if kind == "after"
            else gctune.raise_young_threshold()
            if kind == "young"
            else False
        )
        opened_ms.append((time.perf_counter() - t0) * 1000)
        return bool(held)

    gctune.project_opened = project_opened
    from studio.ui.jobs import wait_for_jobs
    from studio.ui.main_window import MainWindow

    window = MainWindow(config_dir=tempfile.mkdtemp())
    window.resize(1400, 900)
    window.show()
    window.start_compiler_loading()  # torch and the compiler, frozen once loaded
    window._loader.wait()
    app.processEvents()
    from studio.compiler import generate

    turn_until(app, lambda: opened_ms)  # the empty project the window starts with
    window.files.open_path(path, ask=False)
    turn_until(app, lambda: len(opened_ms) > 1)  # the canvas shown (and the project frozen)
    opened = len(opened_ms)
    window.doc.wait_for_analysis()
    app.processEvents()
    doc = window.doc
    pauses: list[tuple[int, float]] = []
    freed: list[int] = []  # the objects each collection found unreachable (and freed)
    started = [0.0]

    def timer(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], (time.perf_counter() - started[0]) * 1000))
            freed.append(info["collected"])

    linears = [b.id for b in doc.graph.blocks.values() if b.type == "linear"]
    gc.callbacks.append(timer)
    t0 = time.perf_counter()
    for k in range(edits):  # an edit as the inspector makes it, and what follows it
        doc.push(SetParams(linears[k * 7 % len(linears)], {"out_features": 48 + 16 * (k % 3)}))
        doc.refresh()  # the analysis, and the views that follow it
        app.processEvents()
        generate(doc.graph, doc.project.name, doc.analysis)  # the Code tab's class
        window.files.autosave()  # the recovery file: the snapshot here, the text in a thread
        while window.files.autosave_busy():
            app.processEvents()
            time.sleep(0.001)
        wait_for_jobs()
    edits_s = time.perf_counter() - t0
    gc.callbacks.remove(timer)
    tracked = len(gc.get_objects())
    if os.environ.get("GC_PAUSES_TYPES"):  # what the collector still walks, by type
        from collections import Counter

        gc.collect()  # the live ones only
        kinds = Counter(type(o).__module__ + "." + type(o).__qualname__ for o in gc.get_objects())
        print(kinds.most_common(25), file=sys.stderr)
    # another project takes its place: the one frozen is unfrozen and collected
    window.files.open_path(path, ask=False)
    turn_until(app, lambda: len(opened_ms) > opened)
    window.doc.undo_stack.setClean()
    window.close()
    full = [ms for g, ms in pauses if g == 2]
    longest = max(range(len(pauses)), key=lambda i: pauses[i][1], default=None)
    return {
        "max_ms": max((ms for _, ms in pauses), default=0.0),
        "full": len(full),
        "full_max_ms": max(full, default=0.0),
        "full_sum_ms": sum(full),
        "young": len(pauses) - len(full),
        "young_max_ms": max((ms for g, ms in pauses if g < 2), default=0.0),
        "gen1": sum(1 for g, _ in pauses if g == 1),
        "over_50": sum(1 for _, ms in pauses if ms >= 50),  # pauses a user sees (3 frames)
        "over_100": sum(1 for _, ms in pauses if ms >= 100),
        "gen1_max_ms": max((ms for g, ms in pauses if g == 1), default=0.0),
        "longest_gen": pauses[longest][0] if longest is not None else -1,
        "longest_freed": freed[longest] if longest is not None else 0,
        "all_sum_ms": sum(ms for _, ms in pauses),
        "edits_s": edits_s,
        "open_ms": opened_ms[opened - 1],
        "switch_ms": opened_ms[-1],
        "tracked": tracked,
    }


def turn_until(app, done, seconds: float = 60.0) -> None:
    """Turn the event loop until ``done()`` (the window's 0-ms timers), at most ``seconds``."""
    end = time.perf_counter() + seconds
    while not done() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.001)


def run_child(mode: str, path: Path, edits: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--path", str(path), "--edits", str(edits)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _spin() -> None:
    while True:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--busy", type=int, default=0, help="processes spinning on the CPU meanwhile"
    )
    parser.add_argument("--modes", default="before,after", help="of " + ",".join(MODES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.path, args.edits)))
        return
    import canvas_scale  # its project: 20 branches of Linear/ReLU chains, Adds, one Output

    canvas_scale.N_BLOCKS = args.blocks
    path = Path(tempfile.mkdtemp()) / "big.studio.json"
    canvas_scale.make_project(path)
    modes = args.modes.split(",")
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    results: dict[str, list[dict]] = {m: [] for m in modes}
    try:
        for _ in range(args.rounds):
            for mode in modes:
                results[mode].append(run_child(mode, path, args.edits))
                print(mode, json.dumps(results[mode][-1]), flush=True)  # kept if a later run fails
    finally:
        for p in spinners:
            p.terminate()
    print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.busy} busy processes added"
    )
    for mode, runs in results.items():
        for r in runs:
            print(
                f"{mode:>6}: {r['full']} full collections, longest {r['full_max_ms']:.1f} ms, "
                f"{r['full_sum_ms']:.0f} ms in all; {r['young']} young, longest {r['young_max_ms']:.1f} ms "
                f"({r['gen1']} of generation 1, longest {r['gen1_max_ms']:.1f} ms); "
                f"the longest pause: generation {r['longest_gen']}, {r['longest_freed']} freed; "
                f"{r['over_50']} pauses of 50 ms or more, {r['over_100']} of 100 ms or more; "
                f"all collections {r['all_sum_ms']:.0f} ms of {r['edits_s']:.1f} s of edits "
                f"({100 * r['all_sum_ms'] / 1000 / r['edits_s']:.1f}%); "
                f"{r['tracked']:,} objects tracked after; project_opened {r['open_ms']:.0f} ms, "
                f"at the next open {r['switch_ms']:.0f} ms"
            )
    longest = {m: max(r["max_ms"] for r in runs) for m, runs in results.items()}
    full = {m: statistics.median(r["full"] for r in runs) for m, runs in results.items()}
    total = {m: statistics.median(r["all_sum_ms"] for r in runs) for m, runs in results.items()}
    print(
        "full collections, longest pause (ms): "
        + ", ".join(f"{m} {max(r['full_max_ms'] for r in runs):.1f}" for m, runs in results.items())
    )
    print(
        "young collections, longest pause (ms): "
        + ", ".join(
            f"{m} {max(r['young_max_ms'] for r in runs):.1f}" for m, runs in results.items()
        )
    )
    parts = [f"blocks={args.blocks}"]
    parts += [f"{m.replace('@', '').replace('+', '_')}_max_ms={longest[m]:.1f}" for m in modes]
    parts += [
        f"{m.replace('@', '').replace('+', '_')}_median_max_ms={statistics.median(r['max_ms'] for r in results[m]):.1f}"
        for m in modes
    ]
    parts += [
        f"{m.replace('@', '').replace('+', '_')}_over_100={statistics.median(r['over_100'] for r in results[m]):.0f}"
        for m in modes
    ]
    parts += [f"{m.replace('@', '').replace('+', '_')}_gc_ms={total[m]:.0f}" for m in modes]
    parts += [
        f"{m.replace('@', '').replace('+', '_')}_gc_share="
        f"{statistics.median(100 * r['all_sum_ms'] / 1000 / r['edits_s'] for r in results[m]):.1f}"
        for m in modes
    ]
    parts += [f"{m.replace('@', '').replace('+', '_')}_full={full[m]:.0f}" for m in modes]
    frozen = [m for m in modes if m.startswith("after")]
    if frozen:
        after = results[frozen[0]]
        parts.append(f"open_freeze_ms={statistics.median(r['open_ms'] for r in after):.1f}")
        parts.append(f"switch_ms={statistics.median(r['switch_ms'] for r in after):.0f}")
    print(" ".join(parts) + f" busy={args.busy} rounds={args.rounds}")


if __name__ == "__main__":
    main()
