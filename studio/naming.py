"""Turning user text into Python identifiers, the way torch.fx's ``_Namespace`` does.

Illegal characters become ``_``, a leading digit gets a prefix, keywords and builtins are
avoided, collisions get ``_1``, ``_2``; the same object always gets the same name. Standard
library only: every layer may use it (the ground floor of tests/test_layers.py).
"""

from __future__ import annotations

import builtins
import keyword
import re
import unicodedata
from typing import Any

_ILLEGAL = re.compile(r"[^0-9a-zA-Z_]+")
_RESERVED = (
    set(keyword.kwlist)
    | set(keyword.softkwlist)
    | set(dir(builtins))
    | {"self", "torch", "nn", "F", "super", "forward", "training"}
)
# attributes nn.Module already has: a layer must not shadow them
# fmt: off
_MODULE_ATTRS = {
    "add_module", "apply", "bfloat16", "buffers", "children", "compile", "cpu", "cuda", "double",
    "dump_patches", "eval", "extra_repr", "float", "get_buffer", "get_parameter", "get_submodule",
    "half", "load_state_dict", "modules", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "register_buffer", "register_module", "register_parameter",
    "requires_grad_", "share_memory", "state_dict", "to", "to_empty", "train", "type", "xpu",
    "zero_grad", "call_super_init", "ipu", "mtia", "forward", "training",
}
# fmt: on


def sanitize(text: str, fallback: str = "x") -> str:
    """A valid, lower-risk identifier for ``text`` (no uniqueness)."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    name = _ILLEGAL.sub("_", text).strip("_")
    name = re.sub(r"_+", "_", name)
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"_{name}"
    if name.startswith("__"):
        name = name.lstrip("_") or fallback
    if name in _RESERVED or keyword.iskeyword(name):
        name = f"{name}_"
    return name


def class_name(text: str, fallback: str = "Model") -> str:
    """A CamelCase class name: ``"my first model"`` -> ``MyFirstModel``."""
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode("ascii")
    words = [w for w in _ILLEGAL.split(text) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name:
        return fallback
    if name[0].isdigit():
        name = f"{fallback}{name}"
    if name in _RESERVED or keyword.iskeyword(name):
        name = f"{name}Model"
    return name


# reserved for variables, yet an attribute may have it: ``self.self = BertSelfAttention()`` is
# how Hugging Face writes BERT, and the state_dict key ``attention.self.query.weight`` needs it
_ATTRIBUTE_ONLY = {"self"}


class Namespace:
    """Hands out unique identifiers; the same object always gets the same name."""

    def __init__(self, reserved: set[str] | None = None, attrs: bool = False) -> None:
        self._used: set[str] = set(reserved or ())
        self._attrs = attrs
        if attrs:
            self._used |= _MODULE_ATTRS
        self._by_obj: dict[Any, str] = {}

    def create_name(self, text: str, obj: Any = None) -> str:
        if obj is not None and obj in self._by_obj:
            return self._by_obj[obj]
        base = text if self._attrs and text in _ATTRIBUTE_ONLY else sanitize(text)
        name = base
        if name in self._used:
            match = re.match(r"(.*)_(\d+)$", base)
            stem, i = (match.group(1), int(match.group(2))) if match else (base, 0)
            while name in self._used:
                i += 1
                name = f"{stem}_{i}"
        self._used.add(name)
        if obj is not None:
            self._by_obj[obj] = name
        return name

    def __contains__(self, name: str) -> bool:
        return name in self._used


def snake_case(name: str, fallback: str = "module") -> str:
    """``ResidualUnit`` -> ``residual_unit``: a class name as the base of its instances' names."""
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(name)).lower() or fallback


def file_name(text: str, fallback: str = "project") -> str:
    """`text` as one safe file or folder name: runs of anything but word characters, dots and
    dashes become ``_`` (e.g. a project's name as its run folder)."""
    return re.sub(r"[^\w.-]+", "_", str(text)).strip("._") or fallback
