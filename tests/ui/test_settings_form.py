"""The run settings form reads the declared kinds: every kind's choice shows its own options."""

import pytest

from studio.training import kinds
from studio.ui.training.settings_form import SettingsForm

SECTIONS = [("data", "kind", kinds.DATASETS), ("optimizer", "name", kinds.OPTIMIZERS),
            ("loss", "name", kinds.LOSSES), ("schedule", "name", kinds.SCHEDULES)]
CASES = [(section, key, kind) for section, key, registry in SECTIONS for kind in registry.values()]


@pytest.fixture
def form(qtbot):
    f = SettingsForm()
    qtbot.addWidget(f)
    f.load({"data": {"kind": "spirals"}})
    return f


def _shown_options(form, section):
    return {p[1] for p, w in form.editors.items()
            if p[0] == section and len(p) == 2 and p[1] not in ("kind", "name") and form.form.isRowVisible(w)}


@pytest.mark.parametrize(("section", "key", "kind"), CASES, ids=lambda c: getattr(c, "id", c))
def test_choosing_a_kind_shows_exactly_its_declared_options(form, qtbot, section, key, kind):
    edits = []
    form.edited.connect(lambda d, k: edits.append(d))
    combo = form.editors[(section, key)]
    assert combo.findText(kind.id) >= 0  # every declared kind is offered
    if combo.currentText() == kind.id:  # already chosen: choose another first, then come back
        combo.setCurrentText(next(k for k in (combo.itemText(i) for i in range(combo.count())) if k != kind.id))
    combo.setCurrentText(kind.id)
    assert _shown_options(form, section) == set(kind.form_options())
    if section != "data" or kind.family == "generated":
        assert edits and edits[-1][section][key] == kind.id  # a usable choice is pushed at once


def test_an_out_of_bounds_option_is_refused_with_the_declared_message(form, qtbot):
    n = form.editors[("data", "n")]
    n.setText("1000000000")
    n.textEdited.emit("1000000000")
    assert "Samples must be at most 5000000 (got 1000000000)." in form.errors.text()
    seed = form.editors[("seed",)]
    seed.setText(str(2**70))
    seed.textEdited.emit(str(2**70))
    assert "Seed must be at most 4294967295" in form.errors.text()


