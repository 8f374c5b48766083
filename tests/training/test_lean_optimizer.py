"""The trainer's optimizer skips torch's profiler ranges in zero_grad() and step() (they cost more
than the trainer's own work per step) and changes nothing else."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.optim.optimizer import register_optimizer_step_pre_hook

from studio.training.trainer import lean_optimizer


def _steps(model: nn.Module, optimizer: torch.optim.Optimizer, n: int = 5) -> list[float]:
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(n):
        x, y = torch.randn(8, 4, generator=g), torch.randint(0, 3, (8,), generator=g)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    "make",
    [
        lambda p: torch.optim.Adam(p, lr=0.01, fused=True),
        lambda p: torch.optim.Adam(p, lr=0.01, foreach=True),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.AdamW(p, lr=0.01, foreach=False),
    ],
    ids=["adam-fused", "adam-foreach", "sgd", "adamw-for-loop"],
)
def test_it_trains_exactly_as_torchs_optimizer(make):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    twin = copy.deepcopy(model)
    stock, lean = make(model.parameters()), lean_optimizer(make(twin.parameters()))
    assert _steps(model, stock) == _steps(twin, lean)
    for a, b in zip(model.parameters(), twin.parameters(), strict=True):
        assert torch.equal(a, b)
    assert lean.state_dict()["state"][0].keys() == stock.state_dict()["state"][0].keys()


def test_zero_grad_sets_the_gradients_to_none_or_to_zero_when_asked():
    layer = nn.Linear(2, 2)
    optimizer = lean_optimizer(torch.optim.SGD(layer.parameters(), lr=0.1))
    layer(torch.ones(1, 2)).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert all(torch.equal(p.grad, torch.zeros_like(p)) for p in layer.parameters())
    optimizer.zero_grad()
    assert all(p.grad is None for p in layer.parameters())


def test_a_step_hook_makes_it_torchs_whole_step_again():
    layer = nn.Linear(2, 2)
    optimizer = lean_optimizer(torch.optim.SGD(layer.parameters(), lr=0.1))
    seen = []
    handle = optimizer.register_step_post_hook(lambda opt, args, kwargs: seen.append("own"))
    glob = register_optimizer_step_pre_hook(lambda *a: seen.append("global"))
    try:
        layer(torch.ones(1, 2)).sum().backward()
        optimizer.step()
    finally:
        handle.remove()
        glob.remove()
    assert seen == ["global", "own"]
    optimizer.step()
    assert seen == ["global", "own"]  # removed: not called


def test_a_closure_is_passed_on():
    layer = nn.Linear(2, 1)
    optimizer = lean_optimizer(torch.optim.LBFGS(layer.parameters(), lr=0.1, max_iter=2))

    def closure():
        optimizer.zero_grad()
        loss = layer(torch.ones(3, 2)).pow(2).mean()
        loss.backward()
        return loss

    assert isinstance(optimizer.step(closure), torch.Tensor)


def test_a_group_added_later_has_its_gradients_cleared_too():
    first, second = nn.Linear(2, 2), nn.Linear(2, 2)
    optimizer = lean_optimizer(torch.optim.SGD(first.parameters(), lr=0.1))
    optimizer.add_param_group({"params": list(second.parameters())})
    second(first(torch.ones(1, 2))).sum().backward()
    optimizer.zero_grad()
    assert all(p.grad is None for p in [*first.parameters(), *second.parameters()])
