"""Import through torch.fx: fidelity (parameters, outputs), round trips, clear refusals."""

import time
from pathlib import Path

import pytest
import torch
from torch import nn

from studio.compiler import analyze, build_model, generate
from studio.graph.project import load_project, save_project
from studio.interop.fx_import import (
    IMPORT_KEY,
    ModelImportError,
    UntraceableError,
    import_module,
    import_opaque,
    remap_state_dict,
)
from studio.interop.sources import load_model

HERE = Path(__file__).parent
BRANCHY = f"{HERE / 'branchy.py'}"


def _outputs(value):
    return [value] if isinstance(value, torch.Tensor) else list(value)


def assert_faithful(module, project, inputs):
    """Same parameter count, and with the original weights the same outputs."""
    module.eval()
    model = build_model(project.graph, project.name).eval()
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in module.parameters())
    model.load_state_dict(remap_state_dict(module.state_dict(), project))  # strict
    gen = torch.Generator().manual_seed(7)
    x = [torch.randn((2, *shape), generator=gen) for shape, _ in inputs]
    with torch.no_grad():
        want, got = _outputs(module(*x)), _outputs(model(*x))
    assert len(want) == len(got)
    for a, b in zip(want, got):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "squeezenet1_0"])
def test_torchvision_models_import_faithfully(name):
    loaded = load_model(f"torchvision:{name}", {"num_classes": 10})
    inputs = [((3, 96, 96), "float32")]
    result = import_module(
        loaded.module, inputs, name=name, source=loaded.source, kwargs=loaded.kwargs, hierarchy=False
    )
    assert result.matches, result.summary()
    assert analyze(result.project.graph).ok
    assert_faithful(loaded.module, result.project, inputs)
    names = {b.name for b in result.project.graph.blocks.values()}
    assert "fc" in names or "classifier_1" in names or "classifier_3" in names


def test_resnet_blocks_keep_their_module_paths():
    loaded = load_model("torchvision:resnet18")
    result = import_module(loaded.module, loaded.default_inputs, name="r", verify=False, hierarchy=False)
    g = result.project.graph
    conv = g.block_by_name("layer1_0_conv1")
    assert conv.type == "conv2d" and conv.params["out_channels"] == 64 and conv.params["bias"] is False
    assert result.project.metadata[IMPORT_KEY]["paths"][conv.id] == "layer1.0.conv1"
    assert g.block_by_name("maxpool").params == {"kernel_size": 3, "stride": 2, "padding": 1}
    adds = [b for b in g.blocks.values() if b.type == "add"]
    assert len(adds) == 8 and all(b.params["inputs"] == 2 for b in adds)
    assert g.block_by_name("flatten").type == "flatten"
    positions = {b.position for b in g.blocks.values()}
    assert len(positions) == len(g.blocks)  # laid out, no two blocks on top of each other


def test_a_hand_written_model_with_branches():
    loaded = load_model(f"{BRANCHY}:Branchy", {"classes": 3})
    inputs = [((3, 8, 8), "float32")]
    result = import_module(loaded.module, inputs, name="Branchy", source=loaded.source, kwargs=loaded.kwargs)
    assert result.matches, result.summary()
    assert_faithful(loaded.module, result.project, inputs)
    g = result.project.graph
    types = [b.type for b in g.blocks.values()]
    for t in ("concatenate", "subtract", "multiply", "parameter", "scalar_op", "transpose", "layernorm",
              "mean", "reshape", "index", "sigmoid", "relu"):
        assert t in types, t
    assert types.count("output") == 2
    three = [b for b in g.blocks.values() if b.type == "add"]
    assert len(three) == 1 and three[0].params["inputs"] == 3  # a + b + c is one Add block
    pool = g.block_by_name("pool")
    assert pool.type == "custom_module" and pool.params["source"] == "torch.nn:MaxPool2d"
    assert "ceil_mode" in pool.params["kwargs"]
    assert any("MaxPool2d has no Studio block for ceil_mode=True" in n for n in result.notes)
    ops = {b.params["op"] for b in g.blocks.values() if b.type == "scalar_op"}
    assert ops == {"x + c", "x / c"}
    (reshape,) = [b for b in g.blocks.values() if b.type == "reshape"]
    assert reshape.params["shape"] == (-1,)  # y.view(y.size(0), -1): the batch is kept
    (index,) = [b for b in g.blocks.values() if b.type == "index"]
    assert index.params["index"] == "[:, :16]"


