"""A train/validation column in a CSV or Parquet table: no random split, the rows it names."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
import torch

from studio.training.data_summary import summarize
from studio.training.datasets import DatasetError, load_data
from studio.training.settings import TrainingSettings
from tests.training.training_helpers import script_data


def sklearn_datasets():
    """scikit-learn's bundled datasets, imported when a test reads one (2-5 s at collection)."""
    return pytest.importorskip("sklearn.datasets")
EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _iris_rows():
    iris = sklearn_datasets().load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    sets = ["Validation" if i % 5 == 0 else "train" for i in range(len(iris.data))]
    return names, iris, sets


def _csv(path: Path, bad_row: int | None = None) -> Path:
    names, iris, sets = _iris_rows()
    if bad_row is not None:
        sets[bad_row] = "holdout"
    lines = [",".join(["set", *names, "species"])]
    lines += [
        ",".join([s, *(f"{v:g}" for v in row), str(iris.target_names[t])])
        for s, row, t in zip(sets, iris.data, iris.target)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _settings(kind: str, path: str, **extra) -> TrainingSettings:
    return TrainingSettings.from_dict(
        {"data": {"kind": kind, "path": path, "target": "species", "split": "set"}, **extra}
    )


def test_a_csv_split_column_chooses_the_validation_rows_and_is_no_feature(tmp_path):
    _csv(tmp_path / "iris.csv")
    data = load_data(_settings("csv", "iris.csv", val_split=0.5), tmp_path)  # val_split is not used
    assert len(data.val) == 30 and len(data.train) == 120 and data.input_shape == (4,)
    iris = sklearn_datasets().load_iris()
    standardized = (
        torch.tensor(iris.data[1], dtype=torch.float32) - torch.tensor(data.normalization["mean"])
    ) / (torch.tensor(data.normalization["std"]))
    assert torch.allclose(
        data.train[0][0], standardized, atol=1e-5
    )  # row 0 validates, row 1 trains
    s = summarize(_settings("csv", "iris.csv"), tmp_path)
    assert sum(s.val_counts) == 30 and s.val_counts == [10, 10, 10] and s.sample_shape == [4]


def test_a_word_that_is_neither_train_nor_val_is_named_with_its_row(tmp_path):
    _csv(tmp_path / "iris.csv", bad_row=6)
    with pytest.raises(
        DatasetError, match=r"iris.csv, row 8, column 'set': 'holdout' is neither train nor val"
    ):
        load_data(_settings("csv", "iris.csv"), tmp_path)
    assert (
        "'holdout' is neither train nor val"
        in summarize(_settings("csv", "iris.csv"), tmp_path).problem
    )


def test_a_parquet_split_column_and_train_py_agree(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    names, iris, sets = _iris_rows()
    columns = {n: iris.data[:, j] for j, n in enumerate(names)}
    columns.update(set=sets, species=[str(iris.target_names[t]) for t in iris.target])
    pq.write_table(pa.table(columns), tmp_path / "iris.parquet")
    data = load_data(_settings("parquet", "iris.parquet"), tmp_path)
    assert len(data.val) == 30 and data.input_shape == (4,)
    project = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    project["training"]["data"] = {
        "kind": "parquet",
        "path": "iris.parquet",
        "target": "species",
        "split": "set",
    }
    (tmp_path / "p.studio.json").write_text(json.dumps(project))
    from studio.graph.project import load_project
    from studio.interop.script import script_source

    source, _ = script_source(load_project(tmp_path / "p.studio.json"))
    (tmp_path / "train.py").write_text(source)
    script = runpy.run_path(str(tmp_path / "train.py"), run_name="not_main")
    train, val, _ = script_data(script, tmp_path)
    assert torch.equal(val.tensors[0], data.val.tensors[0]) and torch.equal(
        train.tensors[1], data.train.tensors[1]
    )
