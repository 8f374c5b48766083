"""`ast.parse` and `ast.literal_eval` that are safe to call from several threads at once.

CPython 3.11 keeps the AST constructor's recursion depth per interpreter, not per thread, so two
threads parsing at the same moment (the code view on the GUI thread while a memory estimate
generates code in a worker) can fail with ``SystemError: AST constructor recursion depth
mismatch`` (python/cpython#106905). Studio parses only through these two functions: one lock
serialises its own parses, and a parse that collides with another library's is tried again.
The standard library only: every layer may import this module. `Code` is here for the same
reason: a declaration in any layer may state a fact whose value is code (``torch.long``).
"""

from __future__ import annotations

import ast
import threading

_LOCK = threading.RLock()
_TRIES = 3


def parse(source: str, mode: str = "exec", filename: str = "<unknown>") -> ast.AST:
    """`ast.parse(source, filename, mode)`, serialised with every other parse in Studio."""
    for attempt in range(_TRIES):
        with _LOCK:
            try:
                return ast.parse(source, filename=filename, mode=mode)
            except SystemError:  # a parse in another library's thread collided with this one
                if attempt == _TRIES - 1:
                    raise
    raise AssertionError("unreachable")


def literal_eval(node_or_string: str | ast.AST):
    """`ast.literal_eval`, parsing a string through :func:`parse`."""
    if isinstance(node_or_string, str):
        node_or_string = parse(node_or_string.lstrip(" \t"), mode="eval")
    return ast.literal_eval(node_or_string)


class Code(str):
    """Python source that a value stands for, written as it is where a train.py's trimming
    (`studio.interop.script_trim`) writes a known value (``torch.long``, not ``"torch.long"``)."""
