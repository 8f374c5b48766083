"""Try it for a text model (pytest-qt): generate text from a prompt, off the GUI thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.graph.project import Project, save_project
from tests.training.test_text_training import TALES, text_model, training
from tests.ui.conftest import open_window


@pytest.fixture(scope="module")
def trained():
    """(model, data) of Embedding -> Linear trained for two epochs on the shipped text."""
    from studio.compiler import build_model
    from studio.training import Trainer, TrainingSettings, load_data

    settings = TrainingSettings.from_dict(training(epochs=2))
    data = load_data(settings)
    model = build_model(text_model())
    assert Trainer(model, data, settings).fit().status == "completed"
    return model, data


def panel_with(qtbot, source):
    from studio.ui.training.try_panel import TryPanel

    panel = TryPanel()
    qtbot.addWidget(panel)
    panel.source = lambda: source
    return panel


def generate(qtbot, panel, click=None):
    panel.last = None
    (click or panel.run)()
    qtbot.waitUntil(lambda: panel.last is not None, timeout=120_000)
    return panel.last


def test_a_text_model_generates_from_the_prompt_with_the_chosen_length(qtbot, trained):
    panel = panel_with(qtbot, trained)
    r = generate(qtbot, panel)  # the first try: from the validation text
    assert r["task"] == "text" and r["tokens"] == 300
    assert panel.text_controls.isVisible() or not panel.isVisible()
    assert not panel.text_controls.isHidden() and panel.button.isHidden()
    panel.prompt.setText("Once upon a time")
    panel.length.setValue(80)
    panel.temperature.setValue(0.5)
    r = generate(qtbot, panel, panel.generate_button.click)
    assert r["prompt"] == "Once upon a time" and r["tokens"] == 80 and len(r["text"]) == 80
    vocab = set(TALES.read_text(encoding="utf-8"))
    assert set(r["text"]) <= vocab
    assert panel.generated.toPlainText() == "Once upon a time" + r["text"]
    assert panel.message.text() == "80 tokens generated at temperature 0.5."


def test_temperature_zero_always_takes_the_likeliest_token(qtbot, trained):
    panel = panel_with(qtbot, trained)
    panel.temperature.setValue(0.0)
    panel.prompt.setText("The fox")
    first = generate(qtbot, panel)["text"]
    assert generate(qtbot, panel)["text"] == first
    panel.temperature.setValue(1.5)
    hot = {generate(qtbot, panel)["text"] for _ in range(2)}
    assert len(hot) == 2  # sampled: each Generate draws anew


def test_a_prompt_the_vocabulary_cannot_spell_gets_one_line_not_a_traceback(qtbot, trained):
    panel = panel_with(qtbot, trained)
    panel.prompt.setText("Quiz")
    r = generate(qtbot, panel)
    assert "problem" in r and "error" not in r
    assert panel.message.text().startswith("The prompt has the character 'Q', which the training text")
    assert not panel.text_controls.isHidden()  # the prompt stays editable


def test_trained_in_the_window_the_try_it_tab_writes_text_with_the_runs_own_vocabulary(qtbot, tmp_path: Path):
    text = TALES.read_text(encoding="utf-8")
    (tmp_path / "tales.txt").write_text(text, encoding="utf-8")
    settings = training(epochs=1)
    settings["data"]["path"] = "tales.txt"  # beside the project
    path = tmp_path / "tales.studio.json"
    save_project(Project("tales", text_model(), settings), path)
    w = open_window(qtbot, path)
    t = w.training
    t.train()
    qtbot.waitUntil(lambda: not t.running, timeout=120_000)
    assert t.panel.progress.format() == "completed", t.failure_text()
    panel = t.panel.try_panel
    # the prompt is offered as soon as the run ends, before anything was tried
    assert not panel.text_controls.isHidden() and panel.button.isHidden()
    assert "Generate" in panel.message.text()
    panel.prompt.setText("Moral: ")
    r = generate(qtbot, panel)
    assert "error" not in r and r["prompt"] == "Moral: " and r["tokens"] == 300
    assert panel.generated.toPlainText().startswith("Moral: ")
    # the run keeps its vocabulary: after the text loses its "W"s (every later id would shift),
    # the kept run still reads and writes with the ids it was trained with
    vocab = "".join(sorted(set(text)))
    [rec] = t.store.runs()
    assert rec.settings["data"]["vocab"] == vocab and "vocab" not in w.doc.project.training["data"]
    (tmp_path / "tales.txt").write_text(text.replace("W", "w"), encoding="utf-8")
    runs = t.panel.runs
    runs.list.setCurrentRow(0)
    r = generate(qtbot, panel, runs.try_button.click)
    assert "error" not in r and "problem" not in r, r
    assert t.last_model[1].train.codec["vocab"] == vocab


def test_a_text_classifier_is_tried_on_its_validation_texts(qtbot, tmp_path: Path):
    from studio.compiler import build_model
    from studio.graph.model import Graph
    from studio.training import Trainer, TrainingSettings, load_data
    from tests.helpers import chain

    rows = [f'"{w} {w} {w}",{label}' for i in range(40) for w, label in (("good", "pos"), ("awful", "neg"))]
    (tmp_path / "reviews.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    settings = TrainingSettings.from_dict({
        "data": {"kind": "text_csv", "path": str(tmp_path / "reviews.csv"), "text": "text", "target": "label",
                 "length": 12}, "epochs": 3, "optimizer": {"name": "adam", "lr": 0.01}})
    data = load_data(settings)
    g = Graph()
    blocks = [g.add_block("input", name="tokens", params={"shape": [12], "dtype": "int64"}),
              g.add_block("embedding", name="embed", params={"num_embeddings": 12, "embedding_dim": 4}),
              g.add_block("flatten", name="flat"), g.add_block("linear", name="head", params={"out_features": 2}),
              g.add_block("output", name="logits")]
    chain(g, *blocks)
    model = build_model(g)
    assert Trainer(model, data, settings).fit().status == "completed"
    panel = panel_with(qtbot, (model, data))
    r = generate(qtbot, panel)
    assert "error" not in r, r
    assert r["confusion"].sum() == 16 and r["accuracy"] == 1.0
    assert panel.text_controls.isHidden() and not panel.button.isHidden()  # no text to write here


REVIEWS = [("what a lovely, warm film", "good"), ("dull and far too long", "bad"), ("a joy from start to end", "good"),
           ("I want my evening back", "bad"), ("bright, funny and kind", "good"), ("flat acting, no story", "bad")] * 6


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """(model, data) of an untrained Embedding -> Flatten -> Linear over a CSV of reviews."""
    import csv

    from studio.compiler import build_model
    from studio.graph.model import Graph
    from studio.training import TrainingSettings, load_data
    from tests.helpers import chain

    path = tmp_path_factory.mktemp("reviews") / "reviews.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("text", "label"), *REVIEWS])
    settings = TrainingSettings.from_dict({"data": {"kind": "text_csv", "path": str(path), "text": "text",
                                                    "target": "label", "length": 32}, "val_split": 0.5})
    data = load_data(settings)
    g = Graph()
    chain(g, g.add_block("input", name="tokens", params={"shape": [32], "dtype": "int64"}),
          g.add_block("embedding", name="embed", params={"num_embeddings": 64, "embedding_dim": 4}),
          g.add_block("flatten", name="flat"), g.add_block("linear", name="head", params={"out_features": 2}),
          g.add_block("output", name="logits"))
    return build_model(g), data


def test_a_text_classifier_lists_validation_texts_with_true_and_predicted_labels(qtbot, classifier):
    import torch

    model, data = classifier
    panel = panel_with(qtbot, classifier)
    panel.resize(700, 320)
    panel.show()
    qtbot.waitExposed(panel)
    generate(qtbot, panel)
    table = panel.texts
    assert not table.isHidden() and panel.view.isHidden() and not panel.confusion_scroll.isHidden()
    assert table.rowCount() == len(data.val) == 18
    labels = dict(REVIEWS)
    with torch.no_grad():
        probs = torch.softmax(model(torch.stack([data.val[i][0] for i in range(len(data.val))])), 1)
    for i in range(table.rowCount()):
        text, truth, predicted, probability = table.row_texts(i)
        assert text in labels and truth == labels[text]  # the text as written, its own label
        k = int(probs[i].argmax())
        right = data.class_names[k] == truth
        assert predicted == f"{'✓' if right else '✕'} {data.class_names[k]}"
        assert probability == f"{float(probs[i, k]):.0%}"
        assert table.item(i, 0).toolTip() == text
    assert table.verticalScrollBar().maximum() > 0  # more rows than fit: it scrolls
    assert panel.message.text().startswith("18 validation samples, accuracy")


def test_data_without_text_keep_the_plots_and_hide_the_table(qtbot, classifier):
    from studio.compiler import build_model
    from studio.graph.project import load_project
    from studio.training import TrainingSettings, load_data

    panel = panel_with(qtbot, classifier)
    generate(qtbot, panel)
    spirals = load_data(TrainingSettings.from_dict({"data": {"kind": "spirals", "n": 200}}))
    model = build_model(load_project("resources/examples/mlp_classifier.studio.json").graph)
    panel.source = lambda: (model, spirals)
    r = generate(qtbot, panel)
    assert "texts" not in r and "grid" in r
    assert panel.texts.isHidden() and not panel.view.isHidden()
