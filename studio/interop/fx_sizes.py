"""Tensors sized by the batch, made in forward (issue #22, cause 3).

A size that differs between the import's two runs (batch 1 and 2) cannot be a literal: swin
folds the batch into its windows (``x.view(-1, 7, 7, 96)``, then ``B_ // num_win``), maxvit
reshapes to ``x.shape[:-1] + (-1,)``, edgenext builds ``torch.zeros(B, H, W)``. Such a value
is written as arithmetic on the sizes of the call's tensors (``in1.shape[0] // 64``), which
the Function block emits as it is, so the export runs at every batch size the original does
(:func:`studio.interop.fx_rule_base.symbolic`); a factory so sized is made here.
"""

from __future__ import annotations

from torch import fx

#: functions that make a tensor from sizes alone; made where the model's input is
_FACTORIES = frozenset(
    {"zeros", "ones", "full", "empty", "arange", "rand", "randn", "eye", "linspace"}
)


def sized_factory(node: fx.Node, t):
    """``torch.zeros((B, H, W))`` with ``B`` the batch: a Function block computing its sizes
    from the input's, on the input's device (a literal batch would fix the batch size)."""
    from studio.interop.fx_rule_base import function_call

    mapped = function_call(node, t)
    name = mapped.params["function"]
    if name.startswith("torch.") and name[6:] in _FACTORIES and "device" not in node.kwargs:
        mapped.params["arguments"] += ", device=in1.device"
    return mapped
