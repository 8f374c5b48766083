"""The import's check builds the generated model without initialising weights it overwrites:
on the meta device, given the original's tensors; anything __init__ computes itself (a buffer the
state dict does not hold, a plain tensor attribute) makes it build the model the usual way."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from studio.interop.fx_import import _with_weights, import_module


class Plain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.norm = nn.BatchNorm1d(3)

    def forward(self, x):
        return self.norm(self.fc(x))


class Computed(Plain):
    """A non-persistent buffer and a plain tensor, both made by __init__, not in the state dict."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.arange(3.0) + 1, persistent=False)
        self.shift = torch.full((3,), 0.5)

    def forward(self, x):
        return super().forward(x) * self.scale + self.shift


def test_the_check_uses_the_original_tensors_and_runs_no_initialisation(monkeypatch):
    original = Plain()
    sd = original.state_dict()

    initialised = []
    reset = nn.Linear.reset_parameters

    def record(self):
        initialised.append(self.weight.device.type)
        reset(self)

    monkeypatch.setattr(nn.Linear, "reset_parameters", record)
    model, missing = _with_weights(Plain, sd)
    assert initialised == ["meta"]  # initialising meta tensors computes nothing
    assert missing == [] and not model.training
    assert model.fc.weight.data_ptr() == original.fc.weight.data_ptr()  # the same tensor, no copy
    x = torch.randn(5, 4)
    assert torch.equal(model(x), original.eval()(x))


def test_what_init_computes_itself_is_built_the_usual_way():
    original = Computed()
    model, missing = _with_weights(Computed, original.state_dict())
    assert missing == [] and not model.scale.is_meta and not model.shift.is_meta
    x = torch.randn(5, 4)
    assert torch.equal(model(x), original.eval()(x))


def test_a_weight_with_no_original_is_reported_and_the_model_still_runs():
    sd = {k: v for k, v in Plain().state_dict().items() if k != "fc.bias"}
    model, missing = _with_weights(Plain, sd)
    assert missing == ["fc.bias"] and not model.fc.bias.is_meta
    model(torch.randn(2, 4))


def test_imports_are_checked_with_identical_outputs():
    result = import_module(Plain().eval(), [((4,), "float32")], name="Plain")
    assert result.matches and result.max_difference == 0.0


def test_the_check_compares_with_what_the_import_recorded_and_does_not_run_the_original_again(
    monkeypatch,
):
    calls = []
    forward = Plain.forward

    def counted(self, x):
        calls.append(type(x).__name__)
        return forward(self, x)

    monkeypatch.setattr(Plain, "forward", counted)
    unchecked = import_module(Plain(), [((4,), "float32")], verify=False)
    before = len(calls)
    checked = import_module(Plain(), [((4,), "float32")], verify=True)
    assert unchecked.max_difference is None and checked.matches
    assert (
        len(calls) - before == before
    )  # the trace's call only: the check ran the original no more


def test_an_import_whose_outputs_differ_from_the_recorded_ones_is_checked_against_the_original_again():
    """The recorded outputs come from an unseeded run: a model that draws noise is run again,
    seeded as the generated model is, before the outputs are called different."""
    import studio.interop.fx_import as fx_import

    result = import_module(Plain(), [((4,), "float32")], verify=False)
    original = Plain().eval()
    code_result = fx_import.ImportResult(
        result.project, [], original_params=fx_import._count(original)
    )
    wrong = {1: torch.full((1, 3), 99.0), 2: torch.full((2, 3), 99.0)}
    fx_import._verify(original, code_result, [((4,), "float32")], recorded=wrong)
    assert code_result.matches  # the wrong recorded outputs were not believed


def _checked_after(edit):
    """An import of Plain whose project ``edit`` changes, checked as the import checks it."""
    import studio.interop.fx_import as fx_import

    inputs = [((4,), "float32")]
    original = Plain().eval()
    result = import_module(original, inputs, verify=False)
    edit(result.project.graph)
    with torch.no_grad():
        recorded = {b: original(*fx_import._examples(inputs, b)) for b in (1, 2)}
    checked = fx_import.ImportResult(result.project, [], original_params=fx_import._count(original))
    fx_import._verify(original, checked, inputs, recorded)
    return checked


