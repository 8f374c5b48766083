"""Imports keep the hierarchy: submodules become module definitions whose generated classes
load the original model's state_dict with strict=True and give the same outputs."""

import subprocess
import sys

import pytest
import torch
import torchvision
from torch import nn

from studio.cli import main
from studio.compiler import build_model, generate
from studio.graph.project import load_project, save_project
from studio.interop.fx_import import import_module
from studio.interop.sources import load_model

INPUT = [((3, 64, 64), "float32")]


def _import(module, inputs=INPUT, **kw):
    return import_module(module.eval(), inputs, name=type(module).__name__.lower(), **kw)


def assert_loads_strictly(module, project, inputs=INPUT):
    """The generated class takes the original's state_dict as it is, and computes the same."""
    module.eval()
    model = build_model(project.graph, project.name).eval()
    model.load_state_dict(module.state_dict(), strict=True)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in module.parameters())
    gen = torch.Generator().manual_seed(3)
    x = [torch.randn((2, *shape), generator=gen) for shape, _ in inputs]
    with torch.no_grad():
        want, got = module(*x), model(*x)
    assert want.shape == got.shape and torch.allclose(want, got, atol=1e-5)


def assert_ruff_clean(source, tmp_path):
    path = tmp_path / "model.py"
    path.write_text(source)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP",
         "--target-version", "py310", str(path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _uses(graph):
    # "weights" (a file a use starts from) is empty on every imported use
    return {
        b.name: (b.type, {k: v for k, v in b.params.items() if k != "weights"})
        for b in graph.blocks.values()
        if b.type.startswith("module:")
    }


@pytest.fixture(scope="module")
def resnet18():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the one_thread fixture does for each test
    torch.manual_seed(0)
    module = torchvision.models.resnet18(weights=None).eval()
    yield module, _import(module)
    torch.set_num_threads(before)


def test_resnet18_becomes_basic_blocks_used_in_stages(resnet18):
    module, result = resnet18
    assert result.matches, result.summary()
    graph = result.project.graph
    lib = graph.library
    assert sorted(d.name for d in lib) == ["BasicBlock", "BasicBlock2", "Downsample", "Layer"]
    basic = lib.get("BasicBlock")
    names = {b.name for b in basic.graph.blocks.values()}
    assert {"conv1", "bn1", "relu", "conv2", "bn2"} <= names
    assert "downsample" in {b.name for b in lib.get("BasicBlock2").graph.blocks.values()}
    assert lib.get("Downsample").sequential and lib.get("Layer").sequential
    # conv1 and conv2 of every BasicBlock have the same width: one per-use parameter
    assert set(basic.params) == {"out_channels"}
    assert {t[1] for t in basic.params["out_channels"].targets} == {"out_channels"}
    uses = _uses(graph)
    assert uses["layer1"] == ("module:BasicBlock", {"repeat": 2, "out_channels": 64})
    assert uses["layer2"][0] == uses["layer4"][0] == "module:Layer"
    assert uses["layer3"][1]["out_channels"] == 256
    assert "layer1_0_conv1" not in graph.names()


def test_resnet18_exports_three_classes_that_load_torchvision_weights_strictly(resnet18, tmp_path):
    module, result = resnet18
    code = generate(result.project.graph, result.project.name)
    assert code.source.count("\nclass ") == 3
    assert len(code.source.splitlines()) < 120  # the flat import wrote 153 lines
    assert "self.layer1 = nn.Sequential(*[BasicBlock(64) for _ in range(2)])" in code.source
    assert "self.layer2 = nn.Sequential(BasicBlock2(64, 128), BasicBlock(128))" in code.source
    assert_loads_strictly(module, result.project)
    fresh = torchvision.models.resnet18()
    build_model(result.project.graph, result.project.name).load_state_dict(fresh.state_dict(), strict=True)
    assert_ruff_clean(code.source, tmp_path)


def test_exported_resnet18_imports_again_to_the_same_definitions_and_text(resnet18, tmp_path):
    _, result = resnet18
    code = generate(result.project.graph, result.project.name)
    path = tmp_path / "resnet.py"
    path.write_text(code.source)
    loaded = load_model(f"{path}:{code.class_name}")
    again = import_module(loaded.module, None, name=result.project.name)
    assert again.matches, again.summary()
    assert again.project.graph.library.to_list() == result.project.graph.library.to_list()
    assert generate(again.project.graph, again.project.name).source == code.source


def test_an_imported_project_saves_and_opens_with_its_definitions(resnet18, tmp_path):
    module, result = resnet18
    path = save_project(result.project, tmp_path / "r.studio.json")
    opened = load_project(path)
    assert sorted(d.name for d in opened.graph.library) == sorted(d.name for d in result.project.graph.library)
    assert generate(opened.graph, opened.name).source == generate(result.project.graph, result.project.name).source
    assert_loads_strictly(module, opened)


def test_editing_inside_an_imported_definition_updates_every_use():
    torch.manual_seed(0)
    result = _import(Net(), [((3, 16, 16), "float32")])
    graph = result.project.graph
    unit = graph.library.get("Unit")
    use = graph.block_by_name("a")
    assert [p.name for p in use.input_ports()] == ["x"]
    unit.graph.rename(unit.input_blocks()[0].id, "images")
    assert [p.name for p in use.input_ports()] == ["images"]
    conv = unit.graph.block_by_name("conv")
    unit.graph.set_params(conv.id, {"stride": 3})
    assert use.spec.params["stride"].default == 3  # the per-use parameter reads the inner block


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "squeezenet1_0", "mnasnet0_5"])
def test_other_torchvision_models_load_strictly(name, tmp_path):
    torch.manual_seed(0)
    module = torchvision.models.get_model(name, weights=None).eval()
    result = _import(module)
    assert result.matches, result.summary()
    assert len(result.project.graph.library) >= 2
    assert_loads_strictly(module, result.project)
    assert_ruff_clean(generate(result.project.graph, result.project.name).source, tmp_path)


