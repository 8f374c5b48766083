"""The run settings form reads the declared kinds: every kind's choice shows its own options."""

import pytest
from PySide6.QtCore import Qt

from studio.training import kinds
from studio.ui.training.settings_form import SettingsForm

SECTIONS = [
    ("data", "kind", kinds.DATASETS),
    ("optimizer", "name", kinds.OPTIMIZERS),
    ("loss", "name", kinds.LOSSES),
    ("schedule", "name", kinds.SCHEDULES),
]
CASES = [(section, key, kind) for section, key, registry in SECTIONS for kind in registry.values()]


@pytest.fixture
def form(qtbot):
    f = SettingsForm()
    qtbot.addWidget(f)
    f.load({"data": {"kind": "spirals"}})
    return f


def _shown_options(form, section):
    return {
        p[1]
        for p, w in form.editors.items()
        if p[0] == section and len(p) == 2 and p[1] not in ("kind", "name") and form.row_shown(p)
    }


@pytest.mark.parametrize(("section", "key", "kind"), CASES, ids=lambda c: getattr(c, "id", c))
def test_choosing_a_kind_shows_exactly_its_declared_options(form, qtbot, section, key, kind):
    edits = []
    form.edited.connect(lambda d, k: edits.append(d))
    combo = form.editors[(section, key)]
    assert combo.findText(kind.label) >= 0  # every declared kind is offered, by its label
    assert combo.itemData(combo.findText(kind.label), Qt.ItemDataRole.ToolTipRole) == kind.help
    if combo.currentText() == kind.label:  # already chosen: choose another first, then come back
        combo.setCurrentText(
            next(k for k in (combo.itemText(i) for i in range(combo.count())) if k != kind.label)
        )
    combo.setCurrentText(kind.label)
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
    assert box.text() == "auto" and box.toolTip().endswith(
        "For this data on this computer, auto is 4."
    )
    for typed, stored in (("2", 2), ("many", None), ("Auto", "auto"), ("0", 0)):
        box.setText(typed)
        box.textEdited.emit(typed)
        if stored is None:
            assert "Data loader workers must be auto or a whole number" in form.errors.text()
            assert "#c62828" in box.styleSheet()
        else:
            assert (
                edits[-1] == ({**form.settings(), "workers": stored}, "workers")
                and form.errors.isHidden()
            )
            assert box.styleSheet() == ""
    form.editors[("data", "kind")].setCurrentText("Spirals")  # data in memory: no workers
    assert box.text() == "0" and box.toolTip().endswith("auto is 0.")


# -- what the form shows is what trains ------------------------------------------------------------

RUN_SECTIONS = [
    ("optimizer", kinds.OPTIMIZERS),
    ("loss", kinds.LOSSES),
    ("schedule", kinds.SCHEDULES),
]
RUN_CASES = [(section, kind) for section, registry in RUN_SECTIONS for kind in registry.values()]


def _shown_values(form, section) -> dict:
    from PySide6.QtWidgets import QCheckBox

    out = {}
    for path, w in form.editors.items():
        if path[0] != section or len(path) != 2 or path[1] == "name" or not form.row_shown(path):
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
    combo.setCurrentText(registry[other].label)
    for key, editor in form.editors.items():  # type an unusual value into the other kind's rows
        if key[0] == section and form.row_shown(key) and hasattr(editor, "textEdited"):
            if key[1] in (
                "lr",
                "weight_decay",
                "min_lr",
                "label_smoothing",
                "delta",
                "warmup_epochs",
            ):
                editor.setText("0.123")
                editor.textEdited.emit("0.123")
    combo.setCurrentText(kind.label)
    shown = _shown_values(form, section)
    assert set(shown) == set(kind.form_options())
    run = TrainingSettings.from_dict(form.settings())  # what Train stores and trains with
    assert run.validate() == []
    stored = run.to_dict()[section]
    assert {k: stored[k] for k in shown} == pytest.approx(shown)
    assert stored == {
        "name": kind.id,
        **kind.defaults(),
        **({"implementation": "auto"} if section == "optimizer" else {}),
    }
    trained = _trained_values(run, section)
    built = [
        k for k in shown if k in trained
    ]  # class_weights is applied to the data, not an argument
    assert {k: trained[k] for k in built} == pytest.approx({k: shown[k] for k in built})


def test_an_emptied_row_shows_the_kinds_default_it_falls_back_to(form):
    form.editors[("optimizer", "name")].setCurrentText("SGD")
    lr = form.editors[("optimizer", "lr")]
    assert lr.text() == "0.01"
    lr.setText("")
    lr.textEdited.emit("")
    assert lr.placeholderText() == "0.01 (default)" and form.settings()["optimizer"] == {
        "name": "sgd"
    }


def test_an_image_folder_shows_the_size_its_images_are_resized_to(form, tmp_path):
    form.editors[("data", "kind")].setCurrentText("Image folder")
    size = form.editors[("data", "size")]
    assert form.row_shown(("data", "size")) and size.placeholderText() == "the data's own (default)"
    assert "resized" in size.toolTip() and "the images' own size" in size.toolTip()
    from PIL import Image

    for name in ("ants", "bees"):
        (tmp_path / name).mkdir()
        Image.new("RGB", (20, 12)).save(tmp_path / name / "a.png")
    path = form.editors[("data", "path")]
    path.setText(str(tmp_path))
    path.textEdited.emit(str(tmp_path))  # no reload: the folder's own size shows as it is typed
    assert size.text() == "" and size.placeholderText() == "12, 20 (the data's own)"
    edits = []
    form.edited.connect(lambda d, key: edits.append(d))
    size.setText("32, 32")
    size.textEdited.emit("32, 32")
    assert edits and edits[-1]["data"]["size"] == [32, 32]


