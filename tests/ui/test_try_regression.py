"""Try it shows a regression's predictions in the data's units when the run learnt the target
standardised (#20 item 5): scikit-learn's diabetes table, targets 25-346."""

import numpy as np
import pytest

from tests.regression_data import diabetes_settings


def test_try_it_predicts_in_the_data_units(tmp_path):
    from studio.training.datasets import load_data
    from studio.training.trainer import Trainer
    from studio.ui.training.try_panel import evaluate
    from tests.training.training_helpers import mlp

    pytest.importorskip("sklearn")
    settings = diabetes_settings(tmp_path)
    data = load_data(settings, tmp_path)
    model = mlp(10, 1, hidden=64)
    assert Trainer(model, data, settings).fit().status == "completed"
    r = evaluate(model, data, data.task, data.num_classes)
    error = np.abs(r["pred"] - r["y"]).mean()
    assert 100 < r["pred"].mean() < 200 and error < 60  # standardised outputs would be near 0
