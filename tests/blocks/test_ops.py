"""The generic op blocks and the Custom module block: code, shapes, safe parameters."""

import pytest
import torch

from studio.blocks.catalogue.ops import format_index, parse_index, parse_kwargs, parse_source
from studio.compiler import analyze, build_model, generate
from studio.graph.model import Graph


def _graph(type_id, params=None, shapes=((2, 3),)):
    g = Graph()
    ins = [g.add_block("input", name=f"x{i}", params={"shape": list(s)}) for i, s in enumerate(shapes)]
    b = g.add_block(type_id, name="op", params=params or {})
    for port, x in zip(b.input_ports(), ins):
        g.connect(x.id, "out", b.id, port.name)
    out = g.add_block("output", name="y")
    g.connect(b.id, "out", out.id, "in")
    return g


@pytest.mark.parametrize(
    "type_id, params, shapes, fn",
    [
        ("subtract", {}, ((2, 3), (2, 3)), lambda a, b: a - b),
        ("divide", {}, ((2, 3), (1, 3)), lambda a, b: a / b),
        ("matmul", {}, ((2, 3), (3, 4)), lambda a, b: a @ b),
        ("scalar_op", {"op": "c - x", "value": 2.0}, ((3,),), lambda x: 2 - x),
        ("scalar_op", {"op": "x ** c", "value": 0.5}, ((3,),), lambda x: x**0.5),
        ("math", {"function": "exp"}, ((3,),), torch.exp),
        ("transpose", {"dim0": 1, "dim1": 2}, ((2, 3),), lambda x: x.transpose(1, 2)),
        ("unsqueeze", {"dim": 1}, ((3,),), lambda x: x.unsqueeze(1)),
        ("squeeze", {"dim": 1}, ((1, 3),), lambda x: x.squeeze(1)),
        ("sum", {"dims": (1, 2), "keepdim": True}, ((2, 3),), lambda x: x.sum(dim=(1, 2), keepdim=True)),
        ("index", {"index": "[:, 0, 1:]"}, ((2, 3),), lambda x: x[:, 0, 1:]),
    ],
)
def test_op_blocks_compute_what_they_say(type_id, params, shapes, fn):
    g = _graph(type_id, params, shapes)
    a = analyze(g)
    assert a.ok, a.diagnostics
    model = build_model(g, "ops")
    xs = [torch.rand(4, *s) + 0.5 for s in shapes]
    out = model(*xs)
    assert torch.allclose(out, fn(*xs))
    y = [b for b in g.blocks.values() if b.type == "output"][0]
    assert a.block_info(y.id).in_shapes[0][1:] == tuple(out.shape[1:])


def test_scalar_op_keeps_names_containing_x_or_c():
    g = _graph("scalar_op", {"op": "c / x", "value": 3.0})
    g.rename([b.id for b in g.blocks.values() if b.type == "input"][0], "conv_x")
    assert "conv_x = 3 / conv_x" in generate(g, "m").source


def test_index_text_cannot_carry_code():
    assert format_index(parse_index("[ : , 0 ,..., None, ::2]")) == "[:, 0, ..., None, ::2]"
    for bad in ("[__import__('os')]", "[x]", "[1.5]", "0", "[1](2)"):
        with pytest.raises(ValueError):
            parse_index(bad)
    g = _graph("index", {"index": "[len('a')]"})
    assert any("Index:" in d.message for d in analyze(g).errors)


def test_custom_module_parameters_are_checked():
    assert parse_source("pkg.mod:Block") == ("module", "pkg.mod", "Block")
    assert parse_source("/a/b.py:Block") == ("file", "/a/b.py", "Block")
    for bad in ("Block", "pkg.mod:", "pkg mod:Block", "pkg.mod:Bl ock", "os;rm:X"):
        with pytest.raises(ValueError):
            parse_source(bad)
    assert parse_kwargs("{'width': 4}") == {"width": 4}
    for bad in ("{'a': __import__('os')}", "[1]", "{1: 2}"):
        with pytest.raises(ValueError):
            parse_kwargs(bad)
    g = _graph("custom_module", {"source": "torch.nn:Linear", "kwargs": "{'in_features': 3, 'out_features': 'x' * 2}"})
    assert any("Custom module" in d.message for d in analyze(g).errors)


def test_custom_module_of_torch_nn_and_of_a_package():
    g = _graph("custom_module", {"source": "torch.nn:Hardsigmoid", "kwargs": "{}"})
    assert "self.op = nn.Hardsigmoid()" in generate(g, "m").source
    g = _graph("custom_module", {"source": "torchvision.ops:MLP", "kwargs": "{'in_channels': 3, 'hidden_channels': [5]}"})
    a = analyze(g)
    assert a.ok, a.diagnostics
    src = generate(g, "m").source
    assert "import torchvision.ops" in src and "torchvision.ops.MLP(in_channels=3, hidden_channels=[5])" in src
    assert build_model(g, "m")(torch.rand(2, 3)).shape == (2, 5)


def test_custom_module_with_several_inputs(tmp_path):
    f = tmp_path / "mix.py"
    f.write_text("import torch\n\nclass Mix(torch.nn.Module):\n    def forward(self, a, b):\n        return a * 2 + b\n")
    from studio.trust import trust

    trust(str(f))
    g = _graph("custom_module", {"source": f"{f}:Mix", "inputs": 2}, ((3,), (3,)))
    model = build_model(g, "m")
    a, b = torch.rand(2, 3), torch.rand(2, 3)
    assert torch.allclose(model(a, b), a * 2 + b)


def test_call_again_uses_the_same_layer_and_counts_its_weights_once():
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [4]})
    fc = g.add_block("linear", name="fc", params={"out_features": 4})
    again = g.add_block(
        "call_again", name="fc_again", params={"block": "fc", "type": "linear", "params": repr(dict(fc.params))}
    )
    out = g.add_block("output", name="y")
    g.connect(x.id, "out", fc.id, "in")
    g.connect(fc.id, "out", again.id, "in")
    g.connect(again.id, "out", out.id, "in")
    a = analyze(g)
    assert a.ok, [d.message for d in a.diagnostics]
    assert a.totals().params == 20  # one 4x4 Linear with bias
    src = generate(g, "m").source
    assert src.count("nn.Linear(") == 1 and src.count("= self.fc(x)") == 2
    model = build_model(g, "m")
    v = torch.rand(2, 4)
    assert sum(p.numel() for p in model.parameters()) == 20
    assert torch.allclose(model(v), model.fc(model.fc(v)))


def test_call_again_of_a_custom_module_asks_the_same_trust():
    params = {"source": "/nowhere/evil.py:Evil", "kwargs": "{}", "inputs": 1, "call_kwargs": "{}", "output_index": -1}
    g = _graph("call_again", {"block": "evil", "type": "custom_module", "params": repr(params)}, ((3,),))
    (error,) = analyze(g).errors
    assert "evil.py" in error.message


@pytest.mark.parametrize("type_id", ["add", "multiply", "concatenate"])
def test_merges_take_many_inputs(type_id):
    n = 20
    g = _graph(type_id, {"inputs": n}, ((3,),) * n)
    a = analyze(g)
    assert a.ok, [d.message for d in a.diagnostics]
    xs = [torch.rand(2, 3) for _ in range(n)]
    want = {"add": sum(xs), "multiply": torch.stack(xs).prod(0), "concatenate": torch.cat(xs, 1)}[type_id]
    assert torch.allclose(build_model(g, "m")(*xs), want)
