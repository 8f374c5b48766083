"""Module definitions: each becomes its own class; shapes, errors and keys follow the hierarchy."""

import json
import subprocess
import sys

import pytest
import torch
from torch import nn

from studio.compiler.analysis import Analysis, analyze
from studio.compiler.build import build_class
from studio.compiler.codegen import generate
from studio.graph.errors import GraphError
from studio.graph.model import Graph
from studio.graph.project import Project, dumps, loads
from tests.modules_helpers import chain, small_resnet

# The small ResNet as a person would write it by hand, with the same attribute names.
HAND_WRITTEN = '''
import torch
from torch import nn


class ResidualUnit(nn.Module):
    def __init__(self, planes, stride=1, downsample=False, inplanes=None):
        super().__init__()
        inplanes = inplanes or planes
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        if downsample:
            self.downsample = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
            self.downsample_bn = nn.BatchNorm2d(planes)
        self.relu2 = nn.ReLU()
        self.has_downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        skip = self.downsample_bn(self.downsample(x)) if self.has_downsample else x
        return self.relu2(out + skip)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(ResidualUnit(8), ResidualUnit(8))
        self.layer2 = ResidualUnit(16, stride=2, downsample=True, inplanes=8)
        self.layer3 = ResidualUnit(16)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.head(self.flatten(self.pool(x)))
'''


def _hand_written():
    ns: dict = {}
    exec(HAND_WRITTEN, ns)
    return ns["Net"]()


def test_each_definition_is_one_class_written_before_the_model():
    source = generate(small_resnet(), "Small ResNet").source
    assert source.count("class ResidualUnit(nn.Module):") == 1
    assert source.count("class DownUnit(nn.Module):") == 1
    assert source.index("class ResidualUnit") < source.index("class DownUnit") < source.index("class SmallResNet")
    # what differs between the uses became __init__ arguments, named after the per-use parameters
    assert "def __init__(self, planes: int) -> None:" in source
    assert "self.conv1 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)" in source
    assert "def __init__(self, planes: int, stride: int) -> None:" in source
    assert "self.layer1 = nn.Sequential(*[ResidualUnit(8) for _ in range(2)])" in source
    assert "self.layer2 = DownUnit(16, 2)" in source
    assert "self.layer3 = ResidualUnit(16)" in source


def test_state_dict_keys_follow_the_hierarchy_and_load_into_hand_written_code():
    studio_model = build_class(generate(small_resnet()))().eval()
    keys = list(studio_model.state_dict())
    assert "layer1.0.conv1.weight" in keys and "layer1.1.bn2.running_mean" in keys
    assert "layer2.downsample.weight" in keys
    hand = _hand_written().eval()
    # both ways round, strictly: no key renamed, none missing, none extra
    hand.load_state_dict(studio_model.state_dict(), strict=True)
    torch.manual_seed(3)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(studio_model(x), hand(x), atol=1e-6)
    other = _hand_written()
    studio_model.load_state_dict(other.state_dict(), strict=True)
    assert sum(p.numel() for p in studio_model.parameters()) == sum(p.numel() for p in hand.parameters())


def test_counts_add_up_over_uses_and_copies():
    g = small_resnet()
    a = analyze(g)
    model = build_class(generate(g, analysis=a))()
    assert a.totals().params == sum(p.numel() for p in model.parameters())
    layer1 = g.block_by_name("layer1")
    assert len(a.use_results[layer1.id].copies) == 2


def test_generated_file_with_modules_passes_ruff(tmp_path):
    out = tmp_path / "model.py"
    out.write_text(generate(small_resnet(), "Small ResNet").source)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP", "--target-version", "py310", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_per_use_value_changes_that_use_only():
    g = small_resnet()
    a = Analysis(g)
    layer3 = g.block_by_name("layer3")
    assert a.block_info(layer3.id).out_shapes[0][1] == 16
    g.set_params(layer3.id, {"planes": 32})
    a.refresh()
    # planes sets conv1 and conv2 but the skip adds x (16 channels): the problem is named inside
    error = a.block_info(layer3.id).error
    assert error.startswith("Inside ResidualUnit > add:"), error


def test_editing_inside_a_definition_updates_every_use():
    g = small_resnet()
    a = Analysis(g)
    unit = g.library.get("ResidualUnit")
    before = a.totals().params
    bn1 = unit.graph.block_by_name("bn1")
    unit.graph.set_params(bn1.id, {"affine": False})
    a.refresh()
    # three copies lose 2 x planes parameters each: 2 x 8 x 2 (layer1) + 2 x 16 (layer3)
    assert before - a.totals().params == 2 * 8 * 2 + 2 * 16


