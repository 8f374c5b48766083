import ast
import importlib.util
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
import torch

from studio.blocks.registry import BATCH, ROLE_LAYER, all_block_types
from studio.compiler import analyze, build_class, build_model, generate
from studio.compiler.build import block_at
from studio.graph.model import Graph
from studio.graph.project import load_project
from tests.helpers import chain, mlp

EXAMPLES = sorted((Path(__file__).parents[2] / "resources" / "examples").glob("*.studio.json"))

# an input shape (without batch) each layer type works on; the default suits most
SAMPLE_INPUT = {
    "conv1d": [4, 16], "maxpool1d": [4, 16], "batchnorm1d": [4, 16],
    "conv2d": [8, 8, 8], "conv_transpose2d": [8, 8, 8], "maxpool2d": [8, 8, 8],
    "avgpool2d": [8, 8, 8], "adaptive_avgpool2d": [8, 8, 8], "batchnorm2d": [8, 8, 8],
    "groupnorm": [8, 8, 8], "prelu": [8, 8, 8], "flatten": [4, 4, 4],
    "lstm": [5, 16], "gru": [5, 16], "multihead_attention": [5, 16],
    "transformer_encoder_layer": [5, 16], "layernorm": [5, 16], "permute": [5, 16],
    "unflatten": [784], "embedding": [5], "backbone": [3, 64, 64],
    "transpose": [5, 16], "squeeze": [5, 1], "matmul": [4, 4],
}
SAMPLE_PARAMS = {"backbone": {"model": "resnet18", "weights": "none"}}
# blocks that need a setting the user must make first (a repository) are tested elsewhere
NEEDS_SETUP = {"hub_model", "call_again"}  # call_again: the block it calls again


def single_block_graph(type_id: str) -> Graph:
    g = Graph()
    spec = g.add_block(type_id, params=SAMPLE_PARAMS.get(type_id)).spec
    block = next(iter(g))
    out = g.add_block("output")
    if spec.input_ports(block.params):
        dtype = "int64" if type_id == "embedding" else "float32"
        x = g.add_block("input", params={"shape": SAMPLE_INPUT.get(type_id, [16]), "dtype": dtype})
        for port in block.input_ports():
            if not port.optional:
                g.connect(x.id, "out", block.id, port.name)
    if spec.input_ports(block.params):
        g.connect(block.id, "out", out.id, "in")
    else:  # a source such as Parameter: add it to an input, as users do
        x = g.add_block("input", params={"shape": [64]})
        add = g.add_block("add")
        g.connect(x.id, "out", add.id, "in1")
        g.connect(block.id, "out", add.id, "in2")
        g.connect(add.id, "out", out.id, "in")
    return g


LAYER_TYPES = [
    s.id for s in all_block_types() if s.role == ROLE_LAYER and s.emitter is not None and s.id not in NEEDS_SETUP
]


