"""The loss-per-step and learning-rate axes follow the data, not the planned length of the run."""

import numpy as np

from studio.ui.training.plots import TrainingPlots


def test_the_step_axes_follow_the_steps_so_far_in_a_long_run(qtbot):
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.expect(1_000_000, 10)  # a long planned run
    steps = np.arange(1, 201, dtype=np.float64)
    plots.add_steps(steps, np.linspace(2.0, 0.5, 200))
    plots.add_lr(steps, np.full(200, 0.01))
    plots.redraw(everything=True)
    for plot in (plots.step_plot, plots.lr_plot):
        x_max = plot.vb.viewRange()[0][1]
        assert 200 <= x_max <= 400, x_max  # the 200 steps fill at least half the width


def test_when_a_run_ends_both_step_axes_end_at_its_last_step(qtbot):
    """The spiral's 390 steps ended on a learning-rate axis reaching 560 (it grows x1.5 ahead of
    the data while the run goes, and is drawn less often than the loss)."""
    plots = TrainingPlots()
    qtbot.addWidget(plots)
    plots.expect(390, 30)
    for start in range(0, 390, 13):  # an epoch of 13 steps at a time, drawn as the timer does
        steps = np.arange(start + 1, start + 14, dtype=np.float64)
        plots.add_steps(steps, np.linspace(0.7, 0.1, 13))
        plots.add_lr(steps, np.full(13, 0.01))
        plots.redraw()
    plots.redraw(everything=True)
    for plot in (plots.step_plot, plots.lr_plot):
        x_max = plot.vb.viewRange()[0][1]
        assert 390 <= x_max <= 390 * 1.05, x_max
