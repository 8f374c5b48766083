"""The Function block: any torch / F / Tensor call, its outputs, and what it refuses."""

import pytest
import torch
import torch.nn.functional as F

from studio.blocks.catalogue.function import FunctionError, parse_call
from studio.compiler import analyze, build_model, generate
from studio.graph.model import Graph


def _graph(function, arguments, shapes=((4, 6),), outputs=1):
    g = Graph()
    ins = [g.add_block("input", name=f"x{i}", params={"shape": list(s)}) for i, s in enumerate(shapes)]
    b = g.add_block(
        "function", name="fn",
        params={"function": function, "arguments": arguments, "inputs": len(shapes), "outputs": outputs},
    )
    for port, x in zip(b.input_ports(), ins):
        g.connect(x.id, "out", b.id, port.name)
    for port in b.output_ports():
        out = g.add_block("output", name=f"y_{port.name}")
        g.connect(b.id, port.name, out.id, "in")
    return g


@pytest.mark.parametrize(
    "function, arguments, shapes, want",
    [
        ("torch.roll", "in1, shifts=3, dims=1", ((4, 6),), lambda x: torch.roll(x, shifts=3, dims=1)),
        ("F.layer_norm", "in1, (6,), eps=1e-05", ((4, 6),), lambda x: F.layer_norm(x, (6,), eps=1e-05)),
        ("torch.maximum", "in1, in2", ((4, 6), (1, 6)), torch.maximum),
        ("Tensor.expand", "in1, in2.shape[0], -1, -1", ((1, 6), (4, 6)), lambda t, x: t.expand(x.shape[0], -1, -1)),
        # sizes computed from the input's (swin's windows: in1.shape[1] // 7)
        (
            "Tensor.view", "in1, in1.shape[0], in1.shape[1] // 2, 2 * 1, in1.shape[2] - 0 % 1",
            ((4, 6),), lambda x: x.view(x.shape[0], x.shape[1] // 2, 2, x.shape[2]),
        ),
    ],
)
def test_the_call_computes_what_torch_computes_with_exact_shapes(function, arguments, shapes, want):
    g = _graph(function, arguments, shapes)
    a = analyze(g)
    assert a.ok, [d.message for d in a.diagnostics]
    model = build_model(g, "m")
    xs = [torch.randn(2, *s) for s in shapes]
    got = model(*xs)
    assert torch.equal(got, want(*xs))
    (y,) = [b for b in g.blocks.values() if b.type == "output"]
    assert a.block_info(y.id).in_shapes[0][1:] == tuple(got.shape[1:])


def test_a_call_returning_a_tuple_gives_one_output_each():
    g = _graph("Tensor.chunk", "in1, 3, dim=2", outputs=3)
    a = analyze(g)
    assert a.ok, [d.message for d in a.diagnostics]
    src = generate(g, "m").source
    assert "fn, fn_out2, fn_out3 = x0.chunk(3, dim=2)" in src
    x = torch.randn(2, 4, 6)
    assert all(torch.equal(g_, w) for g_, w in zip(build_model(g, "m")(x), x.chunk(3, dim=2)))
    outs = [b for b in g.blocks.values() if b.type == "output"]
    assert [a.block_info(b.id).in_shapes[0][1:] for b in outs] == [(4, 2)] * 3


@pytest.mark.parametrize(
    "function, arguments, message",
    [
        ("torch.load", "in1", "not a function the Function block may call"),
        ("os.system", "in1", "name a function as torch.NAME"),
        ("torch.hub.load", "in1", "name a function as torch.NAME"),
        ("torch._C._foo", "in1", "name a function as torch.NAME"),
        ("torch.roll", "__import__('os')", "is not allowed"),
        ("torch.roll", "in1, shifts=open('f')", "is not allowed"),
        ("torch.roll", "in1, **{'a': 1}", "unpacking"),
        ("torch.roll", "in7", "not an input"),
        ("Tensor.view", "4, in1", "start the arguments with in1"),
        ("torch.rolll", "in1, 1", "torch has no function torch.rolll"),
        ("F.layer_norm", "in1, (6,), wrong=1", "unexpected keyword argument 'wrong'"),
        ("torch.roll", "in1, shifts='a', dims=1", "Function cannot take input"),
        ("torch.roll", "in1, shifts=in1 * 2, dims=1", "is not allowed"),
        ("torch.roll", "in1, shifts=2 ** 3, dims=1", "is not allowed"),
    ],
)
def test_bad_names_and_arguments_read_as_one_clear_line(function, arguments, message):
    g = _graph(function, arguments)
    errors = [d.message for d in analyze(g).errors]
    assert len(errors) == 1 and message in errors[0], errors
    assert "\n" not in errors[0]


def test_arguments_are_written_back_from_their_values_not_from_the_text():
    call = parse_call("F.pad", "in1 ,(1,2),  value = -0.5", 1)
    g = _graph("F.pad", "in1 ,(1,2),  value = -0.5")
    assert "x0 = F.pad(x0, (1, 2), value=-0.5)" in generate(g, "m").source
    assert "import torch.nn.functional as F" in generate(g, "m").source
    assert call.kwargs == (("value", -0.5),)
    with pytest.raises(FunctionError):
        parse_call("torch.roll", "in1, shifts=(lambda: 1)", 1)


def test_an_input_the_arguments_never_use_is_reported():
    g = _graph("torch.roll", "in1, 1, 1", shapes=((4,), (4,)))
    (error,) = analyze(g).errors
    assert "never use in2" in error.message
