"""Writes into tensors (item assignment, in-place methods) imported as the out-of-place
operations computing the same value (studio/interop/fx_writes.py): the export gives the
original's outputs at other batch sizes and lengths and contains no write; a write Studio
cannot follow (into an input, a buffer, or memory read again afterwards) is refused in one line.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from studio.compiler import generate
from studio.interop.fx_import import UntraceableError, import_example
from tests.interop.test_zoo import _perturbed, assert_exact


class ShiftRight(nn.Module):
    """Hugging Face's shift_tokens_right (BART, mBART, Marian...), then an embedding."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(50, 8)

    def forward(self, ids):
        shifted = ids.new_zeros(ids.shape)
        shifted[:, 1:] = ids[:, :-1].clone()
        shifted[:, 0] = 2
        shifted.masked_fill_(shifted == -100, 1)
        return self.embed(shifted)


def _ids(batch: int, length: int) -> torch.Tensor:
    ids = torch.randint(3, 50, (batch, length))
    ids[:, length // 2] = -100  # a label's "ignore": the pad id once shifted
    return ids


def test_shift_tokens_right_is_written_without_writes():
    """The decoder ids BART builds from its input: the same values at every batch size and
    length (ids of -100 become the pad id), from slice_scatter, select_scatter and masked_fill."""
    torch.manual_seed(0)
    model = _perturbed(ShiftRight())
    result, _ = assert_exact(model, (_ids(2, 12),), [(_ids(3, 12),), (_ids(1, 5),), (_ids(4, 30),)])
    code = generate(result.project.graph, result.project.name).source
    assert "torch.slice_scatter(" in code and "dim=1, start=1)" in code
    assert "torch.select_scatter(" in code and "dim=1, index=0)" in code
    assert ".masked_fill(" in code
    assert "masked_fill_" not in code and "[:, 0] =" not in code


class Writes(nn.Module):
    """Item assignment of each kind into a layer's output, then an in-place method."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)

    def forward(self, x):  # N×T×6
        y = self.fc(x)
        y[:, 0] = 0.5  # one position, a number
        y[:, 1:3, :2] = x[:, 1:3, 4:]  # a block inside a slice, a tensor
        y[..., -1] = x.sum(-1)  # the last feature everywhere
        y[:, -1] = x[:, 0, :1]  # broadcast: N×1 into N×6
        y[y > 1] = 1.0  # a mask, a number
        y.mul_(2)
        table = y.new_zeros((4, 6))
        table[torch.tensor([0, 2])] = 0.25  # rows by an index tensor
        table[1] = y[0, 0]  # a traced tensor broadcast into a row
        low = y.half()
        low.add_(y)  # stays half, as the in-place add keeps it
        return y + table.sum(0) + low.float()


def test_item_assignment_of_each_kind_is_exact_at_other_lengths():
    torch.manual_seed(0)
    model = _perturbed(Writes())
    more = [(torch.randn(3, 5, 6),), (torch.randn(1, 9, 6),)]
    result, _ = assert_exact(model, (torch.randn(2, 5, 6),), more)
    code = generate(result.project.graph, result.project.name).source
    forward = code[code.index("def forward") :]
    assert "] =" not in forward and "mul_(" not in forward
    assert "masked_fill(" in forward and "index_put(" in forward


class IntoInput(nn.Module):
    def forward(self, x):
        x[:, 0] = 0
        return x * 2


class ViewReadAfter(nn.Module):
    def forward(self, x):
        y = x * 2
        first = y[:, 0]  # a view of y: the write below changes it too
        y[:, 0] = 5
        return y + first.unsqueeze(1)


@pytest.mark.parametrize(
    "cls, why",
    [
        (IntoInput, "x is an input of the model"),
        (ViewReadAfter, "after a write into it"),
    ],
)
def test_a_write_studio_cannot_follow_is_refused_in_one_line(cls, why):
    """A write into the caller's tensor would be a side effect the export lacks; a view read
    after a write into its memory would read the old values."""
    with pytest.raises(UntraceableError) as e:
        import_example(cls(), (torch.randn(2, 4),))
    assert why in str(e.value) and "\n" not in str(e.value)