def test_nested_definitions_and_keys():
    g = Graph()
    inner = g.library.new("Inner")
    chain(
        inner.graph,
        ("input", dict(name="x", params={"shape": [4]})),
        ("linear", dict(name="fc", params={"out_features": 4})),
        ("relu", dict(name="act")),
        ("output", dict(name="y")),
    )
    outer = g.library.new("Outer")
    chain(
        outer.graph,
        ("input", dict(name="x", params={"shape": [4]})),
        ("module:Inner", dict(name="first")),
        ("module:Inner", dict(name="second")),
        ("output", dict(name="y")),
    )
    chain(g, ("input", dict(params={"shape": [4]})), ("module:Outer", dict(name="body", params={"repeat": 3})), ("output", {}))
    source = generate(g).source
    assert source.index("class Inner") < source.index("class Outer") < source.index("class Model")
    model = build_class(generate(g))()
    assert "body.2.second.fc.weight" in model.state_dict()
    assert model(torch.randn(5, 4)).shape == (5, 4)
    # a definition cannot contain itself, directly or through another
    with pytest.raises(GraphError, match="contain itself"):
        inner.graph.add_block("module:Outer")
    with pytest.raises(GraphError, match="contain itself"):
        outer.graph.add_block("module:Outer")


def test_repeating_a_module_with_two_inputs_loops_over_a_module_list():
    g = Graph()
    d = g.library.new("Mix")
    x, fc = chain(d.graph, ("input", dict(name="x", params={"shape": [6]})), ("linear", dict(name="fc", params={"out_features": 6})))
    memory = d.graph.add_block("input", name="memory", params={"shape": [6]})
    add, out = chain(d.graph, ("add", dict(name="add")), ("output", dict(name="y")))
    d.graph.connect(fc.id, "out", add.id, "in1")
    d.graph.connect(memory.id, "out", add.id, "in2")
    src, use, o = chain(g, ("input", dict(name="h", params={"shape": [6]})), ("module:Mix", dict(name="blocks", params={"repeat": 4})), ("output", {}))
    mem = g.add_block("input", name="mem", params={"shape": [6]})
    g.connect(mem.id, "out", use.id, "memory")
    source = generate(g).source
    assert "self.blocks = nn.ModuleList([Mix() for _ in range(4)])" in source
    assert "for layer in self.blocks:" in source
    model = build_class(generate(g))().eval()
    h, m = torch.randn(2, 6), torch.randn(2, 6)
    expected = h
    for layer in model.blocks:
        expected = layer.fc(expected) + m
    with torch.no_grad():
        assert torch.allclose(model(h, m), expected)


def test_a_repeated_module_needs_one_output():
    g = Graph()
    d = g.library.new("Two")
    x, relu = chain(d.graph, ("input", dict(name="x", params={"shape": [3]})), ("relu", dict(name="r")))
    for n in ("a", "b"):
        o = d.graph.add_block("output", name=n)
        d.graph.connect(relu.id, "out", o.id, "in")
    inp, use = chain(g, ("input", dict(params={"shape": [3]})), ("module:Two", dict(name="two", params={"repeat": 2})))
    a = analyze(g)
    assert "exactly one Output" in a.block_info(use.id).error


def test_a_definition_without_input_and_output_says_so():
    g = Graph()
    d = g.library.new("Empty")
    d.graph.add_block("parameter", name="w")
    chain(g, ("input", dict(params={"shape": [3]})), ("output", {}))
    g.add_block("module:Empty", name="e")
    messages = [d.message for d in analyze(g).errors]
    assert any("The module Empty needs an Input block" in m for m in messages), messages


def test_a_definition_that_only_returns_its_parameter_takes_no_input():
    """timm's ``RelPosBias`` is read as ``self.rel_pos.get_bias()``: a module called with no
    input that returns its own parameter."""
    g = Graph()
    d = g.library.new("Table")
    chain(d.graph, ("parameter", dict(name="w", params={"shape": [3]})), ("output", dict(name="y")))
    inp = g.add_block("input", params={"shape": [3]})
    use = g.add_block("module:Table", name="table")
    add = g.add_block("add", name="add")
    g.connect(inp.id, "out", add.id, "in1")
    g.connect(use.id, "y", add.id, "in2")
    out = g.add_block("output", name="out")
    g.connect(add.id, "out", out.id, "in")
    a = analyze(g)
    assert not a.errors, a.errors
    code = generate(g, "M")
    assert "self.table()" in code.source
    model = build_class(code)()
    x = torch.randn(2, 3)
    torch.testing.assert_close(model(x), x + model.table.w)
    assert set(model.state_dict()) == {"table.w"}