def test_loader_workers_show_auto_and_take_a_number_or_auto(qtbot, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    form = SettingsForm()
    qtbot.addWidget(form)
    form.load({"data": {"kind": "image_folder", "path": "pictures"}})
    edits = []
    form.edited.connect(lambda d, k: edits.append((d, k)))
    box = form.editors[("workers",)]
    assert box.text() == "auto" and box.toolTip().endswith("For this data on this computer, auto is 4.")
    for typed, stored in (("2", 2), ("many", None), ("Auto", "auto"), ("0", 0)):
        box.setText(typed)
        box.textEdited.emit(typed)
        if stored is None:
            assert "Data loader workers must be auto or a whole number" in form.errors.text()
            assert "#c62828" in box.styleSheet()
        else:
            assert edits[-1] == ({**form.settings(), "workers": stored}, "workers") and form.errors.isHidden()
            assert box.styleSheet() == ""
    form.editors[("data", "kind")].setCurrentText("spirals")  # data in memory: no workers
    assert box.text() == "0" and box.toolTip().endswith("auto is 0.")


# -- what the form shows is what trains ------------------------------------------------------------

RUN_SECTIONS = [("optimizer", kinds.OPTIMIZERS), ("loss", kinds.LOSSES), ("schedule", kinds.SCHEDULES)]
RUN_CASES = [(section, kind) for section, registry in RUN_SECTIONS for kind in registry.values()]


def _shown_values(form, section) -> dict:
    from PySide6.QtWidgets import QCheckBox

    out = {}
    for path, w in form.editors.items():
        if path[0] != section or len(path) != 2 or path[1] == "name" or not form.form.isRowVisible(w):
            continue
        out[path[1]] = w.isChecked() if isinstance(w, QCheckBox) else float(w.text())
    return out


def _trained_values(settings, section) -> dict:
    """The option values the torch objects a run builds from `settings` hold."""
    import torch

    from studio.training.optim import LRSchedule, make_loss, make_optimizer

    model = torch.nn.Linear(2, 2)
    optimizer = make_optimizer(model.parameters(), settings, "cpu")
    if section == "optimizer":
        group = optimizer.param_groups[0]
        out = {"lr": group["lr"]}
        for arg, key in kinds.get_optimizer(settings.optimizer.name).arguments.items():
            for i, k in enumerate(key if isinstance(key, tuple) else (key,)):
                out[k] = group[arg][i] if isinstance(key, tuple) else group[arg]
        return out
    if section == "loss":
        loss = make_loss(settings.loss)
        kind = kinds.get_loss(settings.loss.name)
        return {key: getattr(loss, arg) for arg, key in kind.arguments.items()}
    return dict(LRSchedule(optimizer, settings, 10).options)


@pytest.mark.parametrize(("section", "kind"), RUN_CASES, ids=lambda c: getattr(c, "id", c))
def test_after_switching_kinds_the_run_trains_with_exactly_what_the_form_shows(form, section, kind):
    """Start from another kind with a value typed in, switch to `kind` with the combo box: every
    row shows the value the run's settings hold and the torch objects built from them use."""
    from studio.training.settings import TrainingSettings

    registry = dict(RUN_SECTIONS)[section]
    other = next(k for k in reversed(list(registry)) if k != kind.id)
    combo = form.editors[(section, "name")]
    combo.setCurrentText(other)
    for key, editor in form.editors.items():  # type an unusual value into the other kind's rows
        if key[0] == section and form.form.isRowVisible(editor) and hasattr(editor, "textEdited"):
            if key[1] in ("lr", "weight_decay", "min_lr", "label_smoothing", "delta", "warmup_epochs"):
                editor.setText("0.123")
                editor.textEdited.emit("0.123")
    combo.setCurrentText(kind.id)
    shown = _shown_values(form, section)
    assert set(shown) == set(kind.form_options())
    run = TrainingSettings.from_dict(form.settings())  # what Train stores and trains with
    assert run.validate() == []
    stored = run.to_dict()[section]
    assert {k: stored[k] for k in shown} == pytest.approx(shown)
    assert stored == {"name": kind.id, **kind.defaults(), **({"implementation": "auto"} if section == "optimizer" else {})}
    trained = _trained_values(run, section)
    built = [k for k in shown if k in trained]  # class_weights is applied to the data, not an argument
    assert {k: trained[k] for k in built} == pytest.approx({k: shown[k] for k in built})


def test_an_emptied_row_shows_the_kinds_default_it_falls_back_to(form):
    form.editors[("optimizer", "name")].setCurrentText("sgd")
    lr = form.editors[("optimizer", "lr")]
    assert lr.text() == "0.01"
    lr.setText("")
    lr.textEdited.emit("")
    assert lr.placeholderText() == "0.01 (default)" and form.settings()["optimizer"] == {"name": "sgd"}


def test_an_image_folder_shows_the_size_its_images_are_resized_to(form, tmp_path):
    form.editors[("data", "kind")].setCurrentText("image_folder")
    size = form.editors[("data", "size")]
    assert form.form.isRowVisible(size) and size.placeholderText() == "the data's own (default)"
    assert "resized" in size.toolTip() and "the images' own size" in size.toolTip()
    from PIL import Image

    for name in ("ants", "bees"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (20, 12)).save(tmp_path / name / "a.png")
    path = form.editors[("data", "path")]
    path.setText(str(tmp_path))
    path.textEdited.emit(str(tmp_path))
    form.load(form.settings())  # the panel reloads the form after each pushed edit
    assert size.text() == "" and size.placeholderText() == "12, 20 (the data's own)"
    edits = []
    form.edited.connect(lambda d, key: edits.append(d))
    size.setText("32, 32")
    size.textEdited.emit("32, 32")
    assert edits and edits[-1]["data"]["size"] == [32, 32]
