"""A regression run that ends worse than always predicting the mean says so (scikit-learn's
diabetes table, raw targets, a tiny learning rate for few epochs)."""

from studio.cli import main as studio
from tests.cli.diabetes import diabetes_project


def test_a_run_worse_than_the_mean_warns(tmp_path, capsys):
    training = {"loss": {"name": "mse"}, "epochs": 2, "optimizer": {"name": "sgd", "lr": 1e-6}}
    path = diabetes_project(tmp_path, training, 1, "p.studio.json")
    assert studio(["train", str(path), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "warning: The model ends worse than always predicting the mean" in err
