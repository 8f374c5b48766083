from studio.compiler import analyze
from studio.graph.model import Graph
from studio.graph.validation import validate
from tests.helpers import chain, mlp


def messages(graph):
    return [d.message for d in analyze(graph).diagnostics if d.is_error]


def test_a_valid_graph_has_no_errors():
    assert messages(mlp()) == []


def test_missing_input_and_output_are_reported():
    g = Graph()
    g.add_block("linear")
    msgs = " ".join(d.message for d in validate(g))
    assert "needs an Input block" in msgs
    assert "needs an Output block" in msgs


def test_unconnected_input_is_attached_to_its_block():
    g = mlp()
    fc = g.add_block("linear", name="lonely")
    diags = [d for d in validate(g) if d.block_id == fc.id and d.is_error]
    assert diags and "nothing wired into" in diags[0].message


def test_loops_from_files_are_reported_on_the_blocks():
    g = mlp()
    data = g.to_dict()
    ids = {b["name"]: b["id"] for b in data["blocks"]}
    data["edges"].append({"id": "loop", "from": [ids["fc2"], "out"], "to": [ids["fc1"], "in"]})
    loaded = Graph.from_dict(data)
    diags = validate(loaded)
    assert any("loop" in d.message and d.block_id == ids["fc1"] for d in diags)
    assert any(d.edge_id == "loop" for d in diags)


def test_two_wires_into_one_input_from_a_file_are_reported():
    g = mlp()
    data = g.to_dict()
    ids = {b["name"]: b["id"] for b in data["blocks"]}
    data["edges"].append({"id": "dup", "from": [ids["x"], "out"], "to": [ids["fc2"], "in"]})
    diags = validate(Graph.from_dict(data))
    assert any(d.edge_id == "dup" and "Two wires" in d.message for d in diags)


def test_parameter_out_of_range_is_reported():
    g = mlp()
    g.block_by_name("fc1").params["out_features"] = -3  # e.g. set through the API, not a command
    assert any("at least 1" in m for m in messages(g))


def test_shape_mismatch_names_both_shapes():
    g = Graph()
    x = g.add_block("input", params={"shape": [8]})
    a = g.add_block("linear", params={"out_features": 64})
    b = g.add_block("linear", params={"out_features": 32})
    add = g.add_block("add")
    out = g.add_block("output")
    chain(g, x, a)
    g.connect(x.id, "out", b.id, "in")
    g.connect(a.id, "out", add.id, "in1")
    g.connect(b.id, "out", add.id, "in2")
    chain(g, add, out)
    errs = [d for d in analyze(g).errors if d.block_id == add.id]
    assert errs and "N×64" in errs[0].message and "N×32" in errs[0].message


def test_conv_on_flat_input_explains_the_needed_layout():
    g = mlp()
    conv = g.add_block("conv2d")
    g.connect(g.block_by_name("act").id, "out", conv.id, "in")
    errs = [d.message for d in analyze(g).errors if d.block_id == conv.id]
    assert errs == ["Conv2d needs a 4-D input (N×C×H×W) but gets N×16. Put an Unflatten or Reshape before it."]


def test_unused_block_is_a_warning_not_an_error():
    g = mlp()
    lonely = g.add_block("relu")
    g.connect(g.block_by_name("x").id, "out", lonely.id, "in")
    diags = [d for d in analyze(g).diagnostics if d.block_id == lonely.id]
    assert [d.severity for d in diags] == ["warning"]
