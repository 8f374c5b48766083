"""Group into module, ungroup, detach copy, rename a definition and per-use parameters: each is
one undoable step, and none changes what the model computes (same seed, same outputs)."""

import pytest
import torch

from studio.compiler import Analysis, build_model, generate
from studio.graph.commands import History, SetParams
from studio.graph.errors import GraphError
from studio.graph.model import Graph
from studio.graph.module_commands import (
    DeclareParam,
    DetachCopy,
    GroupIntoModule,
    InGraph,
    RemoveParam,
    RenameDefinition,
    Ungroup,
)
from tests.modules_helpers import chain, small_resnet

UNIT = ["conv1", "bn1", "relu1", "conv2", "bn2", "add", "relu2"]


def flat_model() -> Graph:
    """x -> conv-bn-relu-conv-bn (+ x) -> relu -> flatten -> linear: a residual unit, flat."""
    g = Graph()
    x, *_, b2 = chain(
        g,
        ("input", dict(name="x", params={"shape": [8, 6, 6]}, position=(0, 0))),
        (
            "conv2d",
            dict(
                name="conv1",
                params={"out_channels": 8, "kernel_size": 3, "padding": 1},
                position=(200, 0),
            ),
        ),
        ("batchnorm2d", dict(name="bn1", position=(400, 0))),
        ("relu", dict(name="relu1", position=(600, 0))),
        (
            "conv2d",
            dict(
                name="conv2",
                params={"out_channels": 8, "kernel_size": 3, "padding": 1},
                position=(800, 0),
            ),
        ),
        ("batchnorm2d", dict(name="bn2", position=(1000, 0))),
    )
    add = g.add_block("add", name="add", position=(1200, 100))
    g.connect(b2.id, "out", add.id, "in1")
    g.connect(x.id, "out", add.id, "in2")
    relu, *_ = chain(
        g,
        ("relu", dict(name="relu2", position=(1400, 100))),
        ("flatten", dict(name="flat", position=(1600, 100))),
        ("linear", dict(name="head", params={"out_features": 3}, position=(1800, 100))),
        ("output", dict(name="y", position=(2000, 100))),
    )
    g.connect(add.id, "out", relu.id, "in")
    return g


def outputs(graph: Graph) -> torch.Tensor:
    torch.manual_seed(0)
    model = build_model(graph).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        return model(torch.randn(2, 8, 6, 6))


def ids(graph: Graph, names) -> list[str]:
    return [graph.block_by_name(n).id for n in names]


def group_unit(g: Graph, h: History, name="Unit") -> GroupIntoModule:
    x = g.block_by_name("x").id
    return h.push(GroupIntoModule(ids(g, UNIT), name, specs={(x, "out"): ((8, 6, 6), "float32")}))


def test_grouping_is_one_step_and_keeps_what_the_model_computes():
    g = flat_model()
    before, flat_text = outputs(g), g.to_dict()
    h = History(g)
    cmd = group_unit(g, h)
    use = g.block(cmd.use_id)
    assert [b.name for b in g] == ["x", "unit1", "flat", "head", "y"]
    assert use.type == "module:Unit" and use.position == (
        800,
        0,
    )  # conv2: nearest the selection's centre
    defn = g.library.get("Unit")
    assert [b.name for b in defn.input_blocks()] == ["x"] and [
        b.name for b in defn.output_blocks()
    ] == ["out"]
    assert defn.input_blocks()[0].params["shape"] == (8, 6, 6)
    source = generate(g).source
    assert "class Unit(nn.Module):" in source and "self.unit1 = Unit()" in source
    assert torch.equal(outputs(g), before)
    h.undo()
    assert g.to_dict() == flat_text and "Unit" not in g.library
    h.redo()
    assert g.library.get("Unit") is defn and g.block(cmd.use_id).type == "module:Unit"
    assert torch.equal(outputs(g), before)


