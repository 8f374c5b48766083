"""Import a model the way it is called: ``make()`` returns ``(model, example_args)``.

Hugging Face models take ``input_ids`` (int64), leave most arguments at None
(``T5Model(input_ids, None, decoder_input_ids)``) and return a ``ModelOutput``. The importer
traces a thin root that calls the model with exactly those arguments and returns the model's
output (``logits``, else the first tensor of the ``ModelOutput``). The root *shares* the model's
submodules, parameters and buffers (the same dictionaries), so every module path, and so every
``state_dict`` key of the generated class, is the model's own.

``make`` is what ``studio import file.py:make`` finds when the callable returns a tuple.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from studio.interop.fx_trace import ModelImportError
from studio.naming import sanitize

#: outputs looked for first in a ModelOutput (or a dict), in this order
_PREFERRED = ("logits", "last_hidden_state", "prediction_logits", "reconstruction", "out")


def output_key(output: Any) -> str | None:
    """Which entry of a ``ModelOutput`` / dict is the model's output (None: not a mapping)."""
    if not isinstance(output, dict):
        return None
    tensors = [k for k, v in output.items() if isinstance(v, torch.Tensor)]
    if not tensors:
        raise ModelImportError("the model returns no tensor")
    return next((k for k in _PREFERRED if k in tensors), tensors[0])


def example_root(
    model: nn.Module, args: tuple | list
) -> tuple[nn.Module, list[torch.Tensor], str | None]:
    """``(root, tensor arguments, output key)``: ``root(*tensors)`` is ``model(*args)``'s output.

    ``root`` is ``model`` itself where every argument is a tensor and the output is not a
    mapping; else a root sharing the model's state (see the module docstring).
    """
    args = list(args)
    with torch.no_grad():
        output = model.eval()(*args)
    key = output_key(output)
    tensors = [a for a in args if isinstance(a, torch.Tensor)]
    if key is None and len(tensors) == len(args):
        return model, tensors, None
    layout = [("in", None) if isinstance(a, torch.Tensor) else ("const", a) for a in args]
    for kind, value in layout:
        if kind == "const" and value is not None and not isinstance(value, (bool, int, float, str)):
            raise ModelImportError(
                f"an example argument is a {type(value).__name__}; give tensors or None"
            )
    return _root(model, _names(model, len(args), layout), layout, key), tensors, key


def _names(model: nn.Module, n: int, layout: list) -> list[str]:
    try:
        params = list(inspect.signature(model.forward).parameters)
    except (TypeError, ValueError):
        params = []
    names: list[str] = []
    for i, (kind, _) in enumerate(layout):
        if kind != "in":
            continue
        base = sanitize(params[i]) if i < len(params) else f"x{i + 1}"
        while base in names or not base.isidentifier():
            base = f"{base}_"
        names.append(base)
    return names


def _root(model: nn.Module, names: list[str], layout: list, key: str | None) -> nn.Module:
    forward_of = type(model).forward

    def call(self: nn.Module, *tensors: Any) -> Any:
        it = iter(tensors)
        full = [next(it) if kind == "in" else value for kind, value in layout]
        output = forward_of(self._studio_model, *full)
        return output[key] if key is not None else output

    namespace: dict[str, Any] = {"_call": call}
    exec(  # the names are identifiers (sanitize): the code is this line, nothing of the user's
        f"def forward(self, {', '.join(names)}):\n    return _call(self, {', '.join(names)})\n",
        namespace,
    )
    cls = type(
        type(model).__name__,
        (nn.Module,),
        {"forward": namespace["forward"], "__module__": __name__},
    )
    root = cls()
    object.__setattr__(root, "_studio_model", model)
    for shared in ("_parameters", "_buffers", "_modules", "_non_persistent_buffers_set"):
        root.__dict__[shared] = model.__dict__[shared]
    root.training = model.training
    return root
