"""Writing the model's code on the GUI thread, a few milliseconds at a time.

:func:`write_steps` is the one way the Code view gets its text (the class, or a comment listing
the model's problems) and the colours of its lines: a generator over
``studio.compiler.generate_steps`` that yields every few blocks and lines. :class:`SlicedWrite`
runs it from a 0-ms timer, :data:`SLICE_MS` at a time, so the event loop turns between slices
(input, painting, timers) and the window never stalls on it.

Why not a thread: a writer thread (a snapshot of the project, ``Graph.to_dict``, with its own
analysis) held the GIL from the event loop. Every Python call the GUI thread made meanwhile (an
item's ``paint``, a slot) waited for the interpreter's switch interval, and a busy machine
descheduled the writer holding it: at 2,000 blocks the event loop stalled 267-489 ms idle and
1.0-1.3 s at load 5 (benchmarks/canvas_scale.py). Slices on the GUI thread never contend for
the GIL, need no snapshot and no second analysis (the window's own is current), and an edit
simply stops the write (:class:`~studio.ui.code_view.CodeView` starts the next)."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QObject, QTimer

from studio.graph.model import Graph
from studio.ui.code_highlight import line_spans

#: the longest one slice of writing keeps the GUI thread (then the event loop turns)
SLICE_MS = 6
#: lines coloured between two yields
LINES_PER_STEP = 64

#: what a write gives: the source, the status line, each line's colour runs, whether the source
#: is the model's class (not a comment listing its problems)
Written = tuple[str, str, list, bool]


def problems_comment(lines: list[str]) -> str:
    out = [
        "# The model has problems, so there is no code yet.",
        "# Fix these and the code appears here:",
        "#",
    ]
    out += [f"#   - {line}" for line in lines]
    return "\n".join(out) + "\n"


def write_steps(graph: Graph, name: str, analysis: Any) -> Generator[None, None, Written]:
    """Write ``graph``'s code in steps (a generator; ``graph`` and ``analysis`` must not change
    until it ends); a problem is shown in the text, never raised."""
    import studio.compiler  # read at call time: tests count the calls to generate_steps

    ok = False
    try:
        code = yield from studio.compiler.generate_steps(graph, name, analysis)
        source, ok = code.source, True
        status = f"class {code.class_name}(nn.Module) — what Export Python writes"
    except studio.compiler.CompileError as e:
        source = problems_comment([d.describe(graph) for d in e.diagnostics])
        status = "The model has problems"
    except Exception as e:  # noqa: BLE001 - a failure in code generation is shown, never raised
        source = problems_comment([f"Studio could not write this model's code: {e}"])
        status = "The code could not be written"
    spans = []
    for n, runs in enumerate(line_spans(source), 1):
        spans.append(runs)
        if n % LINES_PER_STEP == 0:
            yield
    return source, status, spans, ok


def finish(steps: Generator[None, None, Written]) -> Written:
    """Run ``steps`` to its end now."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


class SlicedWrite(QObject):
    """Runs a :func:`write_steps` generator on the GUI thread from a 0-ms timer, at most
    :data:`SLICE_MS` a turn of the event loop, and calls ``done(written)`` at its end."""

    def __init__(
        self, steps: Generator[None, None, Written], done: Callable[[Written], None], parent=None
    ) -> None:
        super().__init__(parent)
        self._steps = steps
        self._done = done
        self._result: Written | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._slice)

    def start(self) -> None:
        self._timer.start()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def cancel(self) -> None:
        """Stop for good (the graph changed under it); ``done`` is not called."""
        self._timer.stop()
        self._steps.close()

    def _slice(self) -> None:
        if self._result is not None:  # showing the text has a turn of its own
            self._timer.stop()
            self._done(self._result)
            return
        end = time.perf_counter() + SLICE_MS / 1000
        try:
            while time.perf_counter() < end:
                next(self._steps)
        except StopIteration as stop:
            self._result = stop.value
