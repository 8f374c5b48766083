"""Try it for a table (scikit-learn's wine, 13 features, 3 classes): the validation rows listed
as the file has them, under its column names, with their true and predicted class, not a scatter
of the first score against the class index."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.regression_data import diabetes_settings, sklearn_csv
from tests.ui.test_try_text import generate, panel_with


def _trained(settings, folder, inputs, outputs, inside=False):
    from studio.training.datasets import load_data
    from studio.training.trainer import Trainer
    from tests.training.training_helpers import mlp

    data = load_data(settings, folder)
    model = mlp(inputs, outputs, hidden=32)
    if inside:  # the training rows' statistics kept in the model, which reads raw rows
        x = torch.stack([data.train[i][0] for i in range(len(data.train))])
        model = _StandardizeInside(model, x.mean(0), x.std(0))
    assert Trainer(model, data, settings).fit().status == "completed"
    return model, data


def _wine(folder):
    """scikit-learn's wine as a CSV with its own column names; (names, rows of floats)."""
    import csv

    path = sklearn_csv(
        "load_wine", folder / "wine.csv", "cultivar", cast=lambda k: f"cultivar {k}", named=True
    )
    header, *rows = list(csv.reader(path.open()))
    return header[:-1], [tuple(float(v) for v in row[:-1]) for row in rows]


class _StandardizeInside(torch.nn.Module):
    """A model that takes raw rows and standardises them itself (the Standardize block's way)."""

    def __init__(self, net, mean, std):
        super().__init__()
        self.net = net
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


@pytest.mark.parametrize("where", ["as it read", "inside the model"])
def test_a_table_classifier_lists_its_validation_rows_as_the_file_has_them(qtbot, tmp_path, where):
    from studio.training.settings import TrainingSettings

    names, file_rows = _wine(tmp_path)
    read_standardised = where == "as it read"
    data_spec = {"kind": "csv", "path": "wine.csv", "standardize": read_standardised}
    settings = TrainingSettings.from_dict({"data": data_spec, "epochs": 3})
    model, data = _trained(settings, tmp_path, 13, 3, inside=not read_standardised)
    assert bool(data.normalization) == read_standardised
    panel = panel_with(qtbot, (model, data))
    r = generate(qtbot, panel)
    table = panel.texts
    # a table, not a "Prediction vs truth" of class indices
    assert not table.isHidden() and panel.view.isHidden()
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    # the prediction first, in view however wide the row; then the file's columns
    assert headers == ["True label", "Predicted", "Probability", *names]
    assert names[12] == "proline" and table.rowCount() == len(r["labels"]) == 36
    # each row's values are one of the file's rows, as the file writes them (not standardised)
    val_x = torch.stack([data.val[i][0] for i in range(len(data.val))])
    for i in range(table.rowCount()):
        cells = table.row_texts(i)
        values = cells[3:]
        shown = tuple(float(c) for c in values)
        assert any(shown == pytest.approx(row, rel=1e-6, abs=1e-9) for row in file_rows), cells
        assert all(c == f"{float(c):g}" for c in values), cells  # 13.2, not 13.19999980926
        assert cells[0].startswith("cultivar ") and cells[2].endswith("%")
        right = r["labels"][i] == r["truth"][i]
        assert cells[1] == f"{'✓' if right else '✕'} cultivar {r['labels'][i]}"
        tip = table.item(i, 0).toolTip()
        assert tip.startswith(f"{names[0]} {values[0]}, {names[1]} {values[1]}")
    # the predictions are the model's on the rows it reads (standardised or not), as before
    with torch.no_grad():
        labels = model.eval()(val_x.float()).argmax(1).numpy()
    assert list(r["labels"]) == list(labels)
    assert panel.message.text() == f"36 validation samples, accuracy {r['accuracy']:.1%}"
    assert not panel.confusion_scroll.isHidden()


def test_the_confusion_matrix_names_a_class_once_when_its_name_is_its_number(qtbot):
    panel = panel_with(qtbot, None)
    cm = np.eye(3, dtype=np.int64)
    panel._draw_confusion(cm, ["0", "1", "2"])  # a target column of 0, 1, 2 (wine.csv's own)
    ticks = panel.confusion_plot.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == ["0", "1", "2"]  # was "0 0", "1 1", "2 2"
    panel._draw_confusion(cm, ["ale", "1", "stout"])
    ticks = panel.confusion_plot.getAxis("left")._tickLevels[0]
    assert [label for _, label in ticks] == ["0 ale", "1", "2 stout"]


def test_a_regression_shows_its_predictions_against_the_line_where_they_equal_the_truth(
    qtbot, tmp_path
):
    pytest.importorskip("sklearn")
    settings = diabetes_settings(tmp_path, epochs=2)
    panel = panel_with(qtbot, _trained(settings, tmp_path, 10, 1))
    generate(qtbot, panel)
    assert panel.texts.isHidden() and not panel.view.isHidden()
    plot = panel.view.getItem(0, 0)
    assert plot.titleLabel.text == "Prediction vs truth (first output; the line: equal)"
    line = plot.listDataItems()[0]
    xs, ys = line.getData()
    assert list(xs) == list(ys)  # the diagonal
