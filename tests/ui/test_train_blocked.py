"""The window's Train runs nothing the Problems list calls an error (the check before Train)."""

from tests.ui.test_training_panel import wait_done


def test_train_refuses_data_that_does_not_fit_the_model_and_names_the_fix(window, qtbot):
    t = window.training
    form = t.panel.form
    form.editors[("data", "kind")].setCurrentText("Blobs")  # 3 classes by default; the head gives 2
    assert window.doc.project.training["data"] == {"kind": "blobs"}
    qtbot.waitUntil(
        lambda: not window.problems.is_reading() and window.problems.error_count() == 1,
        timeout=20000,
    )
    runs_before = len(t.store.runs()) if t.store is not None else 0
    t.train_action.trigger()
    assert not t.running
    message = t.panel.message.full_text()
    assert "The data has 3 classes" in message and "(Fix: Set classifier to 3 outputs.)" in message
    assert (len(t.store.runs()) if t.store is not None else 0) == runs_before  # no run was started
    # one epoch shows that it trains (the example's 30 epochs only cost time)
    epochs = form.editors[("epochs",)]
    epochs.setText("1")
    epochs.textEdited.emit("1")
    assert window.doc.project.training["epochs"] == 1
    form.editors[("data", "classes")].setText("2")
    form.editors[("data", "classes")].textEdited.emit("2")
    qtbot.waitUntil(
        lambda: not window.problems.is_reading() and window.problems.error_count() == 0,
        timeout=20000,
    )
    t.train_action.trigger()  # fixed: it trains
    assert t.running
    wait_done(qtbot, t, timeout=60000)
    assert t.panel.progress.format() == "completed", t.failure_text()
