"""The check before Train: the data's declared signature and the loss against the model."""

from studio.blocks.registry import BATCH
from studio.compiler import analyze
from studio.graph.commands import History
from studio.graph.model import Graph
from studio.training.fit_check import check_fit
from studio.training.kinds import get_loss
from studio.training.signatures import DataSignature
from tests.helpers import chain, mlp


def sig(shape, classes=None, target="class", width=None, dtype="float32", note=""):
    return DataSignature(shape, dtype, classes, target, width, note)


CE, BCE, MSE = (get_loss(name) for name in ("cross_entropy", "bce_with_logits", "mse"))


def problems(g, s, loss=CE):
    return check_fit(g, analyze(g), s, loss)


def apply_fix(g, problem):
    h = History(g)
    before = g.to_dict()
    h.push(problem.fix.make(g))
    return h, before


def test_a_fitting_model_has_no_problems():
    assert problems(mlp(in_features=2, classes=3), sig((2,), 3)) == []


def test_flat_input_for_images_names_the_shape_and_a_flatten_and_fixes_both_in_one_undo_step():
    g = mlp(in_features=784, classes=3)
    [p] = problems(g, sig((1, 28, 28), 3, note="shapes (600 samples)"))
    assert p.block_id == g.block_by_name("x").id
    assert "The data gives samples of 1×28×28 in shapes (600 samples), but this Input expects 784" in p.message
    assert "Set its shape to 1×28×28 and insert a Flatten after it" in p.message
    h, before = apply_fix(g, p)
    assert tuple(g.block_by_name("x").params["shape"]) == (1, 28, 28)
    assert analyze(g).ok and problems(g, sig((1, 28, 28), 3)) == []
    h.undo()
    assert g.to_dict() == before


def test_other_input_shapes_get_set_from_the_data():
    g = mlp(in_features=4, classes=3)
    [p] = problems(g, sig((2,), 3))
    assert "this Input expects 4. Set its shape to 2, then adapt the layers after it." in p.message
    apply_fix(g, p)
    assert problems(g, sig((2,), 3)) == []


def test_a_model_with_no_data_chosen_is_warned_but_not_bent_to_the_default_set():
    """An imported resnet-like model (3x224x224) before any data is chosen: the default spirals
    do not fit, which is a warning that says to choose the data, with no button that would set
    the Input to the spirals' 2."""
    from studio.graph.validation import WARNING
    from studio.training.fit_check import check_training

    g = mlp(in_features=4, classes=3)
    [p] = check_training(g, analyze(g), {"loss": {"name": "cross_entropy"}})
    assert p.severity == WARNING and p.fix is None
    assert p.message == (
        "No training data is chosen yet, and the default set does not fit this model: the data "
        "gives samples of 2 in spirals (1000 samples), but this Input expects 4. Choose the data: "
        "Dataset, in the Training panel's settings."
    )  # no "Set its shape to 2": the spirals are nobody's choice
    chosen = {"data": {"kind": "spirals"}, "loss": {"name": "cross_entropy"}}
    [p] = check_training(g, analyze(g), chosen)  # the user chose it: an error, with its fix
    assert p.severity != WARNING and p.fix is not None


def test_an_image_input_for_flat_data_names_an_unflatten():
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [1, 4, 4]})
    f = g.add_block("flatten", name="flat")
    o = g.add_block("output", name="y")
    chain(g, x, f, o)
    [p] = problems(g, sig((16,), 16))
    assert "insert an Unflatten to 1×4×4 after it" in p.message
    h, before = apply_fix(g, p)
    assert tuple(x.params["shape"]) == (16,)
    [unflat] = [b for b in g.blocks.values() if b.type == "unflatten"]
    assert analyze(g).block_info(unflat.id).out_shapes == ((BATCH, 1, 4, 4),)
    assert analyze(g).ok and problems(g, sig((16,), 16)) == []
    h.undo()
    assert g.to_dict() == before


