"""The Problems list checks the training data against the model, and fixes with one click."""

import copy
import threading

import pytest
from PySide6.QtCore import Qt

from studio.ui.training.commands import SetTraining
from tests.ui.conftest import by_name


def set_training(window, **changes):
    """What the training settings form pushes when the user edits it."""
    settings = copy.deepcopy(window.doc.project.training)
    settings.update(changes)
    assert window.doc.push(SetTraining(window.doc.project, settings, "data"))


def wait_rows(qtbot, window, needle):
    """The data is read in the background: wait for the row that names ``needle``."""
    problems = window.problems
    qtbot.waitUntil(lambda: any(needle in t for t in problems.problem_texts()), timeout=120_000)
    return next(t for t in problems.problem_texts() if needle in t)


def click_fix(qtbot, window, needle):
    [(text, button)] = [(t, b) for t, b in window.problems.fix_buttons().items() if needle in t]
    assert button.isVisible()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.wait(1)  # the coalesced analysis refresh
    return button


@pytest.fixture
def shown(window, qtbot):
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: "No problems" in window.problems.item(0).text(), timeout=120_000)
    return window


def test_image_data_for_a_flat_input_is_named_and_fixed_with_one_click_and_undone(shown, qtbot):
    w = shown
    set_training(w, data={"kind": "shapes"})
    text = wait_rows(qtbot, w, "The data gives samples of 1×28×28")
    assert (
        text.startswith("points: ")
        and "Set its shape to 1×28×28 and insert a Flatten after it" in text
    )
    assert w.totals_label.text().endswith("1 problem")
    button = click_fix(qtbot, w, "1×28×28")
    assert button.text() == "Set shape to 1×28×28"
    points = by_name(w.doc.graph, "points")
    assert tuple(points.params["shape"]) == (1, 28, 28)
    assert any(b.type == "flatten" for b in w.doc.graph.blocks.values())
    # the images now reach the classifier: the next mismatch is its width (3 shapes, 2 outputs)
    assert w.problems.problem_texts() == [
        "classifier: The data has 3 classes, but the model gives 2 scores per sample (N×2); Cross-entropy "
        "needs one per class. Set classifier's out features to 3."
    ]
    click_fix(qtbot, w, "3 classes")
    assert "No problems" in w.problems.item(0).text() and w.totals_label.text().endswith(
        "ready to train"
    )
    w.doc.undo_stack.undo()
    w.doc.undo_stack.undo()  # one step takes the shape and the Flatten back
    wait_rows(qtbot, w, "The data gives samples of 1×28×28")
    assert tuple(points.params["shape"]) == (2,)
    assert not any(b.type == "flatten" for b in w.doc.graph.blocks.values())


def test_class_count_fix_sets_the_last_linear(shown, qtbot):
    w = shown
    set_training(w, data={"kind": "blobs", "classes": 5})
    text = wait_rows(qtbot, w, "classes")
    assert text == (
        "classifier: The data has 5 classes, but the model gives 2 scores per sample (N×2); Cross-entropy "
        "needs one per class. Set classifier's out features to 5."
    )
    click_fix(qtbot, w, "5 classes")
    assert by_name(w.doc.graph, "classifier").params["out_features"] == 5
    assert w.problems.problem_texts() == []


def test_bce_and_regression_widths(shown, qtbot):
    w = shown
    set_training(w, data={"kind": "blobs", "classes": 3}, loss={"name": "bce_with_logits"})
    wait_rows(qtbot, w, "The targets have 3 labels per sample, but the model gives 2")
    click_fix(qtbot, w, "3 labels")
    assert by_name(w.doc.graph, "classifier").params["out_features"] == 3
    set_training(w, data={"kind": "spirals"}, loss={"name": "mse"})
    wait_rows(qtbot, w, "The targets have 1 value per sample, but the model gives 3")


def test_unreadable_data_is_a_problem_without_a_fix(shown, qtbot):
    w = shown
    set_training(w, data={"kind": "csv", "path": "no_such_table.csv"})
    text = wait_rows(qtbot, w, "CSV file not found")
    assert text.startswith("Training data: ") and w.problems.fix_buttons() == {}


def test_the_data_is_read_off_the_gui_thread_once_per_spec(shown, qtbot, monkeypatch):
    from studio.training import fit_check

    threads = []
    real = fit_check.data_signature

    def spy(spec, base_dir):
        threads.append(threading.current_thread())
        return real(spec, base_dir)

    monkeypatch.setattr(fit_check, "data_signature", spy)
    w = shown
    set_training(w, data={"kind": "blobs", "classes": 7})
    wait_rows(qtbot, w, "7 classes")
    assert threads and all(t is not threading.main_thread() for t in threads)
    n = len(threads)
    w.editor.set_params(by_name(w.doc.graph, "fc1").id, {"out_features": 32})
    qtbot.wait(5)  # an unrelated edit checks again, from the cache
    assert len(threads) == n and any("7 classes" in t for t in w.problems.problem_texts())


