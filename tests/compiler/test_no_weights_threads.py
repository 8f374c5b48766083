"""Memory estimates build models without weights, in worker threads; overlapping estimates must
leave torch's loading functions as they found them, whatever order they end in."""

import threading

import torch
from torch import nn

from studio.compiler import memory


def test_overlapping_estimates_restore_torchs_loaders_in_any_order():
    originals = (torch.hub.load_state_dict_from_url, torch.load, nn.Module.load_state_dict)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with memory._no_weights():
            first_in.set()
            second_in.wait(30)
            seen["first"] = torch.load("no such file")
        first_out.set()

    def second():
        first_in.wait(30)
        with memory._no_weights():
            second_in.set()
            first_out.wait(30)  # the first estimate ends while this one is still inside
            seen["second"] = torch.load("no such file")

    a, b = threading.Thread(target=first), threading.Thread(target=second)
    a.start(), b.start()
    a.join(60), b.join(60)
    assert seen["first"] == {} and seen["second"] == {}
    assert (torch.hub.load_state_dict_from_url, torch.load, nn.Module.load_state_dict) == originals
    model = nn.Linear(2, 2)
    try:
        model.load_state_dict({})
        raised = False
    except RuntimeError:
        raised = True
    assert raised, "load_state_dict still ignores missing keys after the estimates ended"
