"""The cost of a step in the window: peak memory in the status bar, a block's memory and time
in the inspector, the heat overlay (View > Cost Heat Map), the Cost panel's sorted table and
the Profile action, which runs off the window's thread."""

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from studio.compiler.memory import estimate_memory
from studio.training.cost import memory_for
from studio.training.settings import TrainingSettings
from studio.units import fmt_bytes
from tests.ui.conftest import by_name, open_window, pills_leave_counts_whole

EXAMPLES = sorted(str(p) for p in Path("resources/examples").glob("*.studio.json"))
BOUND_MS = 120_000  # a loaded 2-core machine: wait for the event, generously


def estimated(w, qtbot):
    qtbot.waitUntil(lambda: w.cost.memory is not None and w.cost._job is None, timeout=BOUND_MS)
    return w.cost.memory


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: Path(p).name.split(".")[0])
def test_status_bar_and_inspector_show_the_memory_of_every_example(qtbot, config_dir, path):
    w = open_window(qtbot, path)
    est = estimated(w, qtbot)
    settings = TrainingSettings.from_dict(w.doc.project.training)
    expected = memory_for(w.doc.graph, settings)
    assert (
        w.cost.status.text()
        == f"·  Peak memory: {fmt_bytes(expected.peak)} at batch {settings.batch_size}"
    )
    assert est.peak == expected.peak
    # every block that keeps memory says how much in its Counts box
    for row in est.blocks:
        if not row.total:
            continue
        w.scene.select_blocks([row.path[0]])
        qtbot.wait(1)
        counts = w.inspector.counts
        if counts.isVisible():
            assert counts.memory_label.text().startswith(
                f"{fmt_bytes(row.total)} at batch {est.batch}"
            )


def test_a_new_batch_size_gives_a_new_estimate_and_verdict(window, qtbot):
    w = window
    estimated(w, qtbot)
    w.cost.panel.batch.setValue(8)
    qtbot.waitUntil(
        lambda: w.cost.memory is not None and w.cost.memory.batch == 8, timeout=BOUND_MS
    )
    assert w.cost.status.text().endswith("at batch 8")
    assert w.cost.memory.peak == estimate_memory(w.doc.graph, 8, states=2, optimizer="Adam").peak
    w.cost.panel.memory.setText("1KB")
    w.cost.panel.memory.editingFinished.emit()
    assert "does not fit" in w.cost.panel.summary.text()
    w.cost.panel.memory.setText("24GB")
    w.cost.panel.memory.editingFinished.emit()
    assert (
        " fits: " in w.cost.panel.summary.text()
        and "largest batch that fits" in w.cost.panel.summary.text()
    )


def test_an_edit_estimates_without_writing_the_project_on_the_gui_thread(
    window, qtbot, monkeypatch
):
    """At 2,000 blocks writing the project out took 60-100 ms of the GUI thread on every edit:
    the window only takes a detached copy; the JSON is written in the estimate's thread."""
    import threading

    import studio.graph.project as project_module

    w = window
    estimated(w, qtbot)
    threads, real = [], project_module.dumps

    def recording(*args, **kwargs):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(project_module, "dumps", recording)
    w.cost.panel.batch.setValue(16)
    qtbot.waitUntil(
        lambda: w.cost.memory is not None and w.cost.memory.batch == 16, timeout=BOUND_MS
    )
    assert threads and not any(threads), threads  # written, and never on the GUI thread
    assert w.cost.memory.peak == estimate_memory(w.doc.graph, 16, states=2, optimizer="Adam").peak


def test_the_heat_overlay_follows_the_view_menu(qtbot, config_dir):
    w = open_window(qtbot, "resources/examples/shapes_cnn.studio.json")
    est = estimated(w, qtbot)
    action = w.cost.overlay_action
    assert action in w.view_menu.actions()
    assert all(not item.look.heat for item in w.scene.blocks.values())
    action.trigger()
    top = est.dominant(1)[0]
    look = w.scene.blocks[top.path[0]].look
    assert look.heat.startswith(fmt_bytes(top.total)) and look.heat_share >= 0.10  # marked hot
    flatten = by_name(w.doc.graph, "flatten")
    assert not w.scene.blocks[flatten.id].look.heat  # keeps nothing: no pill
    assert pills_leave_counts_whole(w.scene) >= 3  # each count whole beside its pill
    # the table lists the blocks, largest first; a click selects the block on the canvas
    table = w.cost.panel.table
    assert table.item(0, 0).text() == top.name
    table.cellClicked.emit(1, 0)
    assert [i.block_id for i in w.scene.selectedItems()] == [table.item(1, 0).data(256)]
    action.trigger()
    assert all(not item.look.heat for item in w.scene.blocks.values())