# --------------------------------------------------------------------------- hand-written
class Unit(nn.Module):
    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Unit(3, 8, 1)
        self.b = Unit(8, 8, 2)
        self.shared = Unit(8, 8, 1)
        self.blocks = nn.ModuleList([Unit(8, 8, 1), Unit(8, 8, 1)])
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        x = self.b(self.a(x))
        x = self.shared(self.shared(x))  # one module called twice: its weights are shared
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean((2, 3)))


def test_uses_that_differ_in_a_parameter_share_a_definition_with_a_per_use_parameter():
    torch.manual_seed(0)
    module = Net()
    result = _import(module, [((3, 16, 16), "float32")])
    assert result.outputs_match, result.summary()
    graph = result.project.graph
    unit = graph.library.get("Unit")
    assert set(unit.params) == {"stride"}  # out_channels is 8 in both
    uses = _uses(graph)
    assert uses["a"][1]["stride"] == 1 and uses["b"][1]["stride"] == 2
    code = generate(graph, result.project.name).source
    assert "self.a = Unit(" in code and "self.b = Unit(" in code


def test_a_module_called_twice_is_spread_out_and_a_module_list_looped_over_is_kept():
    torch.manual_seed(0)
    module = Net()
    result = _import(module, [((3, 16, 16), "float32")])
    names = result.project.graph.names()
    # two calls of `shared` cannot be one attribute each: flat blocks, like the flat import
    assert {"shared_conv", "shared_conv_1"} <= names
    # `for block in self.blocks: x = block(x)` keeps the list: its keys are blocks.0..., blocks.1...
    assert "blocks" in names and "blocks_0_conv" not in names
    model = build_model(result.project.graph, result.project.name)
    want = {k for k in module.state_dict() if k.startswith("blocks.")}
    assert want and want <= set(model.state_dict())
    # the second call of shared.conv is a Call again block: one set of weights, as in the original
    assert result.outputs_match and result.params == result.original_params


def test_flat_stays_available(tmp_path, capsys):
    module = torchvision.models.resnet18(weights=None)
    flat = _import(module, hierarchy=False)
    assert len(flat.project.graph.library) == 0 and "layer1_0_conv1" in flat.project.graph.names()
    out = tmp_path / "r.studio.json"
    assert main(["import", "torchvision:resnet18", "--input-shape", "3,64,64", "--flat", "-o", str(out)]) == 0
    assert "module definitions" not in capsys.readouterr().out
    assert len(load_project(out).graph.library) == 0
    assert main(["import", "torchvision:resnet18", "--input-shape", "3,64,64", "--force", "-o", str(out)]) == 0
    assert "module definitions: 4 (BasicBlock, Downsample, BasicBlock2, Layer)" in capsys.readouterr().out


class Two(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.a, self.b = nn.Conv2d(c, c, 1), nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.a(x), self.b(x)


class Merge(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gamma = nn.Parameter(torch.rand(1, c, 1, 1))
        self.proj = nn.Conv2d(c, c, 1)

    def forward(self, x, y):
        return self.proj(x) * self.gamma + y


class Stage(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.two, self.merge = Two(c), Merge(c)
        self.blocks = nn.Sequential(*[nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.ReLU()) for _ in range(3)])

    def forward(self, x):
        return self.blocks(self.merge(*self.two(x)))


class Stages(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3)
        self.s1, self.s2 = Stage(4), Stage(4)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 2))

    def forward(self, x):
        return self.head(self.s2(self.s1(self.stem(x))))


def test_modules_with_two_outputs_two_inputs_a_parameter_and_a_repeat_load_strictly():
    torch.manual_seed(0)
    module = Stages()
    inputs = [((3, 8, 8), "float32")]
    result = _import(module, inputs)
    assert result.matches, result.summary()
    lib = result.project.graph.library
    assert len(lib.get("Two").output_blocks()) == 2 and len(lib.get("Merge").input_blocks()) == 2
    inner = _uses(lib.get("Stage").graph)
    assert inner["blocks"] == ("module:Blocks", {"repeat": 3})  # three equal nn.Sequential
    assert_loads_strictly(module, result.project, inputs)


# --------------------------------------------------------------------------- all of them
#: AnyStage names its children "block1-0": not a Python name, so those are written flat
_NOT_STRICT = "regnet_"


def _classification_models():
    names = torchvision.models.list_models(module=torchvision.models)
    return [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="children named block1-0"))
        if n.startswith(_NOT_STRICT) else n
        for n in names
    ]


@pytest.mark.slow
@pytest.mark.parametrize("name", _classification_models())
def test_every_torchvision_model_that_imports_flat_loads_strictly_with_the_hierarchy(name, tmp_path):
    size = 224 if name.startswith(("vit", "swin", "maxvit")) else 96
    inputs = [((3, size, size), "float32")]
    module = torchvision.models.get_model(name, weights=None).eval()
    if sum(p.numel() for p in module.parameters()) > 200_000_000:
        pytest.skip("too big to check here")
    try:
        flat = import_module(module, inputs, name=name, hierarchy=False)
    except Exception as e:  # noqa: BLE001 - models the flat import refuses are not this test's
        pytest.skip(f"does not import flat: {str(e)[:80]}")
    if not flat.matches:
        pytest.skip("the flat import does not reproduce it")
    result = import_module(module, inputs, name=name)
    assert result.matches, result.summary()
    assert_loads_strictly(module, result.project, inputs)
    assert_ruff_clean(generate(result.project.graph, result.project.name).source, tmp_path)
