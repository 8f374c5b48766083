"""Canvas at scale (offscreen): open a 2,000-block project into the window, auto-arrange it,
render the whole scene once into a QImage, then time one pan/zoom repaint.

Then one parameter edit with everything the GUI thread does after it (the analysis refresh, the
canvas, problems list and code view following it, the repaint): ``edit_ms``, median of 3; then
the Code tab raised, which writes the class once; then, with the Code tab behind the Inspector
and an edit since, File > Export Python and the Copy button, each of which writes the current
class (printed above the last line). For each of these three the longest the event loop did not
turn (a 1-ms timer) is a ``*_stall_ms`` figure of the last line.

Last line: ``blocks=2000 open_s=<float> layout_s=<float> repaint_ms=<float> edit_ms=<float>
code_tab_gui_ms=<float> code_tab_stall_ms=<float> export_stall_ms=<float> copy_stall_ms=<float>
autosave_gui_ms=<float> module_export_stall_ms=<float>`` (the GUI thread's part of an autosave after an
edit, median of 3; the longest stall of File > Export ▸ Python module after an edit)."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

N_BLOCKS = 2000
BRANCHES = 20


def make_project(path: Path) -> None:
    """Input -> 20 branches of Linear/ReLU chains -> pairwise Adds -> Output (2,000 blocks)."""
    from studio.graph.model import Graph
    from studio.graph.project import Project, save_project

    g = Graph()
    inp = g.add_block("input", params={"shape": (64,)})
    per_branch = (N_BLOCKS - 2 - (BRANCHES - 1)) // BRANCHES
    ends = []
    for _ in range(BRANCHES):
        prev = inp.id
        for i in range(per_branch):
            kind = "linear" if i % 2 == 0 else "relu"
            blk = g.add_block(kind, params={"out_features": 64} if kind == "linear" else {})
            g.connect(prev, "out", blk.id, "in")
            prev = blk.id
        ends.append(prev)
    while len(ends) > 1:
        a, b = ends.pop(), ends.pop()
        add = g.add_block("add")
        g.connect(a, "out", add.id, "in1")
        g.connect(b, "out", add.id, "in2")
        ends.insert(0, add.id)
    while len(g.blocks) < N_BLOCKS - 1:
        blk = g.add_block("identity")
        g.connect(ends[0], "out", blk.id, "in")
        ends = [blk.id]
    out = g.add_block("output")
    g.connect(ends[0], "out", out.id, "in")
    save_project(Project(name="Big", graph=g), path)


def main() -> None:
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    config = tempfile.mkdtemp()
    path = Path(config) / "big.studio.json"
    make_project(path)
    from studio.ui.main_window import MainWindow

    window = MainWindow(config_dir=config)
    window.resize(1400, 900)

    # open = read the file, build the canvas, show and paint it once; shapes follow when torch
    # has loaded in the background (timed separately as analysis_s)
    t0 = time.perf_counter()
    window.files.open_path(path, ask=False)
    window.show()
    window.view.viewport().repaint()
    open_s = time.perf_counter() - t0
    app.processEvents()
    assert len(window.doc.graph.blocks) == N_BLOCKS

    import studio.compiler  # noqa: F401  (the window imports torch in the background)

    if window._loader is not None:  # the window's own background imports (torch, pyqtgraph) end first
        window._loader.wait()
    t0 = time.perf_counter()
    window.doc.attach_compiler()  # a large graph: shapes are inferred in a background thread
    if window.doc._warmer is not None:
        window.doc._warmer.wait()
    background_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    window.ensure_compiler()  # the Analysis on the GUI thread: cache hits
    gui_analysis_ms = (time.perf_counter() - t0) * 1000
    analysis_s = background_s + gui_analysis_ms / 1000

    t0 = time.perf_counter()
    window.arrange()
    app.processEvents()
    layout_s = time.perf_counter() - t0

    scene = window.scene
    rect = scene.itemsBoundingRect()
    image = QImage(2000, int(2000 * rect.height() / max(rect.width(), 1)) + 1, QImage.Format.Format_ARGB32_Premultiplied)
    painter = QPainter(image)
    t0 = time.perf_counter()
    scene.render(painter, image.rect().toRectF(), rect)
    painter.end()
    full_ms = (time.perf_counter() - t0) * 1000

    view = window.view
    view.resetTransform()
    view.zoom_by(0.6)
    view.centerOn(QPointF(rect.center()))
    view.viewport().repaint()  # warm caches once
    times = []
    for i in range(5):
        t0 = time.perf_counter()
        view.horizontalScrollBar().setValue(view.horizontalScrollBar().value() + 40)
        view.zoom_by(1.05 if i % 2 else 1 / 1.05)
        view.viewport().repaint()
        times.append((time.perf_counter() - t0) * 1000)
    repaint_ms = sorted(times)[len(times) // 2]

    # one parameter edit as the inspector makes it, with what follows on the GUI thread: the
    # analysis refresh and the views that follow it (canvas looks, problems, the code view),
    # then the repaint of the view as it stands
    linear = next(b for b in window.doc.graph.blocks.values() if b.type == "linear")
    refresh_times, paint_times = [], []
    for width in (80, 96, 64):
        t0 = time.perf_counter()
        window.doc.graph.set_params(linear.id, {"out_features": width})
        window.doc.refresh()
        t1 = time.perf_counter()
        view.viewport().repaint()
        refresh_times.append((t1 - t0) * 1000)
        paint_times.append((time.perf_counter() - t1) * 1000)
    edit_ms = sorted(r + p for r, p in zip(refresh_times, paint_times))[1]
    # the Code tab brought to the front after the edits: the class is written once, in the
    # background; timed are the GUI thread's own parts (the raise with its snapshot, then
    # showing the text), the longest the event loop did not turn meanwhile, and the wall time
    code_ms, code_stall_ms, code_wall_ms, code_parts = code_tab_raised(app, window)
    export_stall_ms, export_wall_ms, copy_stall_ms, copy_wall_ms = export_and_copy(app, window, linear, config)
    module_stall_ms, module_wall_ms, copy_before_ms = module_export(app, window, linear, config)
    print(f"shapes: {background_s:.3f} s in the background, then {gui_analysis_ms:.0f} ms on the GUI thread")
    print(f"analysis_s={analysis_s:.3f} full_render_ms={full_ms:.1f} repaints_ms={[round(t, 1) for t in times]}")
    window.doc.undo_stack.setClean()
    window.close()
    print(f"parameter edit: refresh and views {[round(t) for t in refresh_times]} ms, "
          f"repaint {[round(t) for t in paint_times]} ms")
    print(f"code tab raised after the edits: {code_ms:.0f} ms of the GUI thread (raise and snapshot "
          f"{code_parts[0]:.0f} ms, showing the text {code_parts[1]:.0f} ms), the event loop stalled at "
          f"most {code_stall_ms:.0f} ms, the code shown after {code_wall_ms:.0f} ms")
    print(f"export python after an edit, code tab hidden: the event loop stalled at most {export_stall_ms:.0f} ms, "
          f"the file written after {export_wall_ms:.0f} ms; copy: stalled at most {copy_stall_ms:.0f} ms, "
          f"the clipboard set after {copy_wall_ms:.0f} ms")
    print(f"File > Export ▸ Python module after an edit: the event loop stalled at most {module_stall_ms:.0f} ms, "
          f"the file written after {module_wall_ms:.0f} ms (with the GUI thread's graph.copy() as before: "
          f"stalled {copy_before_ms:.0f} ms)")
    autosave_gui_ms = sorted(AUTOSAVES)[len(AUTOSAVES) // 2]
    print(f"autosave of an edit (not in the figures above): {[round(t) for t in AUTOSAVES]} ms of the GUI thread "
          f"(the snapshot; written whole on the GUI thread, as before: {[round(t) for t in WHOLE_AUTOSAVES]} ms); "
          f"the event loop stalled at most {[round(t) for t in AUTOSAVE_STALLS]} ms while the thread wrote it")
    print(f"blocks={N_BLOCKS} open_s={open_s:.3f} layout_s={layout_s:.3f} repaint_ms={repaint_ms:.1f} "
          f"edit_ms={edit_ms:.0f} code_tab_gui_ms={code_ms:.0f} code_tab_stall_ms={code_stall_ms:.0f} "
          f"export_stall_ms={export_stall_ms:.0f} copy_stall_ms={copy_stall_ms:.0f} autosave_gui_ms={autosave_gui_ms:.0f} "
          f"module_export_stall_ms={module_stall_ms:.0f}")


def code_tab_raised(app, window) -> tuple[float, float, float, list[float]]:
    """Raise the Code tab after edits and wait for the class: milliseconds the GUI thread spent
    in the raise and in showing the text, the longest gap between two turns of the event loop
    (a 1-ms timer) until the class shows, and the wall time until then."""

    from studio.ui.jobs import wait_for_jobs

    wait_for_jobs()  # the memory estimate the edits started: not part of this figure
    AUTOSAVES.append(autosave_ms(window))
    app.processEvents()
    code_view = window.code_view
    spent = []
    real_show = code_view._show

    def timed_show(*args):
        t = time.perf_counter()
        real_show(*args)
        spent.append(time.perf_counter() - t)

    code_view._show = timed_show

    def raise_tab():
        t0 = time.perf_counter()
        window.code_dock.raise_()
        code_view.shown()
        spent.append(time.perf_counter() - t0)

    stall, wall = stall_while(
        app, raise_tab, lambda: "class Big(nn.Module)" in code_view.text.toPlainText()
    )
    code_view._show = real_show
    return sum(spent) * 1000, stall, wall, [t * 1000 for t in spent]


def stall_while(app, start, done) -> tuple[float, float]:
    """Run ``start()`` and turn the event loop until ``done()``: the longest gap between two
    turns (a 1-ms timer) and the wall time, in milliseconds."""
    from PySide6.QtCore import QTimer

    turns = []
    ticker = QTimer()
    ticker.setInterval(1)
    ticker.timeout.connect(lambda: turns.append(time.perf_counter()))
    ticker.start()
    t0 = time.perf_counter()
    turns.append(t0)
    start()
    turns.append(time.perf_counter())
    while not done():
        app.processEvents()
        time.sleep(0.0005)  # as an idle event loop would wait
    wall = time.perf_counter() - t0
    ticker.stop()
    turns.append(time.perf_counter())
    return max(b - a for a, b in zip(turns, turns[1:])) * 1000, wall * 1000


#: the GUI thread's time in the autosave of an edit, in milliseconds
AUTOSAVES: list[float] = []
#: the same recovery file written whole (snapshot, JSON and write) on the calling thread
WHOLE_AUTOSAVES: list[float] = []
#: the longest stall of the event loop while the writer's thread wrote the file
AUTOSAVE_STALLS: list[float] = []


def autosave_ms(window) -> float:
    """Write the recovery file an edit asked for now (milliseconds), not while a figure is
    measured: it is the GUI thread's (printed on its own line)."""
    files = window.files
    files.autosave_timer.stop()
    t0 = time.perf_counter()
    files.autosave()  # the snapshot; the JSON and the write follow in a thread
    gui_ms = (time.perf_counter() - t0) * 1000
    from PySide6.QtWidgets import QApplication

    # the longest the event loop did not turn while the thread wrote (it holds the GIL in dumps)
    AUTOSAVE_STALLS.append(stall_while(QApplication.instance(), lambda: None, lambda: not files.autosave_busy())[0])
    # the same write done whole on the GUI thread, as before: the figure to compare with
    t0 = time.perf_counter()
    files.recovery.write(window.doc.project)
    WHOLE_AUTOSAVES.append((time.perf_counter() - t0) * 1000)
    return gui_ms