def test_class_count_against_the_last_linear_with_a_fix():
    g = mlp(in_features=2, classes=10)
    [p] = problems(g, sig((2,), 3))
    fc2 = g.block_by_name("fc2")
    assert p.block_id == fc2.id
    assert p.message == (
        "The data has 3 classes, but the model gives 10 scores per sample (N×10); Cross-entropy needs "
        "one per class. Set fc2's out features to 3."
    )
    assert p.fix.text == "Set fc2 to 3 outputs"
    apply_fix(g, p)
    assert fc2.params["out_features"] == 3 and problems(g, sig((2,), 3)) == []


def test_the_walk_back_passes_activations_but_not_other_weights():
    g = mlp(in_features=2, classes=10)
    relu = g.add_block("relu", name="after")
    out = g.block_by_name("logits")
    fc2 = g.block_by_name("fc2")
    g.disconnect(g.edge_into(out.id, "in").id)
    chain(g, fc2, relu, out)
    [p] = problems(g, sig((2,), 3))
    assert p.fix is not None and "Set fc2's out features to 3" in p.message


def test_one_value_per_sample_is_not_a_classifier():
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [5]})
    total = g.add_block("sum", name="total")
    o = g.add_block("output", name="y")
    chain(g, x, total, o)
    [p] = problems(g, sig((5,), 3))
    assert p.message == (
        "The model gives N: one value per sample, but Cross-entropy needs one score per class (N×3 for 3 classes)."
    )


def test_bce_needs_one_output_per_label():
    g = mlp(in_features=2, classes=3)
    assert problems(g, sig((2,), 3), BCE) == []
    [p] = problems(g, sig((2,), 2), BCE)  # two classes: one 0/1 column
    assert "The targets have 1 label per sample, but the model gives 3" in p.message
    assert "needs one output per label" in p.message
    apply_fix(g, p)
    assert g.block_by_name("fc2").params["out_features"] == 1
    [p] = problems(g, sig((2,), None, target="float", width=4), BCE)
    assert "4 labels per sample" in p.message


def test_regression_target_width_against_the_output():
    g = mlp(in_features=1, classes=3)
    [p] = problems(g, sig((1,), None, target="float", width=1), MSE)
    assert "The targets have 1 value per sample, but the model gives 3 (N×3)" in p.message
    apply_fix(g, p)
    assert problems(g, sig((1,), None, target="float", width=1), MSE) == []


def test_a_class_loss_on_numeric_targets_names_a_regression_loss():
    g = mlp(in_features=1, classes=1)
    [p] = problems(g, sig((1,), None, target="float", width=1, note="noisy sine"))
    assert "Cross-entropy needs class labels, but the data's targets are numbers (noisy sine)" in p.message


def test_a_wrong_dtype_is_named_and_fixed():
    g = mlp(in_features=2, classes=3)
    [p] = problems(g, sig((2,), 3, dtype="int64"))
    assert "The data holds int64 values, but this Input expects float32" in p.message
    apply_fix(g, p)
    assert g.block_by_name("x").params["dtype"] == "int64"


def test_signatures_are_cached_per_spec_and_read_again_when_the_file_changes(tmp_path, monkeypatch):
    import os

    from studio.training import fit_check

    calls = []
    real = fit_check.data_signature
    monkeypatch.setattr(fit_check, "data_signature", lambda spec, base: calls.append(spec) or real(spec, base))
    table = tmp_path / "t.csv"
    table.write_text("a,b,y\n1,2,0\n3,4,1\n")
    spec = {"kind": "csv", "path": "t.csv"}
    assert fit_check.cached_signature(spec, tmp_path) is None  # never read: the window reads it in a thread
    first = fit_check.read_signature(spec, tmp_path)
    assert first.sample_shape == (2,) and first.num_classes == 2
    assert fit_check.read_signature(spec, tmp_path) is first and fit_check.cached_signature(spec, tmp_path) is first
    assert len(calls) == 1
    table.write_text("a,b,c,y\n1,2,3,0\n3,4,5,1\n5,6,7,2\n")
    os.utime(table, ns=(1, 10**18))  # a new modification time, whatever the clock's resolution
    assert fit_check.read_signature(spec, tmp_path).sample_shape == (3,) and len(calls) == 2
    assert "not found" in fit_check.read_signature({"kind": "csv", "path": "gone.csv"}, tmp_path)
