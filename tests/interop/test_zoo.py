"""The models people import from elsewhere (tests/interop/zoo): a representative three of each
zoo, imported with perturbed weights, compared with the original, and loaded strictly.

The whole zoo is measured by ``benchmarks/import_all.py --zoo timm|transformers|tutorials``.
"""

from __future__ import annotations

import pytest
import torch

from studio.compiler import build_class, generate
from studio.interop.fx_import import import_example
from tests.interop.zoo import libraries
from tests.interop.zoo.tutorials import SECOND, TUTORIALS


def _perturbed(model):
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.02)
        for name, b in model.named_buffers():
            if name.endswith("running_var"):
                b.mul_(1.5).add_(0.1)
            elif name.endswith("running_mean"):
                b.add_(0.1)
    return model.eval()


def _outputs(model, args):
    torch.manual_seed(0)  # a model that samples noise draws the same noise
    with torch.no_grad():
        out = model(*args)
    if isinstance(out, dict):  # a Hugging Face ModelOutput: its first tensor (logits)
        return next(iter(out.values()))
    return out[0] if isinstance(out, tuple) else out


def assert_exact(model, args, more_args=()):
    """Imported with the same outputs and parameter count; the original state_dict loads into
    the exported class unchanged (strict) and gives the same outputs at every example size."""
    result = import_example(model, args, name=type(model).__name__)
    assert result.matches and result.params == result.original_params, result.summary()
    export = build_class(generate(result.project.graph, result.project.name))().eval()
    export.load_state_dict(model.state_dict(), strict=True)
    for x in [args, *more_args]:
        want, got = _outputs(model, x), _outputs(export, x)
        assert want.shape == got.shape
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
    return result, export


@pytest.mark.parametrize("name", ["unet", "stn", "vae"])
def test_tutorial_models_import_exactly_at_two_sizes(name):
    """The U-Net (pads to the skip's size: 64 and 60 pixels), the spatial transformer
    (affine_grid's size from the input) and the VAE (samples noise, returns a tuple): each
    exactly the model at two batch sizes, and at a second input size where it has one."""
    cls, example = TUTORIALS[name]
    model = _perturbed(cls())
    more = [example(3)] + ([SECOND[name](3)] if name in SECOND else [])
    assert_exact(model, example(2), more)


def _constants(sd):
    return {
        k: float(v.reshape(-1)[0])
        for k, v in sd.items()
        if v.numel() and bool((v == v.reshape(-1)[0]).all())
    }


