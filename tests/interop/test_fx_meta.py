"""``on_meta``: modules built as under ``torch.device("meta")``, their fills skipped there only."""

from __future__ import annotations

import threading

import torch
from torch import nn

from studio.interop.fx_meta import on_meta


class _Mixed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, bias=True)
        self.bn = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, 4)
        self.attn = nn.MultiheadAttention(8, 2)
        self.ln = nn.LayerNorm(8)
        # a tensor asked for on the CPU is filled as usual
        self.register_buffer("table", torch.empty(3, device="cpu").fill_(2.0))


def _described(m: nn.Module) -> dict:
    tensors = {k: (tuple(t.shape), t.dtype, t.device.type) for k, t in m.state_dict().items()}
    settings = {
        name: {k: v for k, v in vars(mod).items() if not k.startswith("_")}
        for name, mod in m.named_modules()
    }
    return {"tensors": tensors, "settings": settings}


def test_builds_what_the_meta_device_builds():
    with torch.device("meta"):
        want = _Mixed()
    with on_meta():
        got = _Mixed()
    assert _described(got) == _described(want)
    assert got.conv.weight.is_meta and got.attn.in_proj_weight.is_meta
    assert torch.equal(got.table, torch.full((3,), 2.0))  # not on meta: filled


def test_leaves_the_fills_of_other_tensors_and_threads_alone():
    seen = {}

    def other():
        torch.manual_seed(0)
        seen["weight"] = nn.Linear(4, 4).weight.detach().clone()

    with on_meta():
        plain = torch.zeros(2, device="cpu").fill_(3.0)
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    torch.manual_seed(0)
    assert torch.equal(seen["weight"], nn.Linear(4, 4).weight.detach())
    assert torch.equal(plain, torch.full((2,), 3.0))
    assert torch.empty(1).device.type == "cpu"  # the device is the default again after it
