"""The import's check proves the generated class computes the original's graph (traced again
with torch.fx, numbered node for node, the weights by the key mapping), with no forward pass;
a wrong import is not proved and the values, compared instead, show it is wrong."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

import studio.compiler
import studio.interop.fx_import as fx_import
from studio.interop.fx_import import import_module

INPUTS = [((3, 40, 40), "float32")]


class Net(nn.Module):
    """Written as torchvision writes its models: an in-place ReLU, ``out += identity``, functional
    pooling and flatten, ``view`` with the batch read from a size; Studio writes each otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.bn = nn.BatchNorm2d(4)
        self.act = nn.ReLU(inplace=True)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc1 = nn.Linear(4, 4)
        self.fc2 = nn.Linear(4, 4)

    def forward(self, x):
        x = self.pool(self.act(self.bn(self.conv(x))))
        y = self.conv2(x)
        y += x
        y = torch.flatten(nn.functional.adaptive_avg_pool2d(y.relu(), 1), 1)
        return self.fc2(self.fc1(y).relu()).view(y.size(0), 2, 2)


def _net() -> Net:
    """A Net whose outputs depend on every layer (with some seeds fc1's ReLU zeroes all four
    values at the check's input, and fc2 returns its bias whatever came before: values
    compared there show no difference, where the graphs do)."""
    torch.manual_seed(0)
    return Net()


def _checked(
    monkeypatch, model: nn.Module, edit=None, weights=None, inputs=INPUTS, hierarchy=False
):
    """``model`` imported and checked, the generated source changed by ``edit`` and the
    weights' mapping by ``weights`` first; and why the proof was not made (None: proved; with
    ``hierarchy``, of the import with module definitions, the first one checked)."""
    generate = studio.compiler.generate
    if edit is not None:
        monkeypatch.setattr(
            studio.compiler,
            "generate",
            lambda *a, **k: dataclasses.replace(
                generate(*a, **k), source=edit(generate(*a, **k).source)
            ),
        )
    if weights is not None:
        remap = fx_import._remap
        monkeypatch.setattr(fx_import, "_remap", lambda *a: (weights(remap(*a)[0]), remap(*a)[1]))
    reasons = []
    prove = fx_import._prove
    monkeypatch.setattr(fx_import, "_prove", lambda *a: reasons.append(prove(*a)) or reasons[-1])
    result = import_module(model.eval(), inputs, name="Net", hierarchy=hierarchy)
    return result, reasons[0]


def test_an_import_is_proved_from_its_graph_and_no_model_runs(monkeypatch):
    def no_forward(*args, **kwargs):
        raise AssertionError("the values were compared")

    monkeypatch.setattr(fx_import, "_compare_outputs", no_forward)
    result, unproved = _checked(monkeypatch, _net())
    assert unproved is None and result.checked_by == "graph"
    assert result.matches and result.max_difference == 0.0


def _swap_calls(first: str, second: str):
    """The two calls exchanged where they are written (``self.fc2(x).reshape(...)`` keeps its
    reshape: Studio joins a reshape to the statement that made its input)."""
    return lambda source: source.replace(first, "\0").replace(second, first).replace("\0", second)


def _drop_line_after(marker: str):
    def edit(source: str) -> str:
        lines = source.splitlines()
        i = next(n for n, line in enumerate(lines) if marker in line and "(x)" in line)
        assert "relu" in lines[i + 1], lines[i + 1]
        del lines[i + 1]
        return "\n".join(lines) + "\n"

    return edit


def _swap_weights(sd: dict) -> dict:
    sd = dict(sd)
    sd["fc1.weight"], sd["fc2.weight"] = sd["fc2.weight"], sd["fc1.weight"]
    return sd


WRONG = {
    "two layers swapped": (_swap_calls("self.fc1(x)", "self.fc2(x)"), None, "fc2"),
    "an activation dropped": (_drop_line_after("self.fc1("), None, "fc2"),
    "a conv's stride changed": (lambda s: s.replace("stride=2", "stride=1"), None, "conv"),
    "a weight mapped to another layer": (None, _swap_weights, "fc1"),
}


@pytest.mark.parametrize("case", list(WRONG))
def test_a_wrong_import_is_not_proved_and_its_outputs_differ(monkeypatch, case):
    edit, weights, where = WRONG[case]
    result, unproved = _checked(monkeypatch, _net(), edit, weights)
    assert unproved is not None and f"the generated model's {where} " in unproved, unproved
    assert result.checked_by == "outputs"
    assert not result.matches and 0 < result.max_difference < math.inf, result.summary()
    assert any(
        n.startswith("The generated code differs from the original's graph") for n in result.notes
    )


def test_a_batch_written_as_a_constant_is_not_proved(monkeypatch):
    """``reshape(1, 2, 2)`` gives the original's values at batch 1: the sizes are compared in
    every run the import recorded (batch 1 and 2, another image size), not in one."""
    constant = ".reshape(1, 2, 2)"
    result, unproved = _checked(
        monkeypatch, Net(), lambda s: s.replace(".reshape(x.shape[0], 2, 2)", constant)
    )
    assert unproved is not None and "reshape" in unproved, unproved
    assert result.checked_by == "outputs"