def test_import_survives_saving_and_loading(tmp_path):
    loaded = load_model(f"{BRANCHY}:Branchy")
    inputs = [((3, 8, 8), "float32")]
    result = import_module(loaded.module, inputs, name="Branchy", verify=False)
    path = save_project(result.project, tmp_path / "b.studio.json")
    assert_faithful(loaded.module, load_project(path), inputs)


def _structure(graph):
    """Blocks and wires by name (Inputs/Outputs by position: generated code does not keep
    Output names in the code), with types and parameters."""
    key = {}
    for role in ("input", "output"):
        for i, b in enumerate(b for b in graph.blocks.values() if b.type == role):
            key[b.id] = f"{role}{i}"
    for b in graph.blocks.values():
        key.setdefault(b.id, b.name if b.spec.role == "layer" and b.spec.emitter.__class__.__name__ == "Module" else None)
    blocks = sorted((b.type, repr(sorted(b.params.items()))) for b in graph.blocks.values())
    wires = sorted(
        (graph.blocks[e.src].type, key[e.src] or "", e.src_port, graph.blocks[e.dst].type, key[e.dst] or "", e.dst_port)
        for e in graph.edges.values()
    )
    return blocks, wires


def test_round_trip_of_studio_exported_code(example, tmp_path):
    if any(b.type == "backbone" for b in example.graph):
        pytest.skip("a pretrained backbone comes back as its layers, not as one Backbone block")
    code = generate(example.graph, example.name)
    path = tmp_path / "model.py"
    path.write_text(code.source)
    loaded = load_model(f"{path}:{code.class_name}")
    assert loaded.default_inputs  # read from the generated docstring
    result = import_module(loaded.module, name=example.name, source=loaded.source)
    assert result.matches
    if len(example.graph.library):
        # modules come back as the same definitions; the per-use parameters are named after
        # the code (out_channels), not the names the project gave them (planes), so the
        # code of the imported project is a fixed point: importing it again changes nothing
        imported = result.project.graph
        assert list(imported.library.definitions) == list(example.graph.library.definitions)
        for name, defn in example.graph.library.definitions.items():
            assert sorted(b.type for b in defn.graph) == sorted(b.type for b in imported.library.get(name).graph)
        again_code = generate(imported, example.name).source
        again = tmp_path / "again.py"
        again.write_text(again_code)
        reloaded = load_model(f"{again}:{code.class_name}")
        second = import_module(reloaded.module, name=example.name, source=reloaded.source)
        assert generate(second.project.graph, example.name).source == again_code
        return
    assert _structure(result.project.graph) == _structure(example.graph)
    assert {b.name for b in result.project.graph.blocks.values() if b.type in ("input", "output")} == {
        b.name for b in example.graph.blocks.values() if b.type in ("input", "output")
    }


def test_untraceable_model_gives_fx_reason_and_opaque_import_works():
    loaded = load_model(f"{BRANCHY}:Gate", {"width": 6})
    with pytest.raises(UntraceableError) as e:
        import_module(loaded.module, [((6,), "float32")], name="Gate")
    msg = str(e.value)
    assert "cannot be used as inputs to control flow" in msg and "--opaque" in msg and "\n" not in msg
    result = import_opaque(loaded.module, loaded.source, [((6,), "float32")], kwargs=loaded.kwargs, name="Gate")
    assert result.matches
    g = result.project.graph
    (block,) = [b for b in g.blocks.values() if b.type == "custom_module"]
    assert block.params["source"].endswith("branchy.py:Gate") and block.params["kwargs"] == "{'width': 6}"
    assert_faithful(loaded.module, result.project, [((6,), "float32")])


