"""`studio train` runs nothing that `studio check` calls an error: data that does not fit the
model and unknown settings stop it before the first step, with the fix in one line."""

import json
from pathlib import Path

from studio.cli import main as studio

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def _project(tmp_path: Path, **training) -> Path:
    data = json.loads(EXAMPLE.read_text())
    data["training"] = {**data["training"], "epochs": 1, **training}
    path = tmp_path / "p.studio.json"
    path.write_text(json.dumps(data))
    return path


def test_a_three_class_dataset_on_a_two_output_head_stops_check_and_train(tmp_path, capsys):
    project = _project(tmp_path, data={"kind": "blobs", "n": 90, "classes": 3})
    assert studio(["check", str(project)]) == 1
    assert "Set classifier's out features to 3" in capsys.readouterr().err
    out = tmp_path / "run"
    assert studio(["train", str(project), "--out", str(out), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "The data has 3 classes" in err
    assert "(Fix: Set classifier to 3 outputs.)" in err and "Traceback" not in err
    assert not (out / "metrics.csv").exists()


def test_a_misspelt_setting_stops_check_and_train_naming_the_key_it_meant(tmp_path, capsys):
    project = _project(tmp_path, dataset={"kind": "moons"})
    assert studio(["check", str(project)]) == 1
    assert "Unknown training setting 'dataset'; did you mean 'data'?" in capsys.readouterr().err
    assert studio(["train", str(project), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    assert "Unknown training setting 'dataset'; did you mean 'data'?" in capsys.readouterr().err


def test_data_that_fits_still_trains(tmp_path, capsys):
    project = _project(tmp_path, data={"kind": "blobs", "n": 90, "classes": 2})
    assert studio(["train", str(project), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    assert (tmp_path / "run" / "metrics.csv").exists()
