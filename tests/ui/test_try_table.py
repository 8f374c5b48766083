"""Try it for a table (scikit-learn's wine, 13 features, 3 classes): the validation rows listed
with their true and predicted class, not a scatter of the first score against the class index."""

from __future__ import annotations

import pytest

from tests.regression_data import diabetes_settings, sklearn_csv
from tests.ui.test_try_text import generate, panel_with


def _trained(settings, folder, inputs, outputs):
    from studio.training.datasets import load_data
    from studio.training.trainer import Trainer
    from tests.training.training_helpers import mlp

    data = load_data(settings, folder)
    model = mlp(inputs, outputs, hidden=32)
    assert Trainer(model, data, settings).fit().status == "completed"
    return model, data


def test_a_table_classifier_lists_its_validation_rows_wrong_ones_marked(qtbot, tmp_path):
    from studio.training.settings import TrainingSettings

    sklearn_csv("load_wine", tmp_path / "wine.csv", "cultivar", cast=lambda k: f"cultivar {k}")
    settings = TrainingSettings.from_dict({"data": {"kind": "csv", "path": "wine.csv"}, "epochs": 3})
    panel = panel_with(qtbot, _trained(settings, tmp_path, 13, 3))
    r = generate(qtbot, panel)
    table = panel.texts
    assert not table.isHidden() and panel.view.isHidden()  # no "Prediction vs truth" of class indices
    assert table.horizontalHeaderItem(0).text() == "Input (the numbers the model reads)"
    assert table.rowCount() == len(r["labels"]) == 36
    for i in range(table.rowCount()):
        cells = table.row_texts(i)
        assert len(cells[0].split(", ")) == 13 and cells[1].startswith("cultivar ")
        right = r["labels"][i] == r["truth"][i]
        assert cells[2] == f"{'✓' if right else '✕'} cultivar {r['labels'][i]}" and cells[3].endswith("%")
    assert panel.message.text() == f"36 validation samples, accuracy {r['accuracy']:.1%}"
    assert not panel.confusion_scroll.isHidden()


def test_a_regression_shows_its_predictions_against_the_line_where_they_equal_the_truth(qtbot, tmp_path):
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