@pytest.mark.parametrize("type_id", LAYER_TYPES)
def test_every_block_type_compiles_runs_and_matches_its_inferred_shape(type_id):
    g = single_block_graph(type_id)
    analysis = analyze(g)
    assert analysis.errors == [], [d.message for d in analysis.errors]
    code = generate(g, f"test {type_id}", analysis)
    ast.parse(code.source)
    model = build_class(code)().eval()
    inputs = []
    for b in g:
        if b.type == "input":
            shape = (3, *b.params["shape"])
            inputs.append(torch.randint(0, 10, shape) if b.params["dtype"] == "int64" else torch.randn(shape))
    with torch.no_grad():
        y = model(*inputs)
    out_block = next(b for b in g if b.type == "output")
    inferred = analysis.block_info(out_block.id).in_shapes[0]
    expected = tuple(3 if d == BATCH else d for d in inferred)
    assert tuple(y.shape) == expected
    params = sum(p.numel() for p in model.parameters())
    assert params == analysis.totals().params


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_exported_file_and_runtime_module_are_the_same_text_and_compute_the_same(path, tmp_path):
    project = load_project(path)
    out = tmp_path / "model.py"
    from studio.cli import main

    assert main(["export", str(path), "-o", str(out)]) == 0
    code = generate(project.graph, project.name)
    assert out.read_text(encoding="utf-8") == code.source
    runtime_cls = build_class(code)
    assert runtime_cls.__studio_source__ == out.read_text(encoding="utf-8")

    spec = importlib.util.spec_from_file_location("exported_model", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exported_cls = getattr(module, code.class_name)

    torch.manual_seed(0)
    a = runtime_cls().eval()
    torch.manual_seed(0)
    b = exported_cls().eval()
    x = [torch.randn(4, *shape) for _, shape, _ in __import__("studio.compiler", fromlist=["x"]).input_specs(project.graph)]
    torch.manual_seed(1)
    with torch.no_grad():
        assert torch.equal(a(*x), b(*x))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_generated_code_passes_ruff(path, tmp_path):
    project = load_project(path)
    out = tmp_path / "model.py"
    out.write_text(generate(project.graph, project.name).source)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP", "--target-version", "py310", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_reads_like_a_person_wrote_it():
    source = generate(mlp(), "My first model").source
    assert "class MyFirstModel(nn.Module):" in source
    assert "self.fc1 = nn.Linear(2, 16)" in source
    assert "x = self.fc1(x)\n" in source
    assert "def forward(self, x: torch.Tensor) -> torch.Tensor:" in source
    assert "# Generated by Studio" in source and "'My first model'" in source
    assert "studio" not in source.split('"""')[-1].lower()  # the code needs nothing from Studio


def test_branches_get_their_own_variables_and_several_outputs_a_tuple():
    g = Graph()
    x = g.add_block("input", name="features", params={"shape": [8]})
    a = g.add_block("linear", name="head a", params={"out_features": 2})
    b = g.add_block("linear", name="head-b", params={"out_features": 5})
    oa = g.add_block("output", name="a")
    ob = g.add_block("output", name="b")
    chain(g, x, a, oa)
    chain(g, x, b, ob)
    source = generate(g, "two heads").source
    assert "head_a = self.head_a(features)" in source
    assert "head_b = self.head_b(features)" in source
    assert "return head_a, head_b" in source
    ya, yb = build_model(g)(torch.randn(3, 8))
    assert ya.shape == (3, 2) and yb.shape == (3, 5)


HOSTILE = [
    "__import__('os').system('echo pwned')",
    'a"; import os; os.system("x")  #',
    "line\nbreak = 1\nimport os",
    "class",
    "self",
    "1st layer",
    "ñandú ü 层",
    "torch",
    "'''",
    '"""',
    "",
    "forward",
    "state_dict",
]


def test_hostile_names_become_safe_identifiers_and_execute_nothing(tmp_path, monkeypatch):
    g = Graph()
    x = g.add_block("input", name="x y\nz")
    prev = x
    for i, name in enumerate(HOSTILE):
        blk = g.add_block("linear", name=name or f"blank{i}", params={"out_features": 4})
        chain(g, prev, blk)
        prev = blk
    dup = g.add_block("relu", name="class ")  # sanitizes to the same text as "class"
    chain(g, prev, dup)
    out = g.add_block("output", name="return")
    chain(g, dup, out)
    project_name = "evil\"\"\"\nimport os\nos.system('echo pwned')#"
    code = generate(g, project_name)
    tree = ast.parse(code.source)
    # the only imports are torch's, and no call reaches anything but torch, nn and self
    imports = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert imports == ["import torch", "from torch import nn"]
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"os", "__import__", "eval", "exec", "system"}
    called = []
    monkeypatch.setattr("os.system", lambda *a: called.append(a))
    model = build_class(code)()
    model(torch.randn(2, 2))
    assert called == []


def test_a_traceback_points_at_the_generated_line_and_its_block():
    g = mlp()
    code = generate(g)
    model = build_class(code)()
    with pytest.raises(RuntimeError) as err:
        model(torch.randn(2, 5))  # wrong feature count
    frames = [f for f in traceback.extract_tb(err.value.__traceback__) if f.filename.startswith("<studio:")]
    assert frames and frames[-1].line == "x = self.fc1(x)"
    assert g.block(block_at(frames[-1].filename, frames[-1].lineno, code)).name == "fc1"