def test_wires_crossing_the_selection_become_ports():
    g = flat_model()
    h = History(g)
    cmd = h.push(GroupIntoModule(ids(g, ["conv2", "bn2", "add"]), "Tail"))
    defn = g.library.get("Tail")
    # two outside sources (relu1 and x) feed the selection: two Inputs, named after them
    assert [b.name for b in defn.input_blocks()] == ["relu1", "x"]
    use = g.block(cmd.use_id)
    assert g.edge_into(use.id, "relu1").src == g.block_by_name("relu1").id
    assert g.edge_into(use.id, "x").src == g.block_by_name("x").id
    assert [e.dst for e in g.outgoing(use.id)] == [g.block_by_name("relu2").id]
    assert Analysis(g).ok


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "Select the blocks"),
        (["x", "conv1"], "leave Input and Output blocks out"),
        (["conv1", "add"], "feeds it back in"),
    ],
)
def test_grouping_refuses_clearly_and_changes_nothing(names, message):
    g = flat_model()
    text = g.to_dict()
    with pytest.raises(GraphError, match=message):
        History(g).push(GroupIntoModule(ids(g, names), "Unit"))
    assert g.to_dict() == text and not len(g.library)


def test_ports_never_take_the_name_of_a_grouped_block():
    g = flat_model()
    g.rename(g.block_by_name("relu2").id, "out")
    History(g).push(
        GroupIntoModule(ids(g, ["conv1", "bn1", "relu1", "conv2", "bn2", "add", "out"]), "Unit")
    )
    defn = g.library.get("Unit")
    assert [b.name for b in defn.input_blocks()] == ["x"] and [
        b.name for b in defn.output_blocks()
    ] == ["out1"]
    assert Analysis(g).ok


def test_ports_from_odd_block_names_are_cleaned_by_the_one_naming_module():
    """A port named after an outside block goes through studio.naming, like the code's names:
    a keyword, a leading digit and spaces never reach the definition's Input blocks."""
    g = flat_model()
    g.rename(g.block_by_name("relu1").id, "2nd Relu")
    g.rename(g.block_by_name("x").id, "lambda")
    History(g).push(GroupIntoModule(ids(g, ["conv2", "bn2", "add"]), "Tail"))
    names = [b.name for b in g.library.get("Tail").input_blocks()]
    assert names == ["_2nd_relu", "lambda_"] and all(n.isidentifier() for n in names)
    assert Analysis(g).ok


def test_a_new_definition_name_is_a_class_name():
    lib = Graph().library
    assert lib.unique_name("Module") == "Module"
    lib.new("Module")
    assert lib.unique_name("Module") == "Module2"
    assert lib.unique_name("residual unit") == "ResidualUnit"
    assert lib.unique_name("3x3 conv") == "Block3x3Conv"
    assert lib.new("ResidualUnit").block_type().name_base == "residual_unit"


def test_grouping_refuses_a_bad_or_taken_name():
    g = flat_model()
    h = History(g)
    with pytest.raises(GraphError, match="must start with a letter"):
        h.push(GroupIntoModule(ids(g, ["conv1"]), "2bad"))
    group_unit(g, h)
    with pytest.raises(GraphError, match="already exists"):
        h.push(GroupIntoModule(ids(g, ["head"]), "Unit"))


def test_ungroup_is_the_inverse_and_drops_an_unused_definition():
    g = flat_model()
    before = outputs(g)
    h = History(g)
    use_id = group_unit(g, h).use_id
    grouped = g.to_dict()
    h.push(Ungroup(use_id))
    assert [b.name for b in g] == ["x", *UNIT, "flat", "head", "y"]
    assert "Unit" not in g.library
    assert torch.equal(outputs(g), before)
    h.undo()
    assert g.to_dict() == grouped
    h.redo()
    assert "Unit" not in g.library and torch.equal(outputs(g), before)


def test_ungroup_keeps_a_definition_other_uses_need_and_applies_per_use_values():
    g = small_resnet()
    before = outputs_of_resnet(g)
    h = History(g)
    layer3 = g.block_by_name("layer3")
    h.push(Ungroup(layer3.id))
    assert "ResidualUnit" in g.library  # layer1 still uses it
    assert g.block_by_name("conv1").params["out_channels"] == 16  # layer3's planes
    assert torch.equal(outputs_of_resnet(g), before)