def test_functions_outside_torch_are_refused_in_one_line():
    loaded = load_model(f"{BRANCHY}:Wrapped")
    with pytest.raises(ModelImportError) as e:
        import_module(loaded.module, [((8,), "float32")], name="Wrapped")
    msg = str(e.value)
    assert "Studio has no block for halve" in msg and "--opaque" in msg and "\n" not in msg


def test_a_torch_function_without_a_block_becomes_a_function_block_with_its_outputs():
    loaded = load_model(f"{BRANCHY}:Chunky")
    inputs = [((8,), "float32")]
    result = import_module(loaded.module, inputs, name="Chunky")
    assert result.matches, result.summary()
    assert_faithful(loaded.module, result.project, inputs)
    (fn,) = [b for b in result.project.graph.blocks.values() if b.type == "function"]
    assert fn.params == {"function": "torch.chunk", "arguments": "in1, 2, dim=1", "inputs": 1, "outputs": 2}
    assert "chunk, chunk_out2 = torch.chunk(x, 2, dim=1)" in generate(result.project.graph, "c").source


def test_a_module_called_twice_is_one_layer_used_twice():
    loaded = load_model(f"{BRANCHY}:Shared")
    inputs = [((4,), "float32")]
    result = import_module(loaded.module, inputs, name="Shared")
    assert any("fc is called 2 times" in n for n in result.notes)
    assert result.matches and result.params == result.original_params, result.summary()
    assert_faithful(loaded.module, result.project, inputs)
    src = generate(result.project.graph, "s").source
    assert src.count("nn.Linear(") == 1 and src.count("self.fc(") == 2
    again = [b for b in result.project.graph.blocks.values() if b.type == "call_again"]
    assert len(again) == 1 and result.module_paths[again[0].id] == "fc"


def test_missing_input_shape_is_a_clear_error():
    with pytest.raises(ModelImportError, match="--input-shape"):
        import_module(nn.Linear(3, 4), name="lin")
    with pytest.raises(ModelImportError, match="check --input-shape"):
        import_module(nn.Linear(3, 4), [((5,), "float32")], name="lin")


def test_hundreds_of_blocks_import_quickly():
    module = nn.Sequential(*[layer for _ in range(250) for layer in (nn.Linear(8, 8), nn.ReLU())])
    start = time.perf_counter()
    result = import_module(module, [((8,), "float32")], name="deep", verify=False)
    elapsed = time.perf_counter() - start
    assert len(result.project.graph.blocks) == 502
    assert elapsed < 5.0, elapsed


def test_remap_needs_an_imported_project(example):
    with pytest.raises(ValueError, match="not an imported project"):
        remap_state_dict({}, example)


def test_an_imported_chain_is_laid_out_to_fit_the_first_window_not_in_one_row():
    """ConvNeXt imported as six blocks in a row ran off the window's right side; the tutorial's
    CIFAR Net flat was 14 blocks 4,000 px wide. Long chains wrap into bands, as Auto-arrange does."""
    from torch import nn

    from studio.graph.layout import BLOCK_BOX, FIRST_VIEW
    from studio.interop.fx_import import import_module

    layers = [m for _ in range(6) for m in (nn.Linear(8, 8), nn.ReLU())]
    project = import_module(nn.Sequential(*layers), [((8,), "float32")], name="Chain", hierarchy=False).project
    blocks = project.graph.blocks.values()
    assert len(blocks) == 14
    width = max(b.position[0] for b in blocks) + BLOCK_BOX[0]
    height = max(b.position[1] for b in blocks) + BLOCK_BOX[1]
    rows = sorted({b.position[1] for b in blocks})
    assert len(rows) > 1 and width < 14 * BLOCK_BOX[0]  # bands, not one row of 14
    assert max(width / FIRST_VIEW[0], height / FIRST_VIEW[1]) < 1.5  # about one window at the readable zoom
