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
