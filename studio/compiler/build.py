"""Build the runtime module by executing exactly the generated source.

The source is registered with :mod:`linecache` under a ``<studio:...>`` file name, so a
traceback from inside the model shows the generated line, and the trainer can point at the
block that line belongs to.
"""

from __future__ import annotations

import hashlib
import linecache
from typing import Any

from torch import nn

from studio.compiler.codegen import GeneratedCode, generate
from studio.graph.model import Graph

FILENAME_PREFIX = "<studio:"


def filename_for(code: GeneratedCode) -> str:
    digest = hashlib.sha1(code.source.encode("utf-8")).hexdigest()[:10]
    return f"{FILENAME_PREFIX}{code.class_name}-{digest}.py>"


def build_class(code: GeneratedCode) -> type[nn.Module]:
    """Execute the generated source and return its ``nn.Module`` subclass."""
    filename = filename_for(code)
    lines = code.source.splitlines(keepends=True)
    linecache.cache[filename] = (len(code.source), None, lines, filename)
    namespace: dict[str, Any] = {"__name__": f"studio_generated.{code.class_name}", "__file__": filename}
    exec(compile(code.source, filename, "exec"), namespace)
    cls = namespace[code.class_name]
    cls.__studio_source__ = code.source
    cls.__studio_line_blocks__ = code.line_blocks
    return cls


def build_model(graph: Graph, name: str = "Model", **kwargs: Any) -> nn.Module:
    """The graph as a ready ``nn.Module`` instance, built from the generated source."""
    return build_class(generate(graph, name, **kwargs))()


def block_at(filename: str, lineno: int, code: GeneratedCode) -> str | None:
    """The id of the block a generated line belongs to (for tracebacks)."""
    if filename != filename_for(code):
        return None
    return code.line_blocks.get(lineno)