def test_profile_runs_off_the_window_thread_and_fills_table_overlay_and_inspector(
    qtbot, config_dir
):
    w = open_window(qtbot, "resources/examples/shapes_cnn.studio.json")
    w.doc.project.training["data"] = {"kind": "shapes", "n": 60}
    estimated(w, qtbot)
    w.cost.panel.batch.setValue(4)
    w.cost.profile_action.trigger()
    assert w.cost.panel.profile_button.text() == "Profiling…"
    assert not w.cost.profile_action.isEnabled()
    ticks = []
    from PySide6.QtCore import QTimer

    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(20)
    qtbot.waitUntil(lambda: w.cost.profile is not None, timeout=BOUND_MS)
    timer.stop()
    assert ticks  # the event loop kept running while the steps ran
    prof = w.cost.profile
    assert w.cost.panel.profile_button.text() == "Profile" and w.cost.profile_action.isEnabled()
    assert w.cost.overlay_action.isChecked()
    conv2 = by_name(w.doc.graph, "conv2")
    assert (
        w.scene.blocks[conv2.id].look.heat.endswith("%")
        and " ms · " in w.scene.blocks[conv2.id].look.heat
    )
    table = w.cost.panel.table
    shown = [
        float(table.item(r, 3).text()) + float(table.item(r, 4).text())
        for r in range(table.rowCount())
    ]
    # slowest first once profiled (sorted by the exact total; each shown cell is rounded to 0.01)
    assert all(a >= b - 0.011 for a, b in zip(shown, shown[1:]))
    w.scene.select_blocks([conv2.id])
    qtbot.wait(1)
    assert "of a step" in w.inspector.counts.time_label.text()
    summary = w.cost.panel.summary.text()
    assert f"Profile on {prof.device}: step {prof.step * 1e3:.1f} ms" in summary
    assert f"(the same step unmeasured: {prof.plain_step * 1e3:.1f} ms)" in summary


def test_a_profile_that_cannot_run_says_why(qtbot, config_dir, monkeypatch):
    w = open_window(qtbot, "resources/examples/shapes_cnn.studio.json")
    w.doc.project.training["data"] = {"kind": "csv", "path": "missing.csv"}
    hints = []
    monkeypatch.setattr(w, "show_hint", hints.append)
    w.cost.run_profile()
    qtbot.waitUntil(lambda: bool(hints), timeout=BOUND_MS)
    assert hints[0].startswith("Profile failed: ") and "Traceback" not in hints[0]
    assert w.cost.panel.profile_button.isEnabled()


def _hint_is(w, qtbot, expected: str):
    form = w.training.panel.form
    qtbot.waitUntil(lambda: form.batch_hint.text() == expected, timeout=BOUND_MS)


def _expected_hint(w, size_text: str | None) -> str:
    """What the hint must say, from studio.training.cost alone (not the window's figures)."""
    from studio.training.cost import verdict
    from studio.units import parse_size

    est = memory_for(w.doc.graph, TrainingSettings.from_dict(w.doc.project.training))
    text = f"peak {fmt_bytes(est.peak)} at batch {est.batch}"
    if size_text is None:
        return text
    size = parse_size(size_text)
    v = verdict(est, size, fmt_bytes(size))
    if v.fits:
        return f"{text} · fits in {fmt_bytes(size)} up to batch {v.largest_batch:,}"
    if v.largest_batch:
        return f"{text} · does not fit in {fmt_bytes(size)}; batch {v.largest_batch:,} does"
    return f"{text} · does not fit in {fmt_bytes(size)} at any batch size"


def test_the_batch_size_setting_shows_its_peak_and_the_largest_batch_that_fits(qtbot, config_dir):
    w = open_window(qtbot, "resources/examples/shapes_cnn.studio.json")
    w.cost.panel.memory.setText("24GB")
    w.cost.panel.memory.editingFinished.emit()
    form = w.training.panel.form
    _hint_is(w, qtbot, _expected_hint(w, "24GB"))
    first = form.batch_hint.text()
    # typing a batch size in the settings form: the hint follows, from one estimate
    edit = form.editors[("batch_size",)]
    edit.selectAll()
    qtbot.keyClicks(edit, "4096")
    assert w.doc.project.training["batch_size"] == 4096
    assert form.batch_hint.text() == "peak memory: estimating…"
    _hint_is(w, qtbot, _expected_hint(w, "24GB"))
    assert form.batch_hint.text() != first and "at batch 4096 ·" in form.batch_hint.text()
    assert w.cost.panel.batch.value() == 4096 and w.cost.memory.batch == 4096
    # the largest batch is studio.training.cost's verdict, and the tooltip gives the whole verdict
    assert "largest batch that fits" in form.batch_hint.toolTip()
    # precision and optimizer change the estimate too
    from studio.training import kinds

    changes = [(("precision",), p) for p in ("bf16", "fp16", "none")]
    changes += [(("optimizer", "name"), o) for o in kinds.OPTIMIZERS if o != "adam"]
    for path, value in changes:
        before = w.cost.memory
        form.editors[path].setCurrentIndex(form.editors[path].findData(value))  # the row of `value`
        assert form.batch_hint.text() == "peak memory: estimating…", value
        _hint_is(w, qtbot, _expected_hint(w, "24GB"))
        assert w.cost.memory is not before, value
        if value == "bf16":  # activations saved in the half type
            assert w.cost.memory.peak < before.peak
        if path[0] == "optimizer":
            assert w.cost.memory.optimizer == kinds.OPTIMIZERS[value].label
    # a memory too small for one sample; then no size at all (the CPU): what it needs, no verdict
    w.cost.panel.memory.setText("1KB")
    w.cost.panel.memory.editingFinished.emit()
    assert form.batch_hint.text() == _expected_hint(w, "1KB")
    assert form.batch_hint.text().endswith("does not fit in 1 KB at any batch size")
    w.cost.panel.memory.setText("")
    w.cost.panel.memory.editingFinished.emit()
    assert form.batch_hint.text() == _expected_hint(w, None)
    # a model with a problem (flatten deleted: fc gets a 4-d input): the hint says so
    w.editor.delete([by_name(w.doc.graph, "flatten").id])
    _hint_is(w, qtbot, "peak memory: fix the problems first")
    # undo puts the model and then the batch size back, and the hint with them
    while w.doc.undo_stack.canUndo():
        w.doc.undo_stack.undo()
    _hint_is(w, qtbot, _expected_hint(w, None))
    assert f"at batch {w.doc.project.training.get('batch_size', 64)}" in form.batch_hint.text()


