"""Hugging Face transformers models from tiny configs (no downloads), imported as a user would
(``file.py:make`` returning ``(model, example_args)``): the same outputs, the original
``state_dict`` loading strictly into the export, at two batch sizes and two sequence lengths.

ViT is tested with the other zoo models (tests/interop/test_zoo.py).
"""

from __future__ import annotations

import importlib.util

import pytest
import torch

from studio.compiler import build_class, generate
from studio.interop.fx_import import import_example
from tests.interop.test_zoo import _perturbed, assert_exact
from tests.interop.zoo import libraries

# found, not imported: importing it costs every xdist worker 1-2 s at collection
pytestmark = pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs transformers")


def test_bert_keeps_attention_self_so_its_state_dict_loads_strictly():
    """BertAttention's child is named ``self`` (``attention.self.query.weight``): a Python
    name reserved for variables, but an attribute may have it, so the export writes
    ``self.self = BertSelfAttention()`` as Hugging Face does and the keys load strictly. Its
    positions ``self.position_ids[:, :seq_length]`` follow the input's length (7 as well as 12)."""
    torch.manual_seed(0)
    model, (ids,) = libraries.bert(2, 12)
    more = [(torch.randint(0, 100, (3, 12)),), (torch.randint(0, 100, (2, 7)),)]
    result, export = assert_exact(_perturbed(model), (ids,), more)
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


def test_gpt2_imports_exactly_with_its_head_tied_at_two_lengths():
    """GPT-2 (transformers 5) from a tiny config: the same outputs at two batch sizes and two
    sequence lengths, the original state_dict loading strictly, ``lm_head.weight`` still the
    same tensor as ``transformer.wte.weight`` (the parameter count unchanged), and the export
    reads as GPT-2 is written: a GPT2Block class repeated, attention and MLP classes, Conv1D a
    class with its widths as arguments (its weight stored in × out, so keys and shapes load),
    no Custom module. Export, import, export: a fixed point."""
    torch.manual_seed(0)
    model, (ids,) = libraries.gpt2(2, 12)
    model = _perturbed(model)
    assert model.lm_head.weight is model.transformer.wte.weight
    more = [(torch.randint(0, 100, (3, 12)),), (torch.randint(0, 100, (1, 7)),)]
    result, export = assert_exact(model, (ids,), more)
    assert export.lm_head.weight is export.transformer.wte.weight
    assert result.params == sum(p.numel() for p in model.parameters())
    code = generate(result.project.graph, result.project.name).source
    assert "self.h = nn.Sequential(*[GPT2Block() for _ in range(2)])" in code
    for cls in ("GPT2Attention", "GPT2MLP", "GPT2Block", "GPT2Model", "Conv1D"):
        assert f"class {cls}(nn.Module):" in code
    assert "self.lm_head.weight = self.transformer.wte.weight" in code
    assert "self.c_attn = Conv1D(96, 32)" in code and "self.c_fc = Conv1D(128, 32)" in code
    assert "custom" not in code.lower()
    # export, import, export: a fixed point (the export as written, freshly built)
    torch.manual_seed(1)
    fresh = build_class(generate(result.project.graph, result.project.name))().eval()
    again = import_example(fresh, (ids,), name=result.project.name)
    assert again.matches, again.summary()
    assert generate(again.project.graph, again.project.name).source == code


def test_t5_imports_exactly_with_its_shared_embedding_tied():
    """T5Model: attention without scaling (SDPA with ``scale=1``), position buckets computed
    with comparisons and casts (``torch.lt``, ``.long()``) from the lengths, and one embedding
    under three names: ``shared`` (never called) is ``encoder.embed_tokens``, and
    ``decoder.embed_tokens.weight`` is the same tensor, so the count is the original's and the
    state_dict loads strictly; the same outputs at another length and batch size."""
    torch.manual_seed(0)
    model, args = libraries.t5(2, 12)
    model = _perturbed(model)
    result = import_example(model, args)
    assert result.matches and result.params == result.original_params, result.summary()
    export = build_class(generate(result.project.graph, result.project.name))().eval()
    export.load_state_dict(model.state_dict(), strict=True)
    ids = torch.randint(0, 100, (3, 9))
    for enc, dec in ((args[0], args[2]), (ids, ids[:, :4])):
        with torch.no_grad():
            want = model(enc, None, dec).last_hidden_state
            torch.testing.assert_close(export(enc, dec), want, atol=1e-5, rtol=0)
    assert export.shared is export.encoder.embed_tokens
    assert export.decoder.embed_tokens.weight is export.encoder.embed_tokens.weight
    code = generate(result.project.graph, result.project.name).source
    assert "scale=1.0" in code and "custom" not in code.lower()


