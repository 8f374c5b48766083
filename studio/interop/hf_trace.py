"""Hugging Face transformers under Studio's example-following tracer.

transformers asks ``is_tracing(x)`` (``isinstance(x, torch.fx.Proxy)``) before it decides how
to build an attention mask: traced, it keeps the general path (GPT-2's packed-sequence test
``(position_ids.diff() != 1).cumsum()`` and a boolean mask built by index arithmetic); run
eagerly, it sees that the positions are one run and calls SDPA with ``is_causal=True`` and no
mask. Studio's second tracer (:mod:`studio.interop.fx_concrete`) answers Python's questions with
the example's values, so it answers this one as an eager run does: the recorded graph is the
code path the model takes, the one a person reading the model would write. Only for values that
do not depend on the input's data: those stay traced (they could differ at another input).

The answer is scoped to the trace: transformers' function is replaced by one that asks the
tracer of the current context (a :class:`~contextvars.ContextVar`, so per thread) and answers
as the original everywhere else; it is put back when the last trace ends.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

#: the running trace's "is this value known" (None outside a trace, and in other threads)
_KNOWN: ContextVar[Callable[[Any], bool] | None] = ContextVar("studio_known", default=None)
_LOCK = threading.Lock()
#: traces running (in any thread), and transformers' own function (kept once read, so a call
#: that looked the replacement up just before it was put back still answers)
_active = 0
_original: Callable[[Any], bool] | None = None


def _is_torch_fx_proxy(x: Any) -> bool:
    known = _KNOWN.get()
    return not (known is not None and known(x)) and _original(x)


@contextlib.contextmanager
def eager_answers(known: Callable[[Any], bool]) -> Iterator[None]:
    """While this trace runs, in its context: transformers' ``is_torch_fx_proxy`` says no for
    a value the tracer ``known`` (one computed from sizes and constants only: its value is the
    same at every input of these sizes). A value read from the input's data stays "traced", so
    transformers still skips its data checks (``warn_if_padding_and_no_attention_mask``). A
    no-op where transformers is not imported: nothing is imported here."""
    utils = sys.modules.get("transformers.utils.import_utils")
    if getattr(utils, "is_torch_fx_proxy", None) is None:
        yield
        return
    _install(utils)
    token = _KNOWN.set(known)
    try:
        yield
    finally:
        _KNOWN.reset(token)
        _uninstall(utils)


def _install(utils: Any) -> None:
    global _active, _original
    with _LOCK:
        if _active == 0:
            _original = utils.is_torch_fx_proxy
            utils.is_torch_fx_proxy = _is_torch_fx_proxy
        _active += 1


def _uninstall(utils: Any) -> None:
    global _active
    with _LOCK:
        _active -= 1
        if _active == 0:
            utils.is_torch_fx_proxy = _original
