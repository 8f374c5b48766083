"""`studio check` reads the loss before it counts classes: a regression table (scikit-learn's
diabetes, whole-number targets) is one target value with MSE, and with cross-entropy the check
suggests a regression loss instead of 214 outputs."""

from studio.cli import main as studio
from tests.cli.diabetes import diabetes_project


def _project(tmp_path, loss, out_features):
    return diabetes_project(
        tmp_path, {"loss": {"name": loss}}, out_features, "diabetes.studio.json"
    )


def test_with_mse_the_whole_number_target_is_one_value(tmp_path, capsys):
    assert studio(["check", str(_project(tmp_path, "mse", 1))]) == 0
    out = capsys.readouterr().out
    assert "1 target value" in out and "classes" not in out


def test_with_cross_entropy_the_check_suggests_a_regression_loss(tmp_path, capsys):
    assert studio(["check", str(_project(tmp_path, "cross_entropy", 2))]) == 1
    err = capsys.readouterr().err
    assert "looks like a regression target" in err and "mean squared error" in err
    assert "214 scores" not in err and "out features to 214" not in err