def test_project_with_modules_round_trips_and_old_files_load():
    project = Project(name="Small ResNet", graph=small_resnet())
    text = dumps(project)
    data = json.loads(text)
    assert data["format_version"] == 2
    assert [m["name"] for m in data["graph"]["modules"]] == ["ResidualUnit", "DownUnit"]
    again = loads(text)
    assert generate(again.graph, again.name).source == generate(project.graph, project.name).source
    assert dumps(again) == text
    # a version-1 file (no modules) still opens
    old = {"format_version": 1, "name": "old", "graph": {"blocks": [], "edges": []}}
    assert len(loads(json.dumps(old)).graph.library) == 0


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: m[0].update(name="ResidualUnit2", graph={"blocks": [{"id": "u", "type": "module:ResidualUnit2", "name": "me"}]}), "contains itself"),
        (lambda m: m[0]["params"][0].update(targets=[["nope", "out_channels"]]), "missing block"),
        (lambda m: m.append(dict(m[0])), "two modules are called"),
        (lambda m: m[0].update(name="1bad"), "must start with a letter"),
    ],
)
def test_bad_module_data_gives_one_clear_line(change, message):
    from studio.graph.project import ProjectError

    data = json.loads(dumps(Project(graph=small_resnet())))
    change(data["graph"]["modules"])
    with pytest.raises(ProjectError, match=message):
        loads(json.dumps(data))


def test_frozen_use_freezes_everything_inside():
    g = small_resnet()
    layer3 = g.block_by_name("layer3")
    g.set_frozen(layer3.id, True)
    a = analyze(g)
    assert a.block_info(layer3.id).trainable == 0 < a.block_info(layer3.id).params
    model = build_class(generate(g, analysis=a))()
    assert not any(p.requires_grad for p in model.layer3.parameters())
    assert all(p.requires_grad for p in model.layer1.parameters())


def test_declared_module_is_an_nn_module_subclass():
    g = small_resnet()
    model = build_class(generate(g))()
    assert type(model.layer2).__name__ == "DownUnit" and isinstance(model.layer2, nn.Module)


def test_uses_with_the_same_values_are_counted_each():
    g = Graph()
    from tests.modules_helpers import residual_unit

    residual_unit(g.library)
    chain(
        g,
        ("input", dict(params={"shape": [8, 16, 16]})),
        ("module:ResidualUnit", dict(name="a", params={"planes": 8})),
        ("module:ResidualUnit", dict(name="b", params={"planes": 8, "repeat": 2})),
        ("output", {}),
    )
    assert "used 3 times in this model" in generate(g).source


def test_a_repeated_long_sequential_stays_within_the_line_length(tmp_path):
    g = Graph()
    d = g.library.new("ConvRelu", sequential=True)
    chain(
        d.graph,
        ("input", dict(name="x", params={"shape": [8, 8, 8]})),
        ("conv2d", dict(name="0", params={"out_channels": 8, "kernel_size": 3, "padding": 1})),
        ("relu", dict(name="1")),
        ("output", dict(name="y")),
    )
    chain(g, ("input", dict(params={"shape": [8, 8, 8]})), ("module:ConvRelu", dict(name="features", params={"repeat": 3})), ("output", {}))
    source = generate(g).source
    assert all(len(line) <= 88 for line in source.splitlines()), source
    model = build_class(generate(g))()
    assert "features.2.0.weight" in model.state_dict()


def test_uses_that_differ_in_a_list_literal_share_a_class():
    """Swin's kept-whole blocks: a keyword that is a list, [0, 0] in one use and [3, 3] in the next."""
    from studio.graph.modules import DefinitionParam

    g = Graph()
    d = g.library.new("Norm")
    _, norm, _ = chain(
        d.graph,
        ("input", dict(name="x", params={"shape": [4, 6]})),
        ("custom_module", dict(name="norm", params={"source": "torch.nn:LayerNorm", "kwargs": "{'normalized_shape': [6]}"})),
        ("output", dict(name="y")),
    )
    d.params["kwargs"] = DefinitionParam("kwargs", ((norm.id, "kwargs"),))
    chain(
        g,
        ("input", dict(params={"shape": [4, 6]})),
        ("module:Norm", dict(name="a")),
        ("module:Norm", dict(name="b", params={"kwargs": "{'normalized_shape': [4, 6]}"})),
        ("output", {}),
    )
    source = generate(g).source
    assert source.count("class Norm") == 1 and "Norm([4, 6])" in source, source
    model = build_class(generate(g))()
    assert model.b.norm.normalized_shape == (4, 6) and model(torch.randn(3, 4, 6)).shape == (3, 4, 6)