def test_ungroup_expands_a_repeated_use_into_its_copies():
    g = small_resnet()
    before = outputs_of_resnet(g)
    h = History(g)
    h.push(Ungroup(g.block_by_name("layer1").id))
    names = [b.name for b in g]
    assert "conv1_1" in names and "conv1_2" in names and "layer1" not in names
    assert torch.equal(outputs_of_resnet(g), before)


def outputs_of_resnet(graph: Graph) -> torch.Tensor:
    torch.manual_seed(0)
    model = build_model(graph).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        return model(torch.randn(2, 3, 32, 32))


def test_detach_copy_gives_one_use_its_own_definition():
    g = small_resnet()
    h = History(g)
    layer3 = g.block_by_name("layer3")
    h.push(DetachCopy(layer3.id))
    assert g.block(layer3.id).type == "module:ResidualUnit2"
    copy = g.library.get("ResidualUnit2")
    assert set(copy.params) == {"planes", "stride"} and g.block(layer3.id).params["planes"] == 16
    inner = copy.graph.block_by_name("conv2")
    h.push(InGraph(copy.graph, SetParams(inner.id, {"kernel_size": 1, "padding": 0})))
    assert "class ResidualUnit2(nn.Module):" in generate(g).source
    assert g.library.get("ResidualUnit").graph.block_by_name("conv2").params["kernel_size"] == 3
    h.undo()
    h.undo()
    assert g.block(layer3.id).type == "module:ResidualUnit" and "ResidualUnit2" not in g.library
    h.redo()
    h.redo()  # the edit inside redoes onto the same copy
    assert g.library.get("ResidualUnit2") is copy and inner.params["kernel_size"] == 1


def test_rename_definition_renames_every_use():
    g = small_resnet()
    text = g.to_dict()
    h = History(g)
    h.push(RenameDefinition(g.library, "ResidualUnit", "BasicBlock"))
    assert {b.type for b in g if b.type.startswith("module:")} == {
        "module:BasicBlock",
        "module:DownUnit",
    }
    assert list(g.library.definitions) == ["BasicBlock", "DownUnit"]
    assert "class BasicBlock(nn.Module):" in generate(g).source
    h.undo()
    assert g.to_dict() == text
    with pytest.raises(GraphError, match="already exists"):
        h.push(RenameDefinition(g.library, "ResidualUnit", "DownUnit"))


def test_declare_and_remove_a_per_use_parameter():
    g = flat_model()
    h = History(g)
    use_id = group_unit(g, h).use_id
    defn = g.library.get("Unit")
    conv1 = defn.graph.block_by_name("conv1").id
    h.push(DeclareParam(defn, "width", [(conv1, "out_channels")]))
    assert g.block(use_id).params["width"] == 8
    g.set_params(use_id, {"width": 4})
    source = generate(g).source  # the declared parameter is the class's argument; the use passes 4
    assert "nn.Conv2d(8, width, 3, padding=1)" in source and " = Unit(4)" in source
    h.push(RemoveParam(defn, "width"))
    assert "width" not in g.block(use_id).params and "width" not in defn.params
    h.undo()
    assert g.block(use_id).params["width"] == 4
    with pytest.raises(GraphError, match="lower-case word"):
        h.push(DeclareParam(defn, "Width", [(conv1, "out_channels")]))
    with pytest.raises(GraphError, match="no parameter"):
        h.push(DeclareParam(defn, "depth", [(conv1, "depth")]))


def test_an_unused_definition_can_be_deleted_and_undo_brings_it_back():
    from studio.graph.insert_modules import RemoveDefinition

    g = flat_model()
    h = History(g)
    use_id = group_unit(g, h).use_id
    with pytest.raises(GraphError, match="still used"):
        h.push(RemoveDefinition(g.library, "Unit"))
    g.remove_block(use_id)
    h.push(RemoveDefinition(g.library, "Unit"))
    assert "Unit" not in g.library
    h.undo()
    assert "Unit" in g.library
