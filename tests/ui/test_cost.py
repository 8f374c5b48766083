"""The cost of a step in the window: peak memory in the status bar, a block's memory and time
in the inspector, the heat overlay (View > Cost Heat Map), the Cost panel's sorted table and
the Profile action, which runs off the window's thread."""

from pathlib import Path

import pytest

from studio.compiler.memory import estimate_memory, fmt_bytes
from studio.training.cost import memory_for
from studio.training.settings import TrainingSettings
from tests.ui.conftest import by_name, open_window

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
    assert shown == sorted(shown, reverse=True)  # slowest first once profiled
    w.scene.select_blocks([conv2.id])
    qtbot.wait(1)
    assert "of a step" in w.inspector.counts.time_label.text()
    assert f"Profile on {prof.device}: step" in w.cost.panel.summary.text()


def test_a_profile_that_cannot_run_says_why(qtbot, config_dir, monkeypatch):
    w = open_window(qtbot, "resources/examples/shapes_cnn.studio.json")
    w.doc.project.training["data"] = {"kind": "csv", "path": "missing.csv"}
    hints = []
    monkeypatch.setattr(w, "show_hint", hints.append)
    w.cost.run_profile()
    qtbot.waitUntil(lambda: bool(hints), timeout=BOUND_MS)
    assert hints[0].startswith("Profile failed: ") and "Traceback" not in hints[0]
    assert w.cost.panel.profile_button.isEnabled()
