"""A CSV larger than the memory budget streams from disk and gives the same data as in memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from studio.training.runtime.data import TableRows, read_csv_data
from studio.training.runtime.data import load_data as runtime_load_data
from studio.training.runtime.tables import DataProblem
from studio.training.runtime.tabular import memory_budget

BUDGET = 4096  # bytes: the test tables are a few hundred KB


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(folder))
    monkeypatch.delenv("STUDIO_DATA_BUDGET", raising=False)
    return folder


def write_table(path, rows=6000, features=6, seed=0, classes=("cat", "dog", "bird")):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, features)).astype(np.float32)
    labels = np.array(classes)[rng.integers(0, len(classes), rows)]
    lines = [",".join(f"{v:.7g}" for v in row) + f",{k}" for row, k in zip(x, labels, strict=True)]
    path.write_text(",".join(f"f{i}" for i in range(features)) + ",label\n" + "\n".join(lines) + "\n")
    return path


def both(spec):
    """(in memory, streamed) datasets and infos of the same spec."""
    memory, memory_info = read_csv_data(spec)
    streamed, streamed_info = read_csv_data({**spec, "memory_budget": BUDGET})
    assert isinstance(memory, TensorDataset) and isinstance(streamed, TableRows)
    return memory, memory_info, streamed, streamed_info


def every_row(ds, batch_size=100):
    batches = list(DataLoader(ds, batch_size=batch_size))
    return torch.cat([x for x, _ in batches]), torch.cat([y for _, y in batches])


@pytest.mark.parametrize("classification", [True, False])
def test_a_table_over_the_budget_streams_the_same_tensors(tmp_path, classification):
    path = write_table(tmp_path / "t.csv")
    spec = {"path": str(path), "target": "label", "classification": True} if classification else {
        "path": str(path), "target": "f0", "features": ["f2", "f1", "f3", "f4", "f5", "f0"][:-1], "classification": False}
    memory, memory_info, streamed, streamed_info = both(spec)
    x, y = every_row(streamed)
    assert torch.equal(x, memory.tensors[0]) and torch.equal(y, memory.tensors[1])
    assert x.dtype == torch.float32 and y.dtype == memory.tensors[1].dtype
    assert streamed_info.get("class_names") == memory_info.get("class_names")
    assert "read from disk" in streamed_info["description"] and f"6000 rows, {x.shape[1]} features" in streamed_info["description"]
    # read again: the converted files are found, not converted again
    again, _ = read_csv_data({**spec, "memory_budget": BUDGET})
    assert again.table["x"] == streamed.table["x"] and torch.equal(every_row(again)[0], x)


def test_split_standardise_and_bce_targets_match_the_in_memory_path(tmp_path):
    path = write_table(tmp_path / "t.csv", rows=3000)
    spec = {"path": str(path), "target": "label", "classification": True}
    plan = {"data": spec, "val_split": 0.2, "seed": 3, "split_seed": 3, "float_targets": True, "standardize": True}
    train, val, info = runtime_load_data(plan, read_csv_data)
    s_train, s_val, s_info = runtime_load_data({**plan, "data": {**spec, "memory_budget": BUDGET}}, read_csv_data)
    assert len(s_train) == len(train) and len(s_val) == len(val)
    for memory, streamed in ((train, s_train), (val, s_val)):
        x, y = every_row(streamed)
        assert torch.allclose(x, memory.tensors[0], atol=1e-5)  # statistics summed in another order
        assert torch.equal(y, memory.tensors[1]) and y.shape == (len(memory), 3)
    assert np.allclose(s_info["normalization"]["mean"], info["normalization"]["mean"], atol=1e-6)
    assert np.allclose(s_info["normalization"]["std"], info["normalization"]["std"], atol=1e-6)


def test_a_streamed_training_table_standardises_a_separate_validation_table_in_memory(tmp_path):
    big, small = write_table(tmp_path / "big.csv", rows=3000), write_table(tmp_path / "small.csv", rows=200, seed=1)
    spec = {"path": str(big), "target": "label", "classification": True}
    plan = {"data": spec, "val_data": {**spec, "path": str(small)}, "val_split": 0, "seed": 0,
            "float_targets": False, "standardize": True}
    _, val, _ = runtime_load_data(plan, read_csv_data)
    s_train, s_val, _ = runtime_load_data({**plan, "data": {**spec, "memory_budget": BUDGET}}, read_csv_data)
    assert isinstance(s_train, TableRows) and isinstance(s_val, TensorDataset)
    assert torch.allclose(s_val.tensors[0], val.tensors[0], atol=1e-5) and abs(float(val.tensors[0].mean())) < 0.2


def test_streaming_holds_a_bounded_amount_of_memory(tmp_path):
    path = write_table(tmp_path / "t.csv", rows=20000, features=8)
    spec = {"path": str(path), "target": "label", "classification": True}
    data_bytes = 20000 * (8 * 4 + 8)

    def peak(budget):
        tracemalloc.start()
        try:
            ds, _ = read_csv_data({**spec, "memory_budget": budget})
            for _ in DataLoader(ds, batch_size=64):
                pass
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    in_memory = peak(1 << 30)
    streamed = peak(BUDGET)
    assert in_memory > data_bytes  # tracemalloc sees the whole table when it is in memory
    assert streamed < data_bytes / 4, (streamed, in_memory)


@pytest.mark.parametrize(
    "text, options, message",
    [
        ("a,b,y\n" + "1,2,0\n" * 500 + "3,oops,1\n", {}, "t.csv, row 502, column 'b': 'oops' is not a number."),
        ("a,b,y\n" + "1,2,0\n" * 500 + "3,4\n", {}, "t.csv, row 502: 2 values, expected 3 like the first row."),
        ("a,y\n" + "1,2\n" * 500 + "1,x\n", {"classification": False},
         "t.csv, row 502, column 'y': 'x' is not a number (regression needs numeric targets; "
         "use a classification loss for labels)."),
        ("a,y\n" + "1,2\n" * 500, {"target": "label"}, "t.csv has no column named 'label' (columns: a, y)."),
        ("a,y\n" + " \n" * 3000, {}, "t.csv has a header but no data rows."),
    ],
)
def test_the_streaming_path_names_the_row_and_column_of_a_bad_cell(tmp_path, cache, text, options, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataProblem) as e:
        read_csv_data({"path": str(path), "memory_budget": 64, **options})
    assert str(e.value) == message
    assert not any(cache.glob("*.f32")) and not any(cache.glob("*.i64"))  # nothing half-written stays


def test_a_changed_file_is_converted_again(tmp_path):
    path = write_table(tmp_path / "t.csv", rows=2000)
    spec = {"path": str(path), "target": "label", "memory_budget": BUDGET}
    first, _ = read_csv_data(spec)
    write_table(path, rows=2500, seed=1)
    second, _ = read_csv_data(spec)
    assert len(first) == 2000 and len(second) == 2500
    assert torch.equal(every_row(second)[0], read_csv_data({**spec, "memory_budget": 1 << 30})[0].tensors[0])


def test_the_budget_comes_from_the_spec_the_environment_or_the_machine(monkeypatch):
    assert memory_budget({"memory_budget": 1234}) == 1234
    monkeypatch.setenv("STUDIO_DATA_BUDGET", "5000")
    assert memory_budget({}) == 5000
    monkeypatch.delenv("STUDIO_DATA_BUDGET")
    assert memory_budget({}) >= 1 << 20  # a quarter of this machine's memory
    with pytest.raises(DataProblem, match="memory budget must be a number of bytes"):
        memory_budget({"memory_budget": "lots"})


def test_train_py_streams_a_table_over_the_budget_and_trains_like_studio(tmp_path, cache, monkeypatch):
    import json
    import subprocess
    import sys

    from studio.cli import main as studio
    from tests.interop.test_script_export import _env, _project, _rows

    write_table(tmp_path / "t.csv", rows=600, features=4, classes=("inner", "outer"))
    project = _project(tmp_path, "mlp_classifier", data={"kind": "csv", "path": "t.csv", "target": "label"},
                       epochs=2, batch_size=32)
    data = json.loads(project.read_text())
    data["graph"]["blocks"][0]["params"]["shape"] = [4]  # the example's input takes 2 features
    project.write_text(json.dumps(data))
    script = tmp_path / "train.py"
    monkeypatch.setenv("STUDIO_DATA_BUDGET", "2048")  # over the budget when exported: train.py streams
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    assert "class TableRows" in script.read_text()
    monkeypatch.delenv("STUDIO_DATA_BUDGET")  # Studio's first run holds the table in memory
    assert studio(["train", str(project), "--out", str(tmp_path / "studio"), "--device", "cpu"]) == 0
    run = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path / "script"), "--device", "cpu"],
        capture_output=True, text=True, env=_env(STUDIO_DATA_BUDGET="2048", STUDIO_CACHE_DIR=str(cache)),
        cwd=tmp_path, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert any(cache.glob("t-*.x.f32"))  # it streamed
    monkeypatch.setenv("STUDIO_DATA_BUDGET", "2048")  # and Studio's own run streams too
    assert studio(["train", str(project), "--out", str(tmp_path / "streamed"), "--device", "cpu"]) == 0
    in_memory = _rows(tmp_path / "studio" / "metrics.csv")
    for other in ("script", "streamed"):
        for a, b in zip(in_memory, _rows(tmp_path / other / "metrics.csv"), strict=True):
            for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
                assert abs(float(a[key]) - float(b[key])) < 1e-4, (other, key, a, b)
