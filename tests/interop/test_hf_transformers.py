"""Hugging Face transformers models from tiny configs (no downloads), imported as a user would
(``file.py:make`` returning ``(model, example_args)``): the same outputs, the original
``state_dict`` loading strictly into the export, at two batch sizes and two sequence lengths.

ViT is tested with the other zoo models (tests/interop/test_zoo.py).
"""

from __future__ import annotations

import pytest
import torch

from studio.compiler import generate
from tests.interop.test_zoo import _perturbed, assert_exact
from tests.interop.zoo import libraries

pytest.importorskip("transformers")


def test_bert_keeps_attention_self_so_its_state_dict_loads_strictly():
    """BertAttention's child is named ``self`` (``attention.self.query.weight``): a Python
    name reserved for variables, but an attribute may have it, so the export writes
    ``self.self = BertSelfAttention()`` as Hugging Face does and the keys load strictly."""
    torch.manual_seed(0)
    model, (ids,) = libraries.bert(2, 12)
    result, export = assert_exact(_perturbed(model), (ids,), [(torch.randint(0, 100, (3, 12)),)])
    code = generate(result.project.graph, result.project.name).source
    assert "self.self = BertSelfAttention()" in code
    assert "encoder.layer.1.attention.self.query.weight" in export.state_dict()


def test_a_branch_on_a_tensor_computed_from_sizes_takes_the_example_s_way():
    """A question about a tensor made from the input's sizes only (GPT-2 asks whether its
    positions ``arange(T)`` are one run) is a question about the length: the second tracer
    answers it with the example's value, as for ``x.size(1)``; a tensor read from the data is
    still refused (tests/interop/test_zoo.py)."""
    from torch import nn

    class Positions(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            pos = torch.arange(x.size(1), device=x.device)
            if bool((pos.diff() == 1).all()):  # one run of positions: no mask needed
                return self.fc(x)
            return self.fc(x) * 0

    torch.manual_seed(0)
    result, _ = assert_exact(_perturbed(Positions()), (torch.randn(2, 8),), [(torch.randn(3, 8),)])
    assert result.project.metadata["import"]["tracer"] == "torch.fx following an example"
    types = {b.type for b in result.project.graph.blocks.values()}
    assert types == {"input", "linear", "output"}  # the question left no block behind


def test_gpt2_is_traced_on_the_path_an_eager_run_takes():
    """transformers asks ``is_tracing(positions)`` before building GPT-2's causal mask: answered
    as an eager run answers it (the positions come from sizes only), attention is SDPA with
    ``is_causal=True`` and no mask built by index arithmetic; the input's data still counts as
    traced, so its padding check (which reads token values) stays skipped."""
    from studio.interop.fx_examples import example_root
    from studio.interop.fx_trace import _trace

    model, args = libraries.gpt2(2, 12)
    root, tensors, _ = example_root(model.eval(), args)
    gm = _trace(root, "gpt2", 1, tensors)
    calls = [n for n in gm.graph.nodes if n.op in ("call_function", "call_method")]
    names = {getattr(n.target, "__name__", n.target) for n in calls}
    assert not names & {"cumsum", "diff", "new_ones", "and_"}, names
    sdpa = [n for n in calls if "scaled_dot_product_attention" in str(n.target)]
    assert len(sdpa) == 2 and all(n.kwargs.get("is_causal") is True for n in sdpa)
    assert all(n.kwargs.get("attn_mask") is None for n in sdpa)