@pytest.mark.parametrize(
    "name", ["regnetx_002", "convnext_atto", "mobilenetv3_small_050", "edgenext_xx_small"]
)
def test_timm_models_import_exactly(name):
    """regnetx and mobilenetv3 read their BatchNorm buffers directly (timm's BatchNormAct2d),
    convnext its layer scales and LayerNorm2d weights (Parameter blocks); edgenext reshapes to
    ``H * W`` and builds its encoding from H and W, computed in the export from the input, so
    each runs at a second image size (48 pixels) as the original does."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    model = _perturbed(timm.create_model(name, pretrained=False))
    assert_exact(model, (torch.randn(2, 3, 64, 64),), [(torch.randn(1, 3, 48, 48),)])


def test_a_fresh_timm_import_starts_as_timm_starts():
    """Imported fresh, convnext's export starts its layer scales at 1e-6 and its norms at ones,
    as timm does (not at zeros: a dead network for anyone who trains it)."""
    timm = pytest.importorskip("timm")
    model = timm.create_model("convnext_atto", pretrained=False).eval()
    fresh = _constants(model.state_dict())
    result = import_example(model, (torch.randn(2, 3, 64, 64),), verify=False)
    again = _constants(
        build_class(generate(result.project.graph, result.project.name))().state_dict()
    )
    scales = [k for k in fresh if k.endswith("gamma")]
    assert scales and all(again.get(k) == pytest.approx(1e-6) for k in scales)
    norms = [k for k in fresh if k.endswith("norm.weight")]
    assert norms and all(again.get(k) == 1.0 for k in norms)


def test_a_model_output_and_none_arguments_import_as_the_model_is_called():
    """A Hugging Face style model: called with input_ids and None for the mask, returning a
    ModelOutput; the import keeps its logits and records so."""
    transformers = pytest.importorskip("transformers")
    from torch import nn

    class TinyLM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(50, 16)
            self.head = nn.Linear(16, 50)

        def forward(self, input_ids, attention_mask=None, labels=None):
            x = self.embed(input_ids)
            if attention_mask is not None:
                x = x * attention_mask.unsqueeze(-1)
            return transformers.modeling_outputs.CausalLMOutput(logits=self.head(x))

    model = _perturbed(TinyLM())
    ids = torch.randint(0, 50, (2, 7))
    result = import_example(model, (ids, None))
    assert result.matches and result.project.metadata["import"]["output"] == "logits"
    export = build_class(generate(result.project.graph, result.project.name))().eval()
    export.load_state_dict(model.state_dict(), strict=True)
    torch.testing.assert_close(export(ids), model(ids).logits)


def test_control_flow_on_sizes_is_followed_and_on_data_refused():
    """nanoGPT's ``assert t <= block_size`` stops plain torch.fx; the second tracer follows
    the example there, while a branch on the data is still refused in one line."""
    from torch import nn

    from studio.interop.fx_import import UntraceableError

    class SizeCheck(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            b, t = x.size()
            assert t <= 8, "too long"
            return self.fc(x) + torch.arange(t, device=x.device, dtype=x.dtype)

    class DataBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x):
            return self.fc(x) if x.sum() > 0 else -self.fc(x)

    result, _ = assert_exact(_perturbed(SizeCheck()), (torch.randn(2, 8),), [(torch.randn(5, 8),)])
    assert result.project.metadata["import"]["tracer"] == "torch.fx following an example"
    with pytest.raises(UntraceableError) as e:
        import_example(DataBranch(), (torch.randn(2, 8),))
    assert "control flow" in str(e.value) and "\n" not in str(e.value)


def test_a_named_sequential_keeps_its_names():
    """densenet's ``features`` is an nn.Sequential of an OrderedDict (conv0, norm0...): it
    becomes a class of its own with those attributes, so its state_dict keys load strictly."""
    from collections import OrderedDict

    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                OrderedDict(
                    [
                        ("conv0", nn.Conv2d(3, 8, 3)),
                        ("norm0", nn.BatchNorm2d(8)),
                        ("relu0", nn.ReLU()),
                    ]
                )
            )
            self.classifier = nn.Linear(8, 4)

        def forward(self, x):
            return self.classifier(self.features(x).mean((2, 3)))

    result, _ = assert_exact(_perturbed(Net()), (torch.randn(2, 3, 16, 16),))
    (features,) = result.project.graph.library.definitions.values()
    assert {b.name for b in features.graph} >= {"conv0", "norm0", "relu0"}


def test_a_hugging_face_vit_imports_into_blocks_and_loads_its_state_dict_strictly():
    """transformers' ViT from a tiny config: attention passes sdpa its default scale
    (head_dim ** -0.5) explicitly, the patch embedding reads its projection's weight only for
    its dtype, and the layers are an nn.ModuleList looped over. The export is the model as a
    person would write it (a ViTLayer class repeated, attention and MLP classes), with no
    Custom module, and the original state_dict loads into it strictly."""
    pytest.importorskip("transformers")
    torch.manual_seed(0)
    model, (x,) = libraries.vit()
    model = _perturbed(model)
    result, export = assert_exact(model, (x,), [(torch.randn(3, 3, 32, 32),)])
    code = generate(result.project.graph, result.project.name).source
    assert "self.layers = nn.Sequential(*[ViTLayer() for _ in range(2)])" in code
    assert "class ViTAttention(nn.Module):" in code and "class ViTMLP(nn.Module):" in code
    assert "custom" not in code.lower()
    # export, import, export: a fixed point
    again = import_example(export, (x,), name=result.project.name)
    assert generate(again.project.graph, again.project.name).source == code


def test_timm_attention_with_the_batch_moved_and_index_buffers_imports_exactly():
    """timm's ViT attention permutes qkv to 3×N×heads×... (the batch in the second dimension),
    and LeViT's attention reads its bias table through an index buffer
    (``attention_biases[:, attention_bias_idxs]``): an Index by tensor block."""
    pytest.importorskip("timm")
    from timm.models.levit import Attention as LevitAttention
    from timm.models.vision_transformer import Attention
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = Attention(32, num_heads=2, qkv_bias=True)
            self.levit = LevitAttention(32, key_dim=8, num_heads=2, attn_ratio=2, resolution=3)

        def forward(self, x):
            return self.levit(self.attn(x))

    torch.manual_seed(0)
    result, _ = assert_exact(
        _perturbed(Net()), (torch.randn(2, 9, 32),), [(torch.randn(3, 9, 32),)]
    )
    types = {b.type for d in result.project.graph.library.definitions.values() for b in d.graph}
    types |= {b.type for b in result.project.graph}
    assert "take" in types and "custom_module" not in types


def test_a_module_list_looped_over_with_a_second_input_keeps_its_keys():
    """``for layer in self.layers: x = layer(x, mask)`` (how Hugging Face and timm stack their
    blocks): one class repeated in an nn.ModuleList looped over the same way, keys layers.0..."""
    from torch import nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x, gate):
            return x + self.fc(x) * gate

    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.gate = nn.Linear(8, 8)
            self.layers = nn.ModuleList([Layer() for _ in range(3)])

        def forward(self, x):
            gate = torch.sigmoid(self.gate(x))
            for layer in self.layers:
                x = layer(x, gate)
            return x

    torch.manual_seed(0)
    result, _ = assert_exact(_perturbed(Stack()), (torch.randn(2, 8),), [(torch.randn(5, 8),)])
    code = generate(result.project.graph, result.project.name).source
    assert "self.layers = nn.ModuleList([Layer() for _ in range(3)])" in code


def test_a_sequential_whose_children_are_called_one_by_one_keeps_its_keys():
    """timm's heads: ``self.head = nn.Sequential(OrderedDict(pool=..., norm=..., fc=...))``
    called as ``self.head.fc(self.head.norm(...))`` (never ``self.head(x)``): the head stays a
    container of its own, so head.norm.weight and head.fc.weight load strictly."""
    from collections import OrderedDict

    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3)
            self.head = nn.Sequential(
                OrderedDict(
                    [
                        ("norm", nn.BatchNorm2d(8)),
                        ("flatten", nn.Flatten()),
                        ("fc", nn.Linear(8, 4)),
                    ]
                )
            )

        def forward(self, x):
            x = self.stem(x).mean((2, 3), keepdim=True)
            return self.head.fc(self.head.flatten(self.head.norm(x)))

    torch.manual_seed(0)
    assert_exact(_perturbed(Net()), (torch.randn(2, 3, 16, 16),), [(torch.randn(3, 3, 16, 16),)])


def test_a_parameter_read_through_a_child_without_its_forward_keeps_its_key():
    """coatnet's attention reads its bias table as ``self.rel_pos.get_bias()`` (never calling
    ``rel_pos``): the table stays inside ``rel_pos``, a module that returns it, so
    ``attn.rel_pos.relative_position_bias_table`` loads strictly."""
    pytest.importorskip("timm")
    from functools import partial

    from timm.layers.pos_embed_rel import RelPosBias
    from timm.models.maxxvit import MaxxVitTransformerCfg, TransformerBlock2d
    from torch import nn

    cfg = MaxxVitTransformerCfg(dim_head=8, window_size=(4, 4), rel_pos_type="bias")
    rel_pos = partial(RelPosBias, window_size=(4, 4))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(
                TransformerBlock2d(8, 16, stride=2, rel_pos_cls=rel_pos, cfg=cfg),
                TransformerBlock2d(16, 16, rel_pos_cls=rel_pos, cfg=cfg),
            )

        def forward(self, x):
            return self.blocks(x)

    torch.manual_seed(0)
    _, export = assert_exact(
        _perturbed(Net()), (torch.randn(2, 8, 8, 8),), [(torch.randn(3, 8, 8, 8),)]
    )
    assert "blocks.1.attn.rel_pos.relative_position_bias_table" in export.state_dict()


def test_a_module_list_whose_children_are_called_one_each_keeps_its_keys():
    """hrnet's ``transition1``: ``[t(x) for t in self.transition1]``, each child on its own
    call, not a chain. The list stays a container (an nn.ModuleList subclass calling
    ``self[0]``, ``self[1]``), so ``transition.0.0.weight`` loads strictly."""
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, padding=1)
            self.transition = nn.ModuleList(
                [
                    nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()),
                    nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16)),
                ]
            )
            self.pick = nn.ModuleList([nn.Identity(), nn.Conv2d(8, 8, 1)])  # [1] only
            self.head = nn.Linear(24, 4)

        def forward(self, x):
            x = self.pick[1](self.stem(x))
            xs = [t(x) for t in self.transition]
            return self.head(torch.cat([xs[0].mean((2, 3)), xs[1].mean((2, 3))], 1))

    torch.manual_seed(0)
    result, export = assert_exact(
        _perturbed(Net()), (torch.randn(2, 3, 16, 16),), [(torch.randn(3, 3, 16, 16),)]
    )
    assert isinstance(export.transition, nn.ModuleList)
    assert (
        "transition.1.1.running_var" in export.state_dict()
        and "pick.1.weight" in export.state_dict()
    )


@pytest.mark.parametrize("name", ["resnet10t", "convnext_atto", "poolformer_s12"])
def test_a_timm_export_imported_again_is_written_the_same(name):
    """export, import, export is a fixed point: the exported class, built fresh and imported
    as a user would import any model, gives the same code again (convnext's LayerNorm2d at four
    widths is one class whose forward reads ``self.weight.shape``; poolformer's scale
    ``reshape((-1, 1, 1))``). Fresh models: the parameters' starting values are read from them."""
    timm = pytest.importorskip("timm")
    torch.manual_seed(0)
    x = torch.randn(2, 3, 64, 64)
    result = import_example(timm.create_model(name, pretrained=False).eval(), (x,), name="Net")
    assert result.matches, result.summary()
    code = generate(result.project.graph, result.project.name)
    again = import_example(build_class(code)().eval(), (x,), name="Net")
    assert again.matches, again.summary()
    assert generate(again.project.graph, again.project.name).source == code.source
    if name == "convnext_atto":
        assert code.source.count("class LayerNorm2d") == 1 and "self.weight.shape" in code.source