def test_bart_with_decoder_ids_imports_exactly_and_loads_strictly():
    """BartModel given its decoder ids: the decoder builds its mask with ``torch.ones(B, T)``
    from traced sizes, which torch's argument parser refuses (``ones() takes 1 positional
    argument``) until the sizes are passed as one tuple, the same call; the shared embedding
    stays one tensor, so the count is the original's and the state_dict loads strictly; the
    same outputs at another length and batch size."""
    torch.manual_seed(0)
    model, (ids,) = libraries.bart(2, 12)
    model = _perturbed(model)
    args = (ids, None, ids[:, :5])
    result = import_example(model, args)
    assert result.matches and result.params == result.original_params, result.summary()
    export = build_class(generate(result.project.graph, result.project.name))().eval()
    export.load_state_dict(model.state_dict(), strict=True)
    more = torch.randint(3, 100, (3, 9))
    for enc, dec in ((ids, ids[:, :5]), (more, more[:, :4])):
        with torch.no_grad():
            want = model(enc, None, dec).last_hidden_state
            torch.testing.assert_close(export(enc, dec), want, atol=1e-5, rtol=0)
    code = generate(result.project.graph, result.project.name).source
    assert "custom" not in code.lower()


def test_bart_with_input_ids_only_builds_its_decoder_ids_out_of_place():
    """BartModel called with ``input_ids`` only, as the benchmark calls it: shift_tokens_right
    makes the decoder's ids by writing into a new tensor (``shifted[:, 1:] = ids[:, :-1]``,
    ``shifted[:, 0] = start``, ``shifted.masked_fill_(shifted == -100, pad)``). The export
    computes the same value without writes (slice_scatter, select_scatter, masked_fill), gives
    the original's outputs at other lengths and batch sizes and loads the original state_dict
    strictly (the writes themselves, -100 included: tests/interop/test_fx_writes.py)."""
    torch.manual_seed(0)
    model, (ids,) = libraries.bart(2, 12)
    model = _perturbed(model)
    more = [(torch.randint(3, 100, (3, 12)),), (torch.randint(3, 100, (1, 5)),)]
    result, export = assert_exact(model, (ids,), more)
    code = generate(result.project.graph, result.project.name).source
    forward = code[code.index("class BartModel") :]
    assert "torch.slice_scatter(" in forward and "torch.select_scatter(" in forward
    assert ".masked_fill(" in forward and "masked_fill_" not in forward
    assert "custom" not in code.lower()


def test_traced_sizes_given_one_by_one_to_a_factory_are_one_size():
    """``torch.ones(B, T)`` and ``torch.zeros(B, T)`` with sizes read from the input trace (plain
    torch.fx refuses them) and follow the input's size."""
    from torch import nn

    from studio.interop.fx_trace import _trace

    class Mask(nn.Module):
        def forward(self, x):
            b, t = x.size()
            return x + torch.ones(b, t) - torch.zeros(b, t, dtype=x.dtype)

    gm = _trace(Mask(), "Mask", 1)
    for shape in ((2, 3), (4, 5)):
        x = torch.randn(shape)
        torch.testing.assert_close(gm(x), x + 1)
    assert torch.ones is torch._C._VariableFunctions.ones  # put back after tracing


def test_the_eager_answer_to_is_tracing_is_scoped_to_the_trace():
    """While a trace runs, transformers' ``is_torch_fx_proxy`` answers "not traced" for the
    values that trace knows, in the trace's own thread only: another thread gets transformers'
    own answer, and the function is put back when the last of two nested traces ends."""
    import threading

    from torch import fx
    from transformers.utils import import_utils

    from studio.interop.hf_trace import eager_answers

    original = import_utils.is_torch_fx_proxy
    proxy = fx.Proxy(fx.Graph().placeholder("x"))
    seen = {}

    def elsewhere():
        seen["other thread"] = import_utils.is_torch_fx_proxy(proxy)

    with eager_answers(lambda x: True):
        with eager_answers(lambda x: False):
            seen["inner trace"] = import_utils.is_torch_fx_proxy(proxy)
        seen["outer trace"] = import_utils.is_torch_fx_proxy(proxy)
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert seen == {"inner trace": True, "outer trace": False, "other thread": True}
    assert import_utils.is_torch_fx_proxy is original
