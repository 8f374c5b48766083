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