def _before_output(graph, type_id: str, params: dict) -> None:
    """Put a block of ``type_id`` on the wire into the Output block."""
    out = next(b for b in graph.blocks.values() if b.type == "output")
    wire = graph.edge_into(out.id, "in")
    graph.disconnect(wire.id)
    block = graph.add_block(type_id, params=params)
    graph.connect(wire.src, wire.src_port, block.id, "in")
    graph.connect(block.id, "out", out.id, "in")


def test_an_export_that_computes_other_values_is_caught():
    checked = _checked_after(
        lambda g: _before_output(g, "scalar_op", {"op": "x * c", "value": 1.5})
    )
    assert not checked.matches and 0 < checked.max_difference < math.inf


def test_an_export_right_at_batch_1_only_is_caught_by_its_shapes_at_batch_2():
    """Summing over the batch changes nothing at batch 1, where the values are compared; the
    outputs' shapes at batch 2 (the compiler's analysis against the original's run) differ, so
    the values are compared at batch 2 too."""
    checked = _checked_after(lambda g: _before_output(g, "sum", {"dims": (0,), "keepdim": True}))
    assert not checked.matches and checked.max_difference == math.inf
    assert any("1x3" in n and "2x3" in n for n in checked.notes), checked.notes


def test_an_unchanged_export_matches_after_the_same_steps():
    checked = _checked_after(lambda g: None)
    assert checked.matches and checked.max_difference == 0.0


class SmallCNN(nn.Module):
    """Takes any image size from 32 pixels; ``kernel`` 17 makes it refuse images under 72."""

    def __init__(self, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(4, 4, kernel)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))

    def forward(self, x):
        return self.head(self.conv2(self.pool(self.conv(x).relu())))


def _sizes_seen(monkeypatch, original):
    """The input shapes the original module is called with, from now on."""
    seen = []
    forward = type(original).forward

    def counted(self, x):
        seen.append(tuple(x.shape))
        return forward(self, x)

    monkeypatch.setattr(type(original), "forward", counted)
    return seen


def test_a_model_that_takes_any_size_is_compared_on_smaller_images(monkeypatch):
    """The import ran it at 96 and 128 pixels: the check compares the generated model with the
    original on 64-pixel images, not on a run at 96."""
    original = SmallCNN().eval()
    seen = _sizes_seen(monkeypatch, original)
    checked = import_module(original, [((3, 96, 96), "float32")], name="SmallCNN")
    assert checked.matches and checked.max_difference == 0.0
    assert seen[-1] == (1, 3, 64, 64)  # the check's run of the original, at batch 1


def test_a_model_that_refuses_smaller_images_is_compared_at_its_own_size(monkeypatch):
    original = SmallCNN(kernel=17).eval()
    with torch.no_grad(), pytest.raises(RuntimeError):
        original(torch.randn(1, 3, 64, 64))
    checked = import_module(original, [((3, 96, 96), "float32")], name="SmallCNN")
    assert checked.matches and checked.max_difference == 0.0


def test_an_export_that_differs_is_caught_at_the_smaller_size_and_at_its_own():
    import studio.interop.fx_import as fx_import

    inputs = [((3, 96, 96), "float32")]
    original = SmallCNN().eval()
    result = import_module(original, inputs, verify=False)
    _before_output(result.project.graph, "scalar_op", {"op": "x * c", "value": 1.5})
    with torch.no_grad():
        recorded = {b: original(*fx_import._examples(inputs, b)) for b in (1, 2)}
    checked = fx_import.ImportResult(result.project, [], original_params=fx_import._count(original))
    fx_import._verify(original, checked, inputs, recorded, sizes_free=True)
    assert not checked.matches and 0 < checked.max_difference < math.inf
