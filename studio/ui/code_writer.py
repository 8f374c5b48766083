"""Writing the model's code, on the GUI thread or off it.

:func:`write_code` is the one way the Code view gets its text (the class, or a comment listing
the model's problems). :func:`write_snapshot` runs it on a snapshot of the project
(``Graph.to_dict``, with its own one-off analysis) in a background ``Job``, so showing the Code
tab never freezes the window: at 2,000 blocks writing the class took 200 ms of the GUI thread, the
snapshot takes 14 ms. The snapshot's analysis is made of cache hits (the window's analysis has
inferred every shape already), and the two threads share the shape cache, which is safe to use
from several threads (``studio.compiler.shapes``)."""

from __future__ import annotations

from typing import Any

from studio.graph.model import Graph
from studio.ui.code_highlight import python_spans


def problems_comment(lines: list[str]) -> str:
    out = [
        "# The model has problems, so there is no code yet.",
        "# Fix these and the code appears here:",
        "#",
    ]
    out += [f"#   - {line}" for line in lines]
    return "\n".join(out) + "\n"


def write_code(graph: Graph, name: str, analysis: Any) -> tuple[str, str]:
    """``(source, status line)`` of ``graph``'s code; a problem is shown in the text, never raised."""
    import studio.compiler  # read at call time: tests count the calls to generate

    try:
        code = studio.compiler.generate(graph, name, analysis)
        return code.source, f"class {code.class_name}(nn.Module) — what Export Python writes"
    except studio.compiler.CompileError as e:
        return problems_comment(
            [d.describe(graph) for d in e.diagnostics]
        ), "The model has problems"
    except Exception as e:  # noqa: BLE001 - a failure in code generation is shown, never raised
        text = problems_comment([f"Studio could not write this model's code: {e}"])
        return text, "The code could not be written"


def write_snapshot(snapshot: list[dict], name: str, trust: Any) -> tuple[str, str, list]:
    """``(source, status line, colours)`` of the code of a project snapshot (``Graph.to_dict``,
    the one item of ``snapshot``, taken out so this thread frees it), with its own one-off
    analysis: what a background write runs (``studio.ui.jobs.Job``). The graph and analysis
    built from it are freed here too, before the result goes to the GUI thread: freeing 2,000
    blocks there, or beside it while it shows the text, held the GIL from it."""
    source, status = _write(snapshot.pop(), name, trust)
    return source, status, python_spans(source)


def _write(snapshot: dict, name: str, trust: Any) -> tuple[str, str]:
    try:
        from studio.compiler import Analysis

        graph = Graph.from_dict(snapshot)
        return write_code(graph, name, Analysis(graph, False, trust=trust))
    except Exception as e:  # noqa: BLE001 - e.g. a snapshot that does not load: shown
        text = problems_comment([f"Studio could not write this model's code: {e}"])
        return text, "The code could not be written"