def export_and_copy(app, window, linear, config) -> tuple[float, float, float, float]:
    """File > Export Python, then the Copy button, each after an edit with the Code tab behind
    the Inspector: (stall, wall) of each, in milliseconds."""
    from PySide6.QtGui import QGuiApplication

    from studio.ui.jobs import wait_for_jobs

    out = Path(config) / "big.py"
    window.files.choose_save_path = lambda *a: str(out)
    window.inspector_dock.raise_()
    figures = []
    for width, act, result in (
        (72, window.files.export_python, lambda: out.read_text() if out.exists() else ""),
        (88, window.code_view.copy_button.click, lambda: QGuiApplication.clipboard().text()),
    ):
        window.doc.graph.set_params(linear.id, {"out_features": width})
        window.doc.refresh()
        wait_for_jobs()
        AUTOSAVES.append(autosave_ms(window))
        app.processEvents()
        figures += stall_while(app, act, lambda w=width, r=result: f"nn.Linear(64, {w})" in r())
    return tuple(figures)


def module_export(app, window, linear, config) -> tuple[float, float, float]:
    """File > Export ▸ Python module after an edit (a worker thread writes it): the stall and
    wall time, then the stall of the same export with the GUI thread copying the whole graph
    (``graph.copy()``) as it did before, in milliseconds."""
    from studio.ui import interop_dialogs
    from studio.ui.jobs import wait_for_jobs

    window.interop.show_message = lambda *a: None
    figures = []
    for width, quick in ((56, True), (48, False)):
        out = Path(config) / f"module{width}.py"
        window.files.choose_save_path = lambda *a, o=out: str(o)
        window.doc.graph.set_params(linear.id, {"out_features": width})
        window.doc.refresh()
        wait_for_jobs()
        AUTOSAVES.append(autosave_ms(window))
        settle = time.perf_counter() + 0.3  # the canvas's own timers after the edit: not this figure
        while time.perf_counter() < settle:
            app.processEvents()
            time.sleep(0.005)
        real = interop_dialogs.detached
        if not quick:
            interop_dialogs.detached = lambda project: None  # the copy taken whole, as before
        try:
            figures.append(stall_while(
                app, lambda: window.interop.export("python"),
                lambda o=out, w=width: o.exists() and f"nn.Linear(64, {w})" in o.read_text(),
            ))
        finally:
            interop_dialogs.detached = real
        wait_for_jobs()
    (stall, wall), (before, _) = figures
    return stall, wall, before


if __name__ == "__main__":
    main()
