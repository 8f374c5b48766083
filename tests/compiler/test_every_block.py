"""Every block type in the registry, on its own: it infers shapes on meta for a sensible input,
its generated code passes ruff, and that code runs for real with the shapes inference showed.

The sample input is found, not listed: the first of a few typical shapes each block accepts,
so a new declaration is covered the moment it is registered."""

import ast
import subprocess
import sys

import pytest
import torch

from studio.blocks.registry import BATCH, ROLE_LAYER, all_block_types
from studio.compiler import analyze, build_class, generate
from studio.graph.model import Graph

# (shape without the batch, dtype), tried in order
CANDIDATES = [
    ([16], "float32"),
    ([64], "float32"),
    ([6, 16], "float32"),
    ([4, 8, 8], "float32"),
    ([4, 6, 8, 8], "float32"),
    ([3, 32, 32], "float32"),
    ([16], "int64"),
    ([784], "float32"),
]
SAMPLE_PARAMS = {"backbone": {"model": "resnet18", "weights": "none"}}
# blocks that need a setting the user must make first (a repository) are tested elsewhere
NEEDS_SETUP = {"hub_model", "call_again", "tied_head", "tie"}  # a repository; the block it calls again; the weights it ties
LAYER_TYPES = [
    s.id for s in all_block_types() if s.role == ROLE_LAYER and s.emitter is not None and s.id not in NEEDS_SETUP
]


def block_graph(type_id: str, shape: list[int], dtype: str) -> Graph:
    """input -> the block (every required input wired to the one input) -> one Output per port."""
    g = Graph()
    block = g.add_block(type_id, params=SAMPLE_PARAMS.get(type_id))
    x = g.add_block("input", params={"shape": shape, "dtype": dtype})
    if block.input_ports():
        for port in block.input_ports():
            if not port.optional:
                g.connect(x.id, "out", block.id, port.name)
        for port in block.output_ports():
            g.connect(block.id, port.name, g.add_block("output").id, "in")
    else:  # a source such as Parameter: add it to an input, as users do
        add = g.add_block("add")
        g.connect(x.id, "out", add.id, "in1")
        g.connect(block.id, "out", add.id, "in2")
        g.connect(add.id, "out", g.add_block("output").id, "in")
    return g


def sample_graph(type_id: str):
    """The graph on the first candidate input the block accepts, and its analysis."""
    tried = []
    for shape, dtype in CANDIDATES:
        g = block_graph(type_id, shape, dtype)
        analysis = analyze(g)
        if not analysis.errors:
            return g, analysis
        tried.append(f"{shape} {dtype}: {analysis.errors[0].message}")
    pytest.fail(f"{type_id} accepts none of the sample inputs:\n" + "\n".join(tried))


def real_inputs(g: Graph) -> list[torch.Tensor]:
    out = []
    for b in g:
        if b.type == "input":
            shape = (3, *b.params["shape"])
            out.append(torch.randint(0, 10, shape) if b.params["dtype"] == "int64" else torch.randn(shape))
    return out


@pytest.mark.parametrize("type_id", LAYER_TYPES)
def test_every_block_type_compiles_runs_and_matches_its_inferred_shapes(type_id):
    g, analysis = sample_graph(type_id)
    code = generate(g, f"test {type_id}", analysis)
    ast.parse(code.source)
    model = build_class(code)().eval()
    with torch.no_grad():
        y = model(*real_inputs(g))
    ys = y if isinstance(y, tuple) else (y,)
    outputs = [b for b in g if b.type == "output"]
    assert len(ys) == len(outputs)
    for value, out_block in zip(ys, outputs):
        inferred = analysis.block_info(out_block.id).in_shapes[0]
        assert tuple(value.shape) == tuple(3 if d == BATCH else d for d in inferred)
    assert sum(p.numel() for p in model.parameters()) == analysis.totals().params
    model.train()  # dropout, batch statistics and the like take their training paths
    trained = model(*real_inputs(g))
    for value, before in zip(trained if isinstance(trained, tuple) else (trained,), ys):
        assert value.shape == before.shape


def test_the_code_of_every_block_type_passes_ruff(tmp_path):
    for type_id in LAYER_TYPES:
        g, analysis = sample_graph(type_id)
        (tmp_path / f"{type_id}.py").write_text(generate(g, f"test {type_id}", analysis).source)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP",
         "--target-version", "py310", str(tmp_path)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
