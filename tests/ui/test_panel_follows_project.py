"""The training panel belongs to its project: New and Open reset it to the opened project's own
runs (Try it, the status line and the step axis kept the previous run)."""

from tests.ui.test_training_panel import set_training, wait_done

TRANSFER = "resources/examples/transfer_learning.studio.json"


def test_opening_another_project_forgets_the_previous_run(window, qtbot):
    t = set_training(window)
    t.train_action.trigger()
    wait_done(qtbot, t, timeout=180000)  # a loaded machine starts the training process slowly
    assert t.panel.progress.format() == "completed"
    t.panel.try_panel.run()  # the run is tried: its model is loaded for Try it
    qtbot.waitUntil(lambda: t.panel.try_panel.last is not None, timeout=120000)
    assert t._try_source() is not None
    assert t.panel.plots.point_count() > 0

    assert window.files.open_path(TRANSFER, ask=False)  # a project with no runs
    assert t._try_source() is None and t.panel.try_panel.last is None  # Try it has nothing to run
    t.panel.try_panel.run()
    assert t.panel.try_panel.message.text().startswith("No trained model yet")
    assert t.panel.progress.format() == "" and t.panel.rate.text() == ""
    assert t.panel.plots.point_count() == 0
    assert t.panel.message.text() == ""
    assert t.panel.form.settings() == window.doc.project.training


def test_a_new_project_starts_with_an_empty_panel(window, qtbot, config_dir):
    t = set_training(window)
    t.train_action.trigger()
    wait_done(qtbot, t, timeout=180000)  # a loaded machine starts the training process slowly
    window.files.new()  # config_dir answers "Discard" to the save question
    assert (
        t.last_model is None
        and t.panel.progress.format() == ""
        and t.panel.plots.point_count() == 0
    )
