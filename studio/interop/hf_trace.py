"""Hugging Face transformers under Studio's example-following tracer.

transformers asks ``is_tracing(x)`` (``isinstance(x, torch.fx.Proxy)``) before it decides how
to build an attention mask: traced, it keeps the general path (GPT-2's packed-sequence test
``(position_ids.diff() != 1).cumsum()`` and a boolean mask built by index arithmetic); run
eagerly, it sees that the positions are one run and calls SDPA with ``is_causal=True`` and no
mask. Studio's second tracer (:mod:`studio.interop.fx_concrete`) answers Python's questions with
the example's values, so it answers this one as an eager run does: the recorded graph is the
code path the model takes, the one a person reading the model would write. Only for values that
do not depend on the input's data: those stay traced (they could differ at another input).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def eager_answers(known: Callable[[Any], bool]) -> Iterator[None]:
    """While tracing: transformers' ``is_torch_fx_proxy`` says no for a value the tracer
    ``known`` (one computed from sizes and constants only: its value is the same at every
    input of these sizes). A value read from the input's data stays "traced", so transformers
    still skips its data checks (``warn_if_padding_and_no_attention_mask``). A no-op where
    transformers is not imported: nothing is imported here."""
    utils = sys.modules.get("transformers.utils.import_utils")
    original = getattr(utils, "is_torch_fx_proxy", None)
    if original is None:
        yield
        return

    def is_torch_fx_proxy(x: Any) -> bool:
        return not known(x) and original(x)

    utils.is_torch_fx_proxy = is_torch_fx_proxy
    try:
        yield
    finally:
        utils.is_torch_fx_proxy = original