class Overwrites(nn.Module):
    """The in-place ReLU overwrites ``y``, which the sum reads afterwards: ``2 * relu(y)``."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.act = nn.ReLU(inplace=True)
        with torch.no_grad():  # both signs, whatever the input: the ReLU changes y
            self.fc.bias.copy_(torch.tensor([10.0, -10.0, 10.0, -10.0]))

    def forward(self, x):
        y = self.fc(x)
        z = self.act(y)
        return y + z


def test_an_in_place_write_to_a_tensor_read_again_is_not_taken_for_its_out_of_place_form(
    monkeypatch,
):
    generate = studio.compiler.generate
    reasons = []
    prove = fx_import._prove
    monkeypatch.setattr(fx_import, "_prove", lambda *a: reasons.append(prove(*a)) or reasons[-1])
    original = Overwrites().eval()
    result = import_module(original, [((4,), "float32")], hierarchy=False)
    assert reasons and reasons[0] is not None and "overwrites" in reasons[0], reasons
    assert result.checked_by == "outputs"
    x = torch.randn(3, 4)
    model = studio.compiler.build_class(generate(result.project.graph, result.project.name))()
    model.load_state_dict(fx_import.remap_state_dict(original.state_dict(), result.project))
    # the values decide: the import is exact exactly when the check says so
    assert result.matches == torch.allclose(model.eval()(x), original(x.clone()))


class TimmStyle(nn.Module):
    """As timm writes it: an in-place activation behind an Identity (its DropBlock when off),
    and a squeeze-excite mean with its dims given by position."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.drop_block = nn.Identity()
        self.act = nn.SiLU(inplace=True)
        self.fc = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        x = self.act(self.drop_block(self.bn(self.conv(x))))
        return x * self.fc(x.mean((2, 3), keepdim=True)).sigmoid()


def test_timm_s_spelling_is_proved(monkeypatch):
    torch.manual_seed(0)
    result, unproved = _checked(monkeypatch, TimmStyle())
    assert unproved is None and result.checked_by == "graph" and result.matches


class WritesUnused(nn.Module):
    """``x.add_(1)``'s result is not used, but the Linear reads the x it changed."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        y.add_(1.0)
        return y * 2


def test_a_write_whose_result_is_unused_is_not_left_out_of_the_proof(monkeypatch):
    """In the trace ``add_`` has no user; leaving it out would take ``fc(x) * 2`` for what the
    original computes (the import writes ``x + 1`` and drops it today; the values show it)."""
    torch.manual_seed(0)
    result, unproved = _checked(monkeypatch, WritesUnused(), inputs=[((4,), "float32")])
    assert unproved is not None and "add_ writes into a tensor" in unproved, unproved
    assert result.checked_by == "outputs"


class Noisy(nn.Module):
    """``F.dropout`` is random in eval mode too (its ``training`` defaults to True)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return nn.functional.dropout(self.fc(x), 0.5)


def test_random_numbers_are_not_proved_equal(monkeypatch):
    result, unproved = _checked(monkeypatch, Noisy(), inputs=[((4,), "float32")])
    assert unproved is not None and "random" in unproved, unproved
    assert result.checked_by == "outputs"


class Quiet(Noisy):
    """The tutorials' ``F.dropout(x, training=self.training)``: in eval mode, its input."""

    def forward(self, x):
        return nn.functional.dropout(self.fc(x), 0.5, training=self.training)


def test_dropout_told_it_is_not_training_is_its_input(monkeypatch):
    result, unproved = _checked(monkeypatch, Quiet(), inputs=[((4,), "float32")])
    assert unproved is None and result.checked_by == "graph" and result.matches


class Block(nn.Module):
    def __init__(self, cin: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, 4, 3, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


class ThreeUses(nn.Module):
    """One class used three times: the generated code is one class ``Block(in_channels,
    stride)`` and three calls, ``a`` and ``b`` with weights of the same shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.a, self.b = Block(3, 2), Block(4, 1), Block(4, 2)

    def forward(self, x):
        return self.b(self.a(self.stem(x)))


def _swap_uses(sd: dict) -> dict:
    """Two uses' conv weights swapped (in the import with definitions; the flat one's keys
    are ``a_conv.weight``...)."""
    sd = dict(sd)
    if "a.conv.weight" in sd:
        sd["a.conv.weight"], sd["b.conv.weight"] = sd["b.conv.weight"], sd["a.conv.weight"]
    return sd


SAME_CLASS = {
    "a use given another use's argument": (
        lambda s: s.replace("Block(4, 2)", "Block(4, 1)"),
        None,
        "b_conv",
    ),
    "two uses' weights swapped": (None, _swap_uses, "a_conv"),
}


@pytest.mark.parametrize("case", list(SAME_CLASS))
def test_every_use_of_a_generated_class_is_checked(monkeypatch, case):
    """A class proved for one use is not taken as proved for the others: each use's own
    arguments and weights are compared, so a wrong one is found (and the import falls back
    to the flat graph, which the edit does not touch)."""
    torch.manual_seed(0)
    _, unproved = _checked(monkeypatch, ThreeUses(), hierarchy=True)
    assert unproved is None, unproved  # the import as generated: proved
    edit, weights, where = SAME_CLASS[case]
    assert "self.b = Block(4, 2)" in studio.compiler.generate(*_project_of(ThreeUses())).source
    result, unproved = _checked(monkeypatch, ThreeUses(), edit, weights, hierarchy=True)
    assert unproved is not None and f"the generated model's {where} " in unproved, unproved
    assert "Imported flat: with module definitions it did not reproduce the original." in (
        result.notes
    )


def _project_of(model: nn.Module) -> tuple:
    project = import_module(model.eval(), INPUTS, name="Net", verify=False).project
    return project.graph, project.name
