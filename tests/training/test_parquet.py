"""Parquet datasets: the same columns, messages and splits as CSV; two files without a random split."""

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

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
def sklearn_datasets():
    """scikit-learn's bundled datasets, imported when a test reads one (2-5 s at collection)."""
    return pytest.importorskip("sklearn.datasets")
EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _wine(path: Path, rows=slice(None)) -> Path:
    wine = sklearn_datasets().load_wine()
    columns = {n.replace("/", "_"): wine.data[rows, j] for j, n in enumerate(wine.feature_names)}
    columns["cultivar"] = [str(wine.target_names[t]) for t in wine.target[rows]]
    pq.write_table(pa.table(columns), path)
    return path


def test_a_parquet_file_reads_as_the_same_csv_would(tmp_path):
    _wine(tmp_path / "wine.parquet")
    wine = sklearn_datasets().load_wine()
    csv = tmp_path / "wine.csv"
    names = [n.replace("/", "_") for n in wine.feature_names]
    rows = [
        ",".join(repr(float(v)) for v in r) + f",{wine.target_names[t]}"
        for r, t in zip(wine.data, wine.target)
    ]
    csv.write_text(",".join(names) + ",cultivar\n" + "\n".join(rows) + "\n")
    a = load_data(
        TrainingSettings.from_dict(
            {"data": {"kind": "parquet", "path": "wine.parquet", "target": "cultivar"}}
        ),
        tmp_path,
    )
    b = load_data(
        TrainingSettings.from_dict(
            {"data": {"kind": "csv", "path": "wine.csv", "target": "cultivar"}}
        ),
        tmp_path,
    )
    assert a.class_names == b.class_names == ["class_0", "class_1", "class_2"]
    assert torch.equal(a.train.tensors[1], b.train.tensors[1])
    assert torch.allclose(a.train.tensors[0], b.train.tensors[0])
    assert a.normalization.keys() == b.normalization.keys() == {"mean", "std"}


def test_parquet_messages_name_the_column_and_row(tmp_path):
    pq.write_table(
        pa.table({"a": [1.0, None, 3.0], "b": ["x", "y", "z"], "label": [0, 1, 0]}),
        tmp_path / "t.parquet",
    )
    settings = {"data": {"kind": "parquet", "path": "t.parquet", "target": "nope"}}
    with pytest.raises(DatasetError, match="no column named 'nope'"):
        load_data(TrainingSettings.from_dict(settings), tmp_path)
    settings["data"]["target"] = "label"
    with pytest.raises(DatasetError, match=r"t.parquet, row 2, column 'a': the cell is empty"):
        load_data(TrainingSettings.from_dict(settings), tmp_path)
    pq.write_table(
        pa.table({"a": [1.0, 2.0], "b": ["x", "y"], "label": [0, 1]}), tmp_path / "t.parquet"
    )
    with pytest.raises(DatasetError, match=r"column 'b': 'x' is not a number"):
        load_data(TrainingSettings.from_dict(settings), tmp_path)
    with pytest.raises(DatasetError, match="Parquet file not found"):
        load_data(
            TrainingSettings.from_dict({"data": {"kind": "parquet", "path": "gone.parquet"}}),
            tmp_path,
        )
    (tmp_path / "bad.parquet").write_text("not parquet")
    s = summarize({"data": {"kind": "parquet", "path": "bad.parquet"}}, tmp_path)
    assert "as a Parquet file" in s.problem and "\n" not in s.problem


def test_two_parquet_files_train_and_validate_without_a_random_split(tmp_path):
    _wine(tmp_path / "train.parquet", slice(0, 140))
    _wine(tmp_path / "val.parquet", slice(140, None))
    settings = TrainingSettings.from_dict(
        {
            "data": {"kind": "parquet", "path": "train.parquet", "target": "cultivar"},
            "val_data": {"kind": "parquet", "path": "val.parquet", "target": "cultivar"},
        }
    )
    data = load_data(settings, tmp_path)
    assert len(data.train) == 140 and len(data.val) == 38
    s = summarize(settings, tmp_path)
    assert sum(s.train_counts) == 140 and s.columns[-1] == "cultivar" and s.bad_cells == 0


def test_train_py_reads_parquet_with_the_same_function(tmp_path):
    from studio.graph.project import load_project
    from studio.interop.script import script_source

    _wine(tmp_path / "wine.parquet")
    project = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    project["training"]["data"] = {"kind": "parquet", "path": "wine.parquet", "target": "cultivar"}
    (tmp_path / "p.studio.json").write_text(json.dumps(project))
    source, _ = script_source(load_project(tmp_path / "p.studio.json"))
    assert "def read_parquet_data(" in source
    (tmp_path / "train.py").write_text(source)
    script = runpy.run_path(str(tmp_path / "train.py"), run_name="not_main")
    train, val, info = script_data(script, tmp_path)
    studio = load_data(TrainingSettings.from_dict(project["training"]), tmp_path)
    assert (
        torch.equal(train.tensors[0], studio.train.tensors[0])
        and info["class_names"] == studio.class_names
    )
