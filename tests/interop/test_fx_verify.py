"""The import's check builds the generated model without initialising weights it overwrites:
on the meta device, given the original's tensors; anything __init__ computes itself (a buffer the
state dict does not hold, a plain tensor attribute) makes it build the model the usual way."""

from __future__ import annotations

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
    fx_import._verify(original, code_result, [((4,), "float32")], recorded=torch.full((2, 3), 99.0))
    assert code_result.matches  # the wrong recorded outputs were not believed
