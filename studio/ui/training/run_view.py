"""What the panel shows of one run: its curves, the progress bar and the rate line.

The controller decides which run that is (the one training now, a resumed one, or after a
project opens, the last kept one) and hands the view its chunks; the view only fills widgets.
At the end of a run the rate line gives the run's last step, the same number its message and
its curves end on, and no ETA.
"""

from __future__ import annotations

import time

from studio.training.callbacks import format_eta

PROGRESS_UPDATE_S = 0.2  # progress bar and rate text: at most 5 updates a second


class RunView:
    def __init__(self, panel, plots) -> None:
        self.panel, self.plots = panel, plots
        self.history: list[dict] = []
        self.epoch_steps: list[int] = []
        self.metric_name = "accuracy"
        self._expected = False  # the plots know the run length
        self._last_progress = 0.0
        self.last_step = 0

    def begin(self, metric_name: str, rec=None) -> None:
        """Clear for a new run, or for `rec` resumed: its finished epochs stay on the plots."""
        self.metric_name = metric_name
        self.plots.reset(metric_name)
        self.history, self.epoch_steps, self.last_step = [], [], 0
        self._expected = False
        if rec is not None:
            self.history = rec.history()
            self.epoch_steps = rec.epoch_steps[: len(self.history)]
            self._add_steps(rec.kept_steps(len(self.history)))
            self.plots.add_epochs(self.history, metric_name)
            self._add_epoch_rates()
        progress, rate = self.panel.progress, self.panel.rate
        progress.setRange(0, 0)
        progress.setFormat("preparing…")
        rate.setText("")

    def clear(self) -> None:
        """No run to show (a project without runs opened): empty curves, bar and rate line."""
        self.plots.reset(self.metric_name)
        self.history, self.epoch_steps, self.last_step = [], [], 0
        self._expected = False
        self.panel.progress.setRange(0, 1)
        self.panel.progress.setValue(0)
        self.panel.progress.setFormat("")
        self.panel.rate.setText("")

    def show_record(self, rec, metric_name: str) -> None:
        """A kept run as it ended (after a project opened): its curves and how it ended."""
        self.metric_name = metric_name
        self.plots.reset(metric_name)
        self.history, self.epoch_steps = rec.history(), rec.epoch_steps
        self._add_steps(rec.steps())
        self.plots.add_epochs(self.history, metric_name)
        self._add_epoch_rates()
        epochs = int(rec.settings.get("epochs", 0) or 0)
        if epochs and self.epoch_steps:
            self.plots.expect(self.epoch_steps[0] * epochs, epochs)
        self.plots.redraw(everything=True)
        self.finish(rec.state)
        self.panel.rate.setText(f"run {rec.id} · {self.panel.rate.text()}".rstrip(" ·"))

    def _add_epoch_rates(self) -> None:
        """A kept run's learning rate, one point per epoch (its last step's): the step-by-step
        rates are sent live, not kept, and a reopened run showed an empty plot on a 0-1 axis."""
        points = [
            (step, row["lr"])
            for step, row in zip(self.epoch_steps, self.history)
            if isinstance(row.get("lr"), (int, float))
        ]
        if points:
            steps, rates = zip(*points)
            self.plots.add_lr(list(steps), list(rates))

    def _add_steps(self, steps) -> None:
        if len(steps):
            self.plots.add_steps(steps[:, 0], steps[:, 1])
            self.last_step = int(steps[-1, 0])

    def started(self, info) -> None:
        self.panel.progress.setRange(0, max(1, info.epochs * info.steps_per_epoch))

    def chunk(self, c) -> None:
        plots = self.plots
        plots.add_steps(c.steps, c.losses)
        plots.add_lr(c.lr_steps, c.lrs)
        if c.epochs:
            plots.add_epochs(c.epochs, self.metric_name)
            self.history.extend(c.epochs)
        if c.progress:
            self._progress(c.progress, c.epochs)

    def _progress(self, pr: dict, epochs: list[dict]) -> None:
        if not self._expected:
            self._expected = True
            self.plots.expect(pr["epochs"] * pr["batches"], pr["epochs"])
        self.last_step = pr["step"]
        self.epoch_steps.extend(pr["step"] for _ in epochs)
        now = time.perf_counter()
        # the progress bar and the rate text change at most 5 times a second (each update
        # repaints widgets on the GUI thread while the trainer waits for the GIL)
        if not epochs and now - self._last_progress < PROGRESS_UPDATE_S:
            return
        self._last_progress = now
        done = (pr["epoch"] - 1) * pr["batches"] + pr["batch"]
        if epochs and pr["batch"] == pr["batches"]:
            done = epochs[-1]["epoch"] * pr["batches"]
        self.panel.progress.setValue(done)
        self.panel.progress.setFormat(f"epoch {pr['epoch']}/{pr['epochs']} · %p%")
        self.panel.rate.setText(
            f"step {pr['step']:,}  ·  {pr['samples_per_s']:,.0f} samples/s  ·  ETA {format_eta(pr['eta_s'])}"
        )

    def finish(self, status: str) -> None:
        """The run ended: the bar says how, the rate line its last step and epochs (no ETA)."""
        progress = self.panel.progress
        progress.setRange(0, 1)
        progress.setValue(1 if status == "completed" else 0)
        progress.setFormat(status)
        step = self.plots.raw.series.last_x()
        self.last_step = int(step) if step is not None else self.last_step
        parts = [f"step {self.last_step:,}"] if self.last_step else []
        if self.history:
            parts.append(f"{len(self.history)} epoch{'s' * (len(self.history) != 1)}")
        self.panel.rate.setText("  ·  ".join(parts))