def test_timm_window_attention_folds_the_batch_and_runs_at_every_batch_size():
    """swin's and maxvit's window partition (``view(-1, 7, 7, C)``: the windows of every image
    in one dimension) and their attention (``reshape(B_, N, 3, heads, -1)``): each size is
    computed from the input in the export, so it runs at batch 1 and 3 as the original does;
    the index and mask fx computed ahead stay inside WindowAttention, unsaved (strict load)."""
    pytest.importorskip("timm")
    from timm.models.swin_transformer import SwinTransformerBlock
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.Sequential(
                SwinTransformerBlock(16, (8, 8), num_heads=2, window_size=4),
                SwinTransformerBlock(16, (8, 8), num_heads=2, window_size=4, shift_size=2),
            )

        def forward(self, x):
            return self.blocks(x)

    torch.manual_seed(0)
    result, _ = assert_exact(
        _perturbed(Net()),
        (torch.randn(2, 8, 8, 16),),
        [(torch.randn(b, 8, 8, 16),) for b in (1, 3)],
    )
    code = generate(result.project.graph, result.project.name).source
    assert "reshape(x.shape[0], 16, 3, 2, -1)" in code and "reshape(-1, 4, 4, 16)" in code


def test_an_edgenext_block_keeps_its_list_and_builds_its_encoding_per_batch():
    """edgenext's SplitTransposeBlock: ``self.convs`` called one by one with an add between
    (``sp = sp + spx[i]``) stays an nn.ModuleList (keys convs.0, convs.1), and its positional
    encoding ``~torch.zeros(B, H, W).bool()`` ... ``10000 ** (2 * (i // 2) / 32)`` and its
    ``reshape(B, C, H * W)`` are computed in forward at each batch and image size."""
    pytest.importorskip("timm")
    from timm.models.edgenext import SplitTransposeBlock
    from torch import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = SplitTransposeBlock(24, num_scales=3, use_pos_emb=True)

        def forward(self, x):
            return self.block(x)

    torch.manual_seed(0)
    _, export = assert_exact(
        _perturbed(Net()),
        (torch.randn(2, 24, 8, 8),),
        [(torch.randn(b, 24, 8, 8),) for b in (1, 3)] + [(torch.randn(2, 24, 12, 6),)],
    )
    assert isinstance(export.block.convs, nn.ModuleList)
    assert "block.convs.1.weight" in export.state_dict()


def test_a_sequential_attributes_words_name_its_definition_in_camel_case():
    """The tutorial's ``self.linear_relu_stack = nn.Sequential(...)`` became a class
    ``Linear_relu_stack``; a reviewer reads ``LinearReluStack``."""
    from studio.interop.fx_import import import_module
    from tests.interop.zoo.tutorials import NeuralNetwork

    project = import_module(NeuralNetwork(), [((28, 28), "float32")], name="NeuralNetwork").project
    assert [d.name for d in project.graph.library] == ["LinearReluStack"]
