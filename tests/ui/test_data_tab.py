"""The Data tab, through its widgets: samples, augmentation preview, rows, text windows, class
balance, the pipeline editor, and one-line reasons when the data cannot be read."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from studio.training.transforms import step
from tests.ui.conftest import open_window

ROOT = Path(__file__).resolve().parents[2]
TALES = ROOT / "resources" / "data" / "tiny_tales.txt"
WAIT = 60_000  # a loaded machine reads slowly; the tab shows its result as soon as it comes


def _folder(root: Path) -> Path:
    from PIL import Image

    rng = random.Random(0)
    for label, n in (("apple", 30), ("pear", 4)):
        (root / label).mkdir(parents=True)
        for i in range(n):
            image = Image.new("RGB", (24, 20), tuple(rng.randrange(256) for _ in range(3)))
            image.save(root / label / f"{i}.png")
    return root


def _panel(qtbot):
    from studio.ui.training.data_panel import DataPanel

    panel = DataPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    panel.show()
    return panel


def _load(qtbot, panel, settings: dict, base=None) -> None:
    before = panel._generation
    panel.set_source(settings, base)
    panel.reload()
    qtbot.waitUntil(
        lambda: panel._generation > before and not panel.busy() and panel.summary is not None,
        timeout=WAIT,
    )
    qtbot.waitUntil(lambda: panel.message.text() != "Reading the data…", timeout=WAIT)


def _tabs(panel) -> list[str]:
    return [panel.views.tabText(i) for i in range(panel.views.count())]


def test_an_image_folder_shows_samples_the_augmentation_and_its_unbalanced_classes(qtbot, tmp_path):
    root = _folder(tmp_path / "fruit")
    panel = _panel(qtbot)
    settings = {
        "data": {"kind": "image_folder", "path": str(root), "size": [16, 16]},
        "augment": [step("random_resized_crop"), step("horizontal_flip"), step("color_jitter")],
    }
    _load(qtbot, panel, settings)
    assert _tabs(panel) == ["Samples", "Augmentation", "Statistics"]
    assert "fruit (34 images, 2 classes)" in panel.message.text()
    labels = {panel.samples.item(i).text().split(" ")[0] for i in range(panel.samples.count())}
    assert labels == {"apple", "pear"}  # the small class shows too
    assert panel.samples.item(0).icon().actualSize(panel.samples.iconSize()).width() > 0
    assert panel.augmented.count() == 4 * min(8, panel.samples.count())
    assert [name for name, _, _ in panel.chart.shown] == ["apple", "pear"]
    assert sum(a + b for _, a, b in panel.chart.shown) == 34
    assert "unbalanced" in panel.chart.plot_item.titleLabel.text
    after = panel.preview.after[0].shape
    panel.before.setChecked(True)
    assert panel.preview.before[0].shape != after  # the file as it is: 20 x 24
    first = [d.copy() for d in panel.preview.draws[0]]
    panel.redraw.click()
    qtbot.waitUntil(
        lambda: panel.seed == 1 and not panel.busy() and panel._loaded_key[0][1] == 1, timeout=WAIT
    )
    qtbot.waitUntil(
        lambda: any((a != b).any() for a, b in zip(first, panel.preview.draws[0])), timeout=WAIT
    )


def test_the_generated_shapes_show_their_pictures_and_no_augmentation(qtbot):
    """The Shapes example's Data tab showed an empty Samples page: its images are tensors, not
    files. They show, drawn from every class and from validation too; they cannot be augmented,
    so there is no Augmentation page and no re-draw."""
    panel = _panel(qtbot)
    _load(qtbot, panel, {"data": {"kind": "shapes", "n": 300}, "val_split": 0.2})
    assert _tabs(panel) == ["Samples", "Statistics"]
    texts = [panel.samples.item(i).text() for i in range(panel.samples.count())]
    assert len(texts) == 16
    assert {t.split(" ")[0] for t in texts} == {"circle", "square", "triangle"}
    assert any(t.endswith("(val)") for t in texts) and not all(t.endswith("(val)") for t in texts)
    assert panel.samples.item(0).icon().actualSize(panel.samples.iconSize()).width() > 0
    pixels = panel.preview.after[0]
    assert pixels.shape == (28, 28, 3) and pixels.dtype.name == "uint8"
    assert pixels.min() == 0 and pixels.max() == 255  # a picture, not a blank tile
    assert not panel.before.isEnabled() and not panel.redraw.isEnabled()


def test_generated_rows_show_in_the_rows_page(qtbot):
    """The Spiral example's Rows page was empty (its rows are tensors, not a file): the first
    rows show, features and the class of each, the target marked."""
    panel = _panel(qtbot)
    _load(qtbot, panel, {"data": {"kind": "spirals", "n": 300}, "val_split": 0.2})
    assert _tabs(panel) == ["Rows", "Statistics"]
    assert panel.rows.columnCount() == 3 and panel.rows.rowCount() == 200
    assert panel.rows.horizontalHeaderItem(2).text() == "target (target)"
    assert {panel.rows.item(i, 2).text() for i in range(20)} == {"arm 0", "arm 1"}
    float(panel.rows.item(0, 0).text())  # a number


def test_a_csv_shows_its_rows_with_the_target_marked_and_bad_cells(qtbot, tmp_path):
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    iris = sklearn_datasets.load_iris()
    lines = ["sepal_length,sepal_width,petal_length,petal_width,species"]
    lines += [
        ",".join(f"{v:g}" for v in row) + f",{iris.target_names[t]}"
        for row, t in zip(iris.data, iris.target)
    ]
    lines[3] = "," + lines[3].split(",", 1)[1]  # line 4: sepal_length missing
    (tmp_path / "iris.csv").write_text("\n".join(lines) + "\n")
    panel = _panel(qtbot)
    _load(
        qtbot, panel, {"data": {"kind": "csv", "path": "iris.csv", "target": "species"}}, tmp_path
    )
    assert _tabs(panel) == ["Rows", "Statistics"]
    assert panel.rows.rowCount() == 150 and panel.rows.columnCount() == 5
    assert panel.rows.horizontalHeaderItem(4).text() == "species (target)"
    assert "mean" in panel.rows.horizontalHeaderItem(0).toolTip()
    assert panel.rows.item(2, 0).toolTip() == "missing or not a number"
    assert "line 4, column sepal_length" in panel.cells.text()
    assert [name for name, _, _ in panel.chart.shown] == ["setosa", "versicolor", "virginica"]
    assert panel.stats.rowCount() == 4


def test_the_tales_text_shows_windows_with_their_next_tokens(qtbot):
    panel = _panel(qtbot)
    _load(
        qtbot, panel, {"data": {"kind": "text", "path": str(TALES), "block_size": 48, "stride": 48}}
    )
    assert _tabs(panel) == ["Text", "Statistics"]
    assert panel.windows.rowCount() == 12
    assert panel.windows.item(0, 1).text().startswith("→ ")
    assert not panel.editor.isEnabled()  # text cannot be augmented
    assert panel.chart.shown == []


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "image_folder", "path": "missing"}, "image folder not found"),
        ({"kind": "csv", "path": "nothing.csv"}, "CSV file not found"),
    ],
)
def test_data_that_cannot_be_read_says_why_in_one_line(qtbot, tmp_path, data, message):
    panel = _panel(qtbot)
    _load(qtbot, panel, {"data": data}, tmp_path)
    assert message in panel.message.text() and "\n" not in panel.message.text()
    assert panel.views.count() == 0


def test_the_pipeline_editor_adds_removes_reorders_and_edits_steps(qtbot):
    from studio.ui.training.pipeline_editor import PipelineEditor

    editor = PipelineEditor()
    qtbot.addWidget(editor)
    seen = []
    editor.changed.connect(seen.append)
    editor.set_steps([], "image")
    labels = [editor.choice.itemText(i) for i in range(editor.choice.count())]
    assert "RandAugment" in labels and "Feature noise" not in labels
    for label in ("Horizontal flip", "Rotation", "Normalise"):
        editor.choice.setCurrentText(label)
        editor.add_button.click()
    assert [s["id"] for s in seen[-1]] == ["horizontal_flip", "rotation", "normalize"]
    editor.list.setCurrentRow(0)
    editor.choice.setCurrentText("Colour jitter")
    editor.add_button.click()  # after the selected step, never after Normalise
    assert [s["id"] for s in seen[-1]] == [
        "horizontal_flip",
        "color_jitter",
        "rotation",
        "normalize",
    ]
    editor.list.setCurrentRow(2)
    editor.up_button.click()
    assert [s["id"] for s in seen[-1]] == [
        "horizontal_flip",
        "rotation",
        "color_jitter",
        "normalize",
    ]
    editor.list.setCurrentRow(1)
    field = editor.fields["degrees"]
    field.setText("400")
    field.editingFinished.emit()
    assert "at most 180" in editor.error.text() and seen[-1][1]["degrees"] == 15.0
    field = editor.fields["degrees"]
    field.setText("30")
    field.editingFinished.emit()
    assert seen[-1][1] == {"id": "rotation", "degrees": 30.0} and editor.error.text() == ""
    assert "⟳" in editor.list.item(1).text() and "⟳" not in editor.list.item(3).text()
    editor.remove_button.click()
    assert [s["id"] for s in seen[-1]] == ["horizontal_flip", "color_jitter", "normalize"]
    editor.set_steps([], "table")
    labels = [editor.choice.itemText(i) for i in range(editor.choice.count())]
    assert labels == ["Feature noise", "Feature dropout"]


def test_the_window_has_a_data_tab_that_follows_the_settings_and_edits_the_pipeline(
    qtbot, tmp_path
):
    root = _folder(tmp_path / "fruit")
    project = json.loads((ROOT / "resources/examples/shapes_cnn.studio.json").read_text())
    project["training"]["data"] = {
        "kind": "image_folder",
        "path": "fruit",
        "channels": 1,
        "augment": True,
    }
    project["training"]["version"] = 2
    (tmp_path / "p.studio.json").write_text(json.dumps(project))
    w = open_window(qtbot, tmp_path / "p.studio.json")
    w.training.ensure_views()
    panel = w.training.panel.data_panel
    tabs = w.training.panel.right
    assert "Data" in [tabs.tabText(i) for i in range(tabs.count())]
    w.show()
    w.show_training()
    tabs.setCurrentWidget(panel)
    assert panel.isVisible()
    qtbot.waitUntil(lambda: panel.summary is not None and not panel.busy(), timeout=WAIT)
    assert "fruit (34 images" in panel.message.text() and root.exists()
    # the old checkbox shows as the pipeline it became; an edit is one undo step
    assert [s["id"] for s in panel.editor.steps] == ["horizontal_flip", "affine"]
    panel.editor.list.setCurrentRow(1)
    panel.editor.remove_button.click()
    assert w.doc.project.training["augment"] == [step("horizontal_flip")]
    assert "augment" not in w.doc.project.training["data"]
    w.doc.undo_stack.undo()
    assert [s["id"] for s in panel.editor.steps] == ["horizontal_flip", "affine"]


def test_the_rows_and_statistics_show_each_column_name_whole(qtbot, tmp_path):
    """scikit-learn's iris written with as_frame=True: the Rows page cut its names to
    'epal length (cm' and 'etal width (cm)' (100 px columns, centred names)."""
    names = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    rows = [",".join([*names, "target"])]
    rows += [f"5.{i % 9},3.{i % 7},1.{i % 5},0.{i % 3},{i % 3}" for i in range(30)]
    (tmp_path / "iris.csv").write_text("\n".join(rows) + "\n")
    panel = _panel(qtbot)
    _load(qtbot, panel, {"data": {"kind": "csv", "path": "iris.csv"}}, tmp_path)
    for table in (panel.rows, panel.stats):
        metrics = table.horizontalHeader().fontMetrics()
        for j in range(table.columnCount()):
            head = table.horizontalHeaderItem(j).text()
            cells = [table.item(i, j).text() for i in range(table.rowCount())]
            widest = max(metrics.horizontalAdvance(t) for t in [head, *cells])
            assert table.columnWidth(j) >= widest, (head, table.columnWidth(j), widest)