def test_a_deletion_undone_shows_the_estimate_again(window, qtbot):
    """Delete a block (the model has a problem), then Ctrl+Z: the status bar shows the peak
    memory it showed before, not "fix the problems first" (the model is the one estimated)."""
    w = window
    w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    w.view.setFocus()
    qtbot.waitUntil(w.view.hasFocus)
    settled = lambda: not w.cost._timer.isActive() and w.cost._job is None  # noqa: E731
    estimated(w, qtbot)
    qtbot.waitUntil(settled, timeout=BOUND_MS)
    before, shown = w.cost.memory, w.cost.status.text()
    assert "Peak memory:" in shown and "fix the problems" not in shown
    w.scene.select_blocks([by_name(w.doc.graph, "fc2").id])
    qtbot.keyClick(w.view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: "fix the problems first" in w.cost.status.text(), timeout=BOUND_MS)
    qtbot.waitUntil(settled, timeout=BOUND_MS)
    qtbot.keyClick(w.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.doc.analysis is not None and w.doc.analysis.ok, timeout=BOUND_MS)
    # (before, the problem's text stayed: the model was the one last estimated, so no new
    # estimate ran, and the old one was not shown again)
    qtbot.waitUntil(lambda: w.cost.status.text() == shown and settled(), timeout=BOUND_MS)
    assert w.cost.memory is not None and w.cost.memory.peak == before.peak and not w.cost.error


def test_an_estimate_of_the_project_left_is_not_shown_for_the_next(window, qtbot):
    """A project opened while the last one's estimate ran: that estimate's table (and heat map)
    were shown for the new project until the new project's own came."""
    w = window
    estimated(w, qtbot)
    w.cost.estimate()  # the first project estimated again ...
    old = w.cost._job
    assert old is not None
    shown = []  # the block names of every estimate the panel shows from now on
    show = w.cost._show

    def recording():
        shown.append({b.name for b in w.cost.memory.blocks} if w.cost.memory is not None else set())
        show()

    w.cost._show = recording
    assert w.files.open_path("resources/examples/shapes_cnn.studio.json", ask=False)  # ... now
    old.wait()
    qtbot.waitUntil(lambda: w.cost._job is not old, timeout=BOUND_MS)  # its result has come
    # the new project's own estimate may already be back on a fast machine: never the old one's
    assert w.cost.memory is None or {b.name for b in w.cost.memory.blocks} <= {
        b.name for b in w.doc.graph.blocks.values()
    }
    estimated(w, qtbot)
    new_names = {b.name for b in w.doc.graph.blocks.values()}
    assert all(names <= new_names for names in shown), shown  # the spiral's fc1 never shown
    table = w.cost.panel.table
    names = {table.item(r, 0).text() for r in range(table.rowCount())}
    assert names and names <= {b.name for b in w.doc.graph.blocks.values()}


def test_view_cost_beside_the_training_panel_shows_the_cost_panel(window, qtbot):
    """With the Training panel open, View > Cost only added a 'Cost' tab behind it: the panel
    the user asked for stayed out of sight."""
    window.show()
    qtbot.waitExposed(window)
    window.show_training()
    assert not window.training_dock.visibleRegion().isEmpty() and not window.cost_dock.isVisible()
    window.cost_dock.toggleViewAction().trigger()  # View > Cost
    qtbot.waitUntil(lambda: not window.cost_dock.visibleRegion().isEmpty(), timeout=5000)
    assert window.training_dock.visibleRegion().isEmpty()  # its tab is behind now
