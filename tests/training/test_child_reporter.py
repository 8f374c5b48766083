"""The training child's Reporter: an epoch always reaches the window with its last step's
progress, so the run keeps the step each epoch ended on (a chunk sent by time between the last
step and the epoch's end left the epoch without it: a reopened run lost its learning-rate
curve, a resumed one the steps it had kept)."""

from types import SimpleNamespace

from studio.training.callbacks import EpochReport, StepReport
from studio.training.child import Reporter


def test_an_epoch_sent_after_its_last_step_still_says_which_step_it_ended_on(monkeypatch):
    sent = []
    reporter = Reporter(
        lambda kind, chunk: sent.append(chunk), SimpleNamespace(paused=False), epochs=2
    )
    step = StepReport(1, 5, 5, 5, [0.5] * 5, [0.8] * 5, 0.5, 0.8, 0.01, 100.0, 1.0)
    reporter._last_emit = -1e9  # the time to send has come: the step goes out alone
    reporter.on_step_end(step)
    assert sent[-1].progress["step"] == 5 and not sent[-1].epochs
    reporter.on_epoch_end(
        EpochReport(1, 2, {"epoch": 1, "train_loss": 0.5, "lr": 0.01}, True, "val_loss", 0.5)
    )
    reporter.flush()  # the epoch's chunk
    assert sent[-1].epochs == [{"epoch": 1, "train_loss": 0.5, "lr": 0.01}]
    assert sent[-1].progress["step"] == 5 and sent[-1].progress["eta_s"] == 0.5
