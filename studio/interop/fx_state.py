"""torch.fx import: a parameter or buffer read directly (``get_attr``) -> a Parameter or Buffer
block that starts as the original's constructor starts it.

The weights are loaded from the original afterwards, so what matters here is the *fresh* value:
the generated class must not start a timm layer scale (1e-6) or a LayerNorm weight (ones) at
zeros, which would make a freshly built export a dead network. The owner module is built again
on the CPU from its constructor's arguments (the same reading as a Custom module block); where
that fails, the value the model holds now is used. Buffers nothing trains (an attention's index
table) keep their values.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from studio.interop.fx_constructor import constructor_kwargs
from studio.interop.fx_rules import Mapped, Unsupported

#: owners with more parameters than this are not built again (a whole model's position embedding)
_MAX_REBUILD = 5_000_000
#: buffers with more elements than this are not written out as values
_MAX_VALUES = 50_000
_DTYPES = {"float32", "float64", "int64", "int32", "bool"}


def state_block(root: nn.Module | None, target: str, value: torch.Tensor, cache: dict) -> Mapped:
    """The Parameter or Buffer block for ``root``'s attribute ``target`` (``bn1.running_mean``)."""
    shape = tuple(value.shape)
    is_param = isinstance(value, nn.Parameter) and root is not None
    if len(shape) > 6 or (is_param and not shape):
        raise Unsupported(f"{target} has {len(shape)} dimensions (Parameter blocks take 1 to 6)")
    fresh = _fresh(root, target, cache)
    start = value if fresh is None or fresh.shape != value.shape else fresh
    if is_param:
        return Mapped("parameter", {"shape": shape, **_param_init(start, value)})
    dtype = str(value.dtype).removeprefix("torch.")
    if dtype not in _DTYPES:
        raise Unsupported(
            f"{target} is a {dtype} buffer (Buffer blocks hold {', '.join(sorted(_DTYPES))})"
        )
    owner_path, _, attr = target.rpartition(".")
    owner = _get(root, owner_path) if root is not None else None
    # a tensor fx made a constant of (``_tensor_constant0``) is not the original's saved state
    persistent = owner is None or (
        attr in getattr(owner, "_buffers", {})
        and attr not in getattr(owner, "_non_persistent_buffers_set", ())
    )
    params: dict[str, Any] = {"shape": shape, "dtype": dtype, "persistent": persistent}
    if not persistent or _constant(start) is None:
        start = value  # not loaded from a state_dict (or an index table): its values are the model
    constant = _constant(start)
    if constant is not None:
        params.update(_fill(constant))
    elif start.numel() <= _MAX_VALUES:
        params.update(init="values", values=repr(start.tolist()))
    else:
        raise Unsupported(
            f"{target} is a buffer of {start.numel():,} values that are not all equal"
        )
    return Mapped("buffer", params)


def _param_init(start: torch.Tensor, now: torch.Tensor) -> dict[str, Any]:
    constant = _constant(start)
    if constant is not None:
        return _fill(constant)
    std = float(start.detach().float().std()) if start.numel() > 1 else 1.0
    return {"init": "normal", "scale": _spread(std) if std > 0 else 1.0}


def _spread(std: float) -> float:
    """A sample's spread as its initialisation wrote it: two significant digits, or one where
    that is within 5% (a sample of ``randn(...) * 0.02`` measures 0.0194 or 0.0207: it is
    0.02), so an export imported again says the same."""
    one = float(f"{std:.1g}")
    return one if abs(std - one) <= 0.05 * one else float(f"{std:.2g}")


def _fill(constant: float) -> dict[str, Any]:
    if constant == 0:
        return {"init": "zeros"}
    if constant == 1:
        return {"init": "ones"}
    short = float(f"{constant:.7g}")  # 1e-06, not float32's 9.999999974752427e-07
    same = torch.tensor(short, dtype=torch.float32) == torch.tensor(constant, dtype=torch.float32)
    return {"init": "constant", "value": short if bool(same) else constant}


def _constant(t: torch.Tensor) -> float | None:
    if t.numel() == 0:
        return 0.0
    flat = t.detach().reshape(-1)
    first = flat[0]
    if bool((flat == first).all()):
        return float(first) if t.is_floating_point() else int(first)
    return None


def _get(root: nn.Module, path: str) -> Any:
    try:
        return root.get_submodule(path) if path else root
    except AttributeError:
        return None


def _fresh(root: nn.Module | None, target: str, cache: dict) -> torch.Tensor | None:
    """``target``'s value in a newly built copy of its owner module, or None."""
    if root is None:
        return None
    owner_path, _, attr = target.rpartition(".")
    owner = _get(root, owner_path)
    if owner is None:
        return None
    if owner_path not in cache:
        cache[owner_path] = None
        if sum(p.numel() for p in owner.parameters()) <= _MAX_REBUILD:
            kwargs = constructor_kwargs(owner)
            try:
                with torch.random.fork_rng():
                    again = type(owner)(**kwargs)
                if repr(again) == repr(owner):
                    cache[owner_path] = again
            except Exception:  # noqa: BLE001 - any failure: try the next way
                pass
            if cache[owner_path] is None and callable(getattr(owner, "reset_parameters", None)):
                try:  # a torch layer's subclass (timm's BatchNormAct2d): its own reset
                    with torch.random.fork_rng(), torch.no_grad():
                        again = copy.deepcopy(owner)
                        again.reset_parameters()
                    cache[owner_path] = again
                except Exception:  # noqa: BLE001 - any failure: use the value it holds now
                    pass
    again = cache[owner_path]
    value = getattr(again, attr, None) if again is not None else None
    return value if isinstance(value, torch.Tensor) else None
