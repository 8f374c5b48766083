"""What a module was built with: its constructor's arguments read back from its attributes.

Shared by the Custom module block (:func:`studio.interop.fx_build.custom_module_for`, which
creates the class again) and the Parameter and Buffer blocks (:mod:`studio.interop.fx_state`,
which build the owner again to learn what a tensor starts at). Both only read from here, so the
import steps depend on this module one way.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import torch
from torch import nn

from studio.interop.fx_module_rules import constructor_of


def constructor_kwargs(module: nn.Module) -> dict[str, Any]:
    """The keyword arguments that build ``type(module)`` again: the constructor's parameters
    read back from same-named attributes (literals only, defaults left out), then what a
    reader of :mod:`studio.interop.fx_module_rules` knows of the class."""
    out = _from_attributes(module)
    reader = constructor_of(module)
    if reader is not None:
        out.update(reader(module))
    return out


def _from_attributes(module: nn.Module) -> dict[str, Any]:
    try:
        sig = inspect.signature(type(module).__init__)
    except (TypeError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for p in list(sig.parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("device", "dtype"):
            continue
        if not hasattr(module, p.name):
            continue  # a required one shows up when the class is built again
        value = getattr(module, p.name)
        if isinstance(value, torch.Tensor) or (value is None and isinstance(p.default, bool)):
            value = value is not None  # bias=True gives a tensor attribute (or None)
        if not is_literal(value):
            continue
        if p.default is not p.empty and _same(value, p.default):
            continue
        out[p.name] = value
    return out


def is_literal(v: Any) -> bool:
    """Whether ``v`` can be written in generated code as it is (``repr`` reads back)."""
    if v is None or isinstance(v, (bool, int, str)):
        return True
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, (tuple, list)):
        return all(is_literal(x) for x in v)
    return False


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # noqa: BLE001
        return False
