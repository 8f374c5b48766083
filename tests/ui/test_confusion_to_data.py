"""Clicking a cell of Try it's confusion matrix opens the Data tab on that cell's validation
samples (true class i predicted as j): tiles for an image folder, feature rows for a table, the
texts for a text classifier."""

import csv
import random

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from torch import nn

from studio.training import TrainingSettings, load_data
from studio.ui.training.dock import TrainingPanel
from studio.ui.training.try_panel import evaluate


def _images(tmp_path):
    from PIL import Image

    rng = random.Random(0)
    for name in ("circle", "square", "star"):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for i in range(12):
            shade = tuple(rng.randrange(256) for _ in range(3))
            Image.new("RGB", (10, 10), shade).save(tmp_path / "pics" / name / f"{i}.png")
    data = {"kind": "image_folder", "path": str(tmp_path / "pics"), "size": 8, "channels": 3}
    return data, nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 3))


def _table(tmp_path):
    return {"kind": "spirals"}, nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 3))


def _texts(tmp_path):
    reviews = [
        ("what a lovely, warm film", "good"),
        ("dull and far too long", "bad"),
        ("a joy from start to end", "good"),
        ("I want my evening back", "bad"),
    ] * 6
    path = tmp_path / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *reviews])
    data = {"kind": "text_csv", "path": str(path), "text": "text", "target": "label", "length": 16}
    return data, nn.Sequential(nn.Embedding(64, 4), nn.Flatten(), nn.Linear(64, 2))


@pytest.mark.parametrize("make", [_images, _table, _texts], ids=["images", "table", "texts"])
def test_a_clicked_confusion_cell_opens_its_samples_in_the_data_tab(qtbot, tmp_path, make):
    torch.manual_seed(0)
    spec, model = make(tmp_path)
    data = load_data(
        TrainingSettings.from_dict({"data": spec, "val_split": 0.5}), base_dir=tmp_path
    )
    panel = TrainingPanel([])
    qtbot.addWidget(panel)
    panel.build_views()
    panel.resize(1300, 700)
    panel.show()
    qtbot.waitExposed(panel)
    try_it, data_tab = panel.try_panel, panel.data_panel
    panel.right.setCurrentWidget(try_it)
    r = evaluate(model, data, data.task, data.num_classes)
    try_it.show_result(r)
    qtbot.wait(20)  # the matrix is laid out
    cm, names = r["confusion"], r["class_names"]
    cells = sorted(zip(*np.nonzero(cm)), key=lambda c: (c[0] == c[1], -cm[c]))  # a mistake first
    for truth, predicted in cells[:2]:
        qtbot.mouseClick(
            try_it.confusion_view.viewport(),
            Qt.MouseButton.LeftButton,
            pos=try_it.cell_position(truth, predicted),
        )
        assert panel.right.currentWidget() is data_tab
        page = data_tab.chosen
        assert data_tab.views.currentWidget() is page
        tab = data_tab.views.tabText(data_tab.views.indexOf(page))
        assert tab == f"True {names[truth]} → predicted {names[predicted]}"
        index = np.flatnonzero((r["truth"] == truth) & (r["labels"] == predicted))
        assert len(index) == cm[truth, predicted] > 0
        assert page.title.text().startswith(
            f"{len(index)} of the {len(r['truth'])} validation samples"
        )
        if make is _images:
            assert page.tiles.count() == len(index) and page.table.isHidden()
            assert [page.tiles.item(i).text() for i in range(len(index))] == [
                f"#{i}" for i in index
            ]
            assert (
                f"true {names[truth]}, predicted {names[predicted]}" in page.tiles.item(0).toolTip()
            )
        else:
            assert page.table.rowCount() == len(index) and page.tiles.isHidden()
            for row, i in enumerate(index):
                assert page.table.verticalHeaderItem(row).text() == f"#{i}"
                if make is _texts:
                    assert page.table.item(row, 0).text() == r["texts"][i]["text"]
                    assert r["texts"][i]["truth"] == names[truth]
                else:
                    assert page.table.item(row, 1).text() == f"{r['x'][i][1]:.4g}"
        panel.right.setCurrentWidget(try_it)
    # the Data tab read its own data meanwhile: the chosen samples stay in front
    panel.right.setCurrentWidget(data_tab)
    qtbot.waitUntil(
        lambda: (
            data_tab.summary is not None and not data_tab.busy() and not data_tab._timer.isActive()
        ),
        timeout=20_000,
    )
    assert data_tab.views.indexOf(data_tab.pages["statistics"][0]) >= 0  # it did draw its pages
    assert data_tab.views.currentWidget() is data_tab.chosen