def test_a_fixed_model_clears_the_last_runs_stale_failure(shown, qtbot):
    w = shown
    set_training(w, data={"kind": "blobs", "classes": 4})
    wait_rows(qtbot, w, "4 classes")
    classifier = by_name(w.doc.graph, "classifier")
    w.problems.pin(
        "Training: Target 3 is out of bounds.", classifier.id
    )  # what a failed run leaves
    w.scene.set_run_problem(classifier.id, "Target 3 is out of bounds.")
    assert w.problems.item(0).text() == "Training: Target 3 is out of bounds."
    assert w.scene.look(classifier).problem == "Target 3 is out of bounds."
    w.problems.refresh()
    assert w.problems.pinned_text() is not None  # nothing edited yet: it stays
    click_fix(qtbot, w, "4 classes")
    assert w.problems.pinned_text() is None
    assert w.scene.look(classifier).problem == ""  # the canvas no longer marks the block either
    assert "No problems" in w.problems.item(0).text()


def test_a_long_name_in_a_problem_wraps_instead_of_cutting_the_row(
    qtbot, config_dir, tmp_path, monkeypatch
):
    """The Transfer learning example, its weights not yet downloaded, at 1280x720: the warning
    names MobileNet_V3_Small_Weights.IMAGENET1K_V1, one word wider than the dock, so the row
    grew wider than the list and its text was cut at the top, bottom and right."""
    from tests.ui.conftest import open_window

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # nothing downloaded yet
    w = open_window(qtbot, "resources/examples/transfer_learning.studio.json")
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    w.reset_layout()  # the docks as a first start at this size lays them out
    text = wait_rows(qtbot, w, "IMAGENET1K_V1")
    problems = w.problems
    row_item = next(
        problems.item(i) for i in range(problems.count()) if problems.item(i).toolTip() == text
    )
    row = problems.itemWidget(row_item)
    qtbot.waitUntil(lambda: row.isVisible())
    viewport = problems.viewport().width()
    assert row.width() <= viewport  # nothing cut at the right
    assert row.height() >= row.layout().totalHeightForWidth(row.width())  # nor top and bottom
    from PySide6.QtWidgets import QLabel

    [label] = [lab for lab in row.findChildren(QLabel) if lab.text()]
    assert label.text().replace("\u200b", "") == text  # only invisible wrap points added


def test_an_image_folder_of_another_size_also_says_how_to_read_it_to_fit(
    qtbot, config_dir, tmp_path
):
    """The shapes CNN (1×28×28) on scikit-learn's 8×8 digits as PNGs: the only advice was to
    rebuild the model for 3×8×8, not that the folder can be read as 1×28×28."""
    from PIL import Image

    from tests.ui.conftest import open_window

    for label in ("0", "1"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("L", (8, 8), 40 * i).save(tmp_path / label / f"{i}.png")
    w = open_window(qtbot, "resources/examples/shapes_cnn.studio.json")
    set_training(w, data={"kind": "image_folder", "path": str(tmp_path)})
    text = wait_rows(qtbot, w, "The data gives samples of 3×8×8")
    assert text.endswith(
        "Set its shape to 3×8×8, then adapt the layers after it; or read the images to fit it: "
        "set Channels to 1 and Image size to 28, 28 in the training settings."
    )
    set_training(
        w, data={"kind": "image_folder", "path": str(tmp_path), "channels": 1, "size": [28, 28]}
    )
    qtbot.waitUntil(
        lambda: not any("3×8×8" in t for t in w.problems.problem_texts()), timeout=120_000
    )
    assert not any("image:" in t for t in w.problems.problem_texts())


def test_a_softmax_before_the_output_with_cross_entropy_is_a_warning_fixed_in_one_click(
    shown, qtbot
):
    """A Softmax as the last layer, trained with cross-entropy (which applies softmax itself),
    trained without a word: the classic first model's mistake."""
    w = shown
    g = w.doc.graph
    logits, classifier = by_name(g, "logits"), by_name(g, "classifier")
    edge = g.edge_into(logits.id, "in")
    softmax = w.editor.add_block_on_wire("softmax", (classifier.position[0] + 290, 0), edge.id)
    text = wait_rows(qtbot, w, "just before the Output")
    assert text.startswith(f"{g.blocks[softmax].name}: A Softmax just before the Output, but ")
    assert "Cross-entropy applies softmax itself" in text
    assert "No problems" not in w.problems.item(0).text() and w.training.train_action.isEnabled()
    click_fix(qtbot, w, "just before the Output")
    assert softmax not in g.blocks and g.edge_into(logits.id, "in").src == classifier.id
    qtbot.waitUntil(lambda: "No problems" in w.problems.item(0).text(), timeout=120_000)
    w.doc.undo_stack.undo()  # one step: the Softmax and its wires are back
    assert softmax in g.blocks and g.edge_into(logits.id, "in").src == softmax