PATH_KINDS = [
    k for k in kinds.DATASETS.values() if getattr(k.options.get("path"), "kind", "") == "path"
]
CHOICE_OPTIONS = [
    (k, key, p)
    for k in kinds.DATASETS.values()
    for key, p in k.options.items()
    if p.kind == "choice" and key in k.form_options()
]


@pytest.mark.parametrize("kind", PATH_KINDS, ids=lambda k: k.id)
def test_every_data_file_or_folder_has_browse_and_is_named_for_what_it_reads(
    form, kind, tmp_path, monkeypatch
):
    asked = []

    def choose(param, title, start):
        asked.append((param.pick, param.filters, title))
        return str(tmp_path / "chosen")

    monkeypatch.setattr(form, "choose_path", choose)
    form.editors[("data", "kind")].setCurrentText(kind.label)
    declared = kind.options["path"]
    label = form.form.labelForField(form._rows[("data", "path")])
    assert (
        form.row_shown(("data", "path")) and label.text() == declared.label
    )  # "CSV file", not "path"
    assert form.editors[("data", "path")].placeholderText() == "a path, or Browse…"
    form.browse_buttons[("data", "path")].click()
    words = (
        declared.label if declared.label[1].isupper() else declared.label.lower()
    )  # "CSV file", "text file"
    assert asked == [(declared.pick, declared.filters, f"Choose the {words}")]
    assert form.editors[("data", "path")].text() == str(tmp_path / "chosen")
    assert form.settings()["data"]["path"] == str(tmp_path / "chosen")
    if kind.family in ("file", "folder"):  # a validation set of its own is chosen the same way
        form.browse_buttons[("val_data", "path")].click()
        assert asked[-1][:2] == (declared.pick, declared.filters)
        assert form.settings()["val_data"]["path"] == str(tmp_path / "chosen")


@pytest.mark.parametrize(
    ("kind", "key", "param"),
    CHOICE_OPTIONS,
    ids=lambda c: getattr(c, "id", c) if not isinstance(c, str) else c,
)
def test_every_choice_option_offers_all_its_declared_options(form, kind, key, param):
    """The tokenizer offered only the value it held ("char"): "byte" could not be chosen."""
    form.editors[("data", "kind")].setCurrentText(kind.label)
    combo = form.editors[("data", key)]
    offered = [combo.itemData(i) for i in range(combo.count())]
    assert offered == list(param.options_for({}))
    for option in offered:
        combo.setCurrentIndex(combo.findData(option))
        assert form.settings()["data"].get(key, param.default) == option


def test_settings_choices_read_as_words_and_store_their_ids(form):
    """The form showed "image_folder", "adam", "val_metric", "none"; a file still stores the ids."""
    cases = [
        (("optimizer", "name"), "RMSprop", "rmsprop"),
        (("monitor",), "validation accuracy or MAE", "val_metric"),
        (("precision",), "bfloat16 (mixed)", "bf16"),
        (("device",), "Apple GPU (MPS)", "mps"),
        (("schedule", "name"), "Reduce on plateau", "reduce_on_plateau"),
    ]
    for path, label, stored in cases:
        form.editors[path].setCurrentText(label)
        value = form.settings()
        for key in path:
            value = value[key]
        assert value == stored, path
    form.load({"data": {"kind": "csv", "path": "t.csv"}, "optimizer": {"name": "sgd"}})
    assert form.editors[("data", "kind")].currentText() == "CSV file"
    assert form.editors[("optimizer", "name")].currentText() == "SGD"
    assert form.editors[("data", "target")].placeholderText() == "the last column (default)"
    assert form.editors[("data", "split")].placeholderText() == "none: a random split (default)"


def test_edit_undo_names_a_setting_with_the_words_the_form_shows(qtbot, tmp_path):
    """Edit > Undo read 'Undo Training setting data.size' and 'Redo Training setting data.path':
    the settings dict's keys, not the rows' names."""
    from tests.ui.conftest import open_window

    w = open_window(qtbot, "resources/examples/shapes_cnn.studio.json")
    form = w.training.panel.form
    form.editors[("data", "kind")].setCurrentIndex(
        form.editors[("data", "kind")].findData("image_folder")
    )
    assert w.actions_.undo.text() == "&Undo Change dataset"
    folder = form.editors[("data", "path")]
    folder.setText(str(tmp_path))
    folder.textEdited.emit(str(tmp_path))
    assert w.actions_.undo.text() == "&Undo Change image folder"
    size = form.editors[("data", "size")]
    size.setText("28, 28")
    size.textEdited.emit("28, 28")
    assert w.actions_.undo.text() == "&Undo Change image size"
    w.actions_.undo.trigger()
    assert w.actions_.redo.text() == "&Redo Change image size"
    epochs = form.editors[("epochs",)]
    epochs.setText("7")
    epochs.textEdited.emit("7")
    assert w.actions_.undo.text() == "&Undo Change epochs"
