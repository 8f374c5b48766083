"""The model diff: blocks matched by structure, parameter by parameter, wires, modules, settings."""

import json

from studio.graph.diff import diff_graphs, diff_projects, match_blocks
from studio.graph.model import Graph
from studio.graph.project import dumps, load_project, loads
from studio.graph.search import Search, parse

CNN = "resources/examples/shapes_cnn.studio.json"
RESNET = "resources/examples/shapes_resnet.studio.json"


def copy(project):
    return loads(dumps(project))


def with_new_ids(project, rename=lambda name: name):
    """The same model written by someone else: every block and wire id different, names changed."""
    data = json.loads(dumps(project))
    ids = {b["id"]: f"n{i}" for i, b in enumerate(reversed(data["graph"]["blocks"]))}
    for b in data["graph"]["blocks"]:
        b["id"], b["name"] = ids[b["id"]], rename(b["name"])
    for i, e in enumerate(data["graph"]["edges"]):
        e["id"] = f"w{i}"
        e["from"][0], e["to"][0] = ids[e["from"][0]], ids[e["to"][0]]
    return loads(json.dumps(data))


def edited(project):
    """One block changed, one added (rewired in), one renamed, one moved."""
    b = copy(project)
    g = b.graph
    g.set_params("b5", {"out_channels": 64})
    g.rename("b9", "hidden")
    e = next(e for e in g.edges.values() if e.src == "b3")
    g.disconnect(e.id)
    drop = g.add_block("dropout", name="drop1", params={"p": 0.1}, position=(300, 200))
    g.connect("b3", e.src_port, drop.id, "in")
    g.connect(drop.id, "out", e.dst, e.dst_port)
    g.move("b2", (10, 500))
    return b


def test_a_copy_is_the_same():
    a = load_project(CNN)
    d = diff_projects(a, copy(a), "x = 1\n", "x = 1\n")
    assert d.empty and d.to_text() == "The models and settings are the same."


def test_changed_added_renamed_and_moved_blocks():
    a = load_project(CNN)
    d = diff_projects(a, edited(a))
    g = d.graph
    assert [(n, t) for _, n, t in g.added] == [("drop1", "dropout")] and g.removed == []
    assert [(c.name_b, c.params) for c in g.changed] == [("conv2", {"out_channels": (32, 64)})]
    assert [(c.name_a, c.name_b) for c in g.renamed] == [("fc", "hidden")]
    assert [c.name_b for c in g.moved] == ["conv1"]
    assert g.wires_added == ["drop1.out -> pool1.in", "relu1.out -> drop1.in"]
    assert g.wires_removed == ["relu1.out -> pool1.in"]
    text = d.to_text()
    assert "+ block drop1 (dropout)" in text and "~ block conv2: out_channels 32 -> 64" in text
    assert "~ block fc renamed to hidden" in text and "moved on the canvas" in text


def test_blocks_match_by_structure_when_every_id_and_name_differs():
    a = load_project(CNN)
    b = with_new_ids(a, rename=lambda n: "layer_" + n)
    pairs = match_blocks(a.graph, b.graph)
    assert len(pairs) == len(a.graph.blocks)
    for x, y in pairs.items():  # each block found its own counterpart, the three ReLUs included
        assert b.graph.blocks[y].name == "layer_" + a.graph.blocks[x].name
    d = diff_graphs(a.graph, b.graph)
    assert (
        not d.added
        and not d.removed
        and not d.changed
        and not d.wires_added
        and not d.wires_removed
    )
    assert len(d.renamed) == len(a.graph.blocks)


def test_structure_matching_finds_a_changed_block_with_a_new_id_and_name():
    a = load_project(CNN)
    b = with_new_ids(edited(a))
    b.graph.rename(b.graph.block_by_name("conv2").id, "second_conv")
    d = diff_graphs(a.graph, b.graph)
    assert [(c.name_a, c.name_b, c.params) for c in d.changed] == [
        ("conv2", "second_conv", {"out_channels": (32, 64)})
    ]
    assert [n for _, n, _ in d.added] == ["drop1"] and not d.removed


def test_removed_block_and_its_wires():
    a = load_project(CNN)
    b = copy(a)
    b.graph.remove_block("b11")  # the dropout
    b.graph.connect("b10", "out", "b12", "in")
    d = diff_graphs(a.graph, b.graph)
    assert [n for _, n, _ in d.removed] == ["dropout"]
    assert d.wires_removed == ["dropout.out -> classifier.in", "relu3.out -> dropout.in"]
    assert d.wires_added == ["relu3.out -> classifier.in"]


def test_module_definitions_settings_and_ranges():
    a = load_project(RESNET)
    b = copy(a)
    defn = next(iter(b.graph.library))
    inner = next(blk for blk in defn.graph.blocks.values() if blk.type == "relu")
    defn.graph.rename(inner.id, "act_renamed")
    b.training = {
        **b.training,
        "optimizer": {**b.training.get("optimizer", {}), "lr": 0.5},
        "epochs": 99,
    }
    b.search = Search([parse("lr=1e-4..1e-1:log")])
    d = diff_projects(a, b)
    assert list(d.modules_changed) == [defn.name]
    assert [c.name_b for c in d.modules_changed[defn.name].renamed] == ["act_renamed"]
    assert d.settings["optimizer.lr"][1] == 0.5 and d.settings["epochs"][1] == 99
    assert d.search == {"lr": ("", "0.0001..0.1 log")}
    out = d.to_json()
    assert out["settings"]["epochs"]["new"] == 99 and json.dumps(out)


def test_code_diff_is_unified():
    a = load_project(CNN)
    d = diff_projects(a, a, "a = 1\nb = 2\n", "a = 1\nb = 3\n")
    assert d.code.splitlines()[2:] == ["@@ -1,2 +1,2 @@", " a = 1", "-b = 2", "+b = 3"]


def test_an_empty_graph_against_a_model():
    a = load_project(CNN)
    empty = Graph()
    d = diff_graphs(empty, a.graph)
    assert len(d.added) == len(a.graph.blocks) and len(d.wires_added) == len(a.graph.edges)
