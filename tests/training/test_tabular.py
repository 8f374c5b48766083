"""read_table: the parsers (pyarrow for large files when installed, numpy, the csv module for
short ones) and the slow path give the same tables, and every refusal names the cell. Every test
runs with each parser."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.training.runtime import tabular
from studio.training.runtime.tables import DataProblem as CsvError  # every refusal is a DataProblem
from studio.training.runtime.tabular import read_table as read_csv


@pytest.fixture(autouse=True, params=["numpy", "pyarrow", "rows"])
def fast_path(request, monkeypatch):
    """Each test once with numpy's reader, once with pyarrow's (any size goes to pyarrow) and once
    with the csv module's (a short file's, any size)."""
    monkeypatch.setattr(tabular, "rows_max_bytes", lambda: 1 << 62 if request.param == "rows" else 0)
    if request.param == "pyarrow":
        pytest.importorskip("pyarrow")
        monkeypatch.setattr(tabular, "arrow_min_bytes", lambda: 0)
    else:
        monkeypatch.setattr(tabular, "arrow_min_bytes", lambda: 1 << 62)
    return request.param


def _write(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_text_labels_become_sorted_class_indices(tmp_path):
    p = _write(tmp_path, "\nheight,weight,kind\n1,10,cat\n2,20,dog\n\n3,30, cat\n4,40,bird\n")
    t = read_csv(p, label_column="kind")
    assert t.features.dtype == torch.float32 and t.features.tolist() == [[1, 10], [2, 20], [3, 30], [4, 40]]
    assert t.classes == ["bird", "cat", "dog"] and t.targets.tolist() == [1, 2, 1, 0]
    assert t.columns == ["height", "weight"] and t.target == "kind"


def test_number_labels_sort_numerically(tmp_path):
    p = _write(tmp_path, "x,y\n1,10\n2,9\n3,10\n4,x\n")
    t = read_csv(p)
    assert t.classes == ["9", "10", "x"] and t.targets.tolist() == [1, 0, 1, 2]


def test_regression_without_header_and_chosen_columns(tmp_path):
    p = _write(tmp_path, "0.5,1,2.5\n1.5,2,3.5\n")
    t = read_csv(p, task="regression")
    assert t.targets.tolist() == [[2.5], [3.5]] and t.classes is None and t.columns == ["column 1", "column 2"]
    p = _write(tmp_path, "id,a,b,y\nrow-1,1,2,c\nrow-2,3,4,d\n", "ids.csv")
    t = read_csv(p, feature_columns=["b", "a"], label_column="y")  # the text id column is not read
    assert t.features.tolist() == [[2, 1], [4, 3]] and t.columns == ["b", "a"]


def test_unusual_but_valid_files_take_the_slow_path_with_the_same_result(tmp_path):
    fast = read_csv(_write(tmp_path, "a,b,y\n1,2,u\n3,4,v\n", "fast.csv"))
    slow = read_csv(_write(tmp_path, 'a,b,y\n"1", 2 ,u\n   \n3,4,v\n', "slow.csv"))
    assert torch.equal(fast.features, slow.features) and torch.equal(fast.targets, slow.targets)
    assert fast.classes == slow.classes == ["u", "v"]


def test_large_file_matches_numpy(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5000, 4)).astype(np.float32)
    labels = rng.integers(0, 3, 5000)
    lines = [",".join(f"{v:.6g}" for v in row) + f",c{k}" for row, k in zip(x, labels)]
    p = _write(tmp_path, "a,b,c,d,label\n" + "\n".join(lines) + "\n")
    t = read_csv(p)
    assert np.allclose(t.features.numpy(), x, rtol=1e-5) and t.targets.tolist() == labels.tolist()


def test_a_file_that_is_not_text_further_down_is_one_line(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes(b"a,y\n1,2\n" + b"3,\xff\xfe\n")
    with pytest.raises(CsvError, match=r"^Could not read .*data.csv: 'utf-8' codec can't decode byte 0xff"):
        read_csv(p)


@pytest.mark.parametrize(
    "text, options, message",
    [
        ("a,b,y\n1,2,0\n3,oops,1\n", {}, "data.csv, row 3, column 'b': 'oops' is not a number."),
        ("a,b,y\n1,2,0\n3,,1\n", {}, "data.csv, row 3, column 'b': '' is not a number."),
        ("a,b,y\n1,2,0\n3,4\n", {}, "data.csv, row 3: 2 values, expected 3 like the first row."),
        ("a,b,y\n1,2,0\n3,4,5,6\n", {}, "data.csv, row 3: 4 values, expected 3 like the first row."),
        ("a,y\n1,x\n", {"task": "regression"},
         "data.csv, row 2, column 'y': 'x' is not a number (regression needs numeric targets; "
         "use a classification loss for labels)."),
        ("a,y\n", {}, "data.csv has a header but no data rows."),
        ("\n \n", {}, "data.csv is empty."),
        ("a,y\n1,2\n", {"label_column": "label"}, "data.csv has no column named 'label' (columns: a, y)."),
        ("a,y\n1,2\n", {"label_column": 5}, "data.csv has 2 columns; there is no column 5."),
        ("a,y\n1,2\n", {"feature_columns": ["y"]}, "Column 'y' cannot be both a feature and the target."),
    ],
)
def test_refusals_name_the_file_row_and_column(tmp_path, text, options, message):
    with pytest.raises(CsvError) as e:
        read_csv(_write(tmp_path, text), **options)
    assert str(e.value) == message


def test_both_fast_paths_give_the_same_bits(tmp_path, monkeypatch):
    """Numbers written in every way a file may hold them (rounding edges, subnormals, inf, nan, signs,
    quotes, a BOM, CRLF) read to the same float32 bits by pyarrow and numpy, with the same classes."""
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(1)
    values = np.concatenate([rng.standard_normal(300) * 10.0 ** rng.integers(-45, 39, 300),
                             [0.0, -0.0, 1e-46, 3.4028235e38, 1.0000000596046448, float("inf"), -float("inf")]])
    cells = [repr(float(v)) for v in values] + ["nan", "+1.5", "1E3", ".5", "5.", '"2.5"']
    lines = [f"{a},{b}, {['cat', 'dog', 'ant'][i % 3]}" for i, (a, b) in enumerate(zip(cells, reversed(cells)))]
    p = tmp_path / "edge.csv"
    p.write_bytes(("\ufeffa,b,kind\r\n" + "\r\n".join(lines) + "\r\n").encode())
    lay = tabular.table_layout(p)
    monkeypatch.setattr(tabular, "arrow_min_bytes", lambda: 1 << 62)
    assert tabular.parser_for(p) != "arrow"  # small: numpy (or the csv module) reads it
    monkeypatch.setattr(tabular, "arrow_min_bytes", lambda: 0)
    assert tabular._parse_arrow(p, ",", lay, True, {}) is not None  # pyarrow took every cell
    tables = {}
    for name, size in (("numpy", 1 << 62), ("pyarrow", 0)):
        monkeypatch.setattr(tabular, "arrow_min_bytes", lambda size=size: size)
        tables[name] = read_csv(p)
    a, b = tables["numpy"], tables["pyarrow"]
    assert a.features.numpy().tobytes() == b.features.numpy().tobytes()
    assert torch.equal(a.targets, b.targets) and a.classes == b.classes == ["ant", "cat", "dog"]


def test_pyarrow_reader_does_not_import_pandas(tmp_path, fast_path):
    """pyarrow's ``to_numpy()`` imports pandas on its first call (0.4-0.9 s, inside the read): the
    reader views the column buffers instead, so a fresh process that reads a table never loads it."""
    if fast_path != "pyarrow":
        pytest.skip("pyarrow's reader only")
    p = _write(tmp_path, "a,b,kind\n1,2,cat\n3,4,dog\n5,6,cat\n")
    code = (
        "import sys\n"
        "from studio.training.runtime import tabular\n"
        "tabular.arrow_min_bytes = lambda: 0\n"
        "t = tabular.read_table(sys.argv[1])\n"
        "assert t.features.tolist() == [[1, 2], [3, 4], [5, 6]] and t.targets.tolist() == [0, 1, 0]\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pandas'))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(p)], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_many_batches_read_the_same_by_both_fast_paths(tmp_path, monkeypatch, task, fast_path):
    """A file of several of pyarrow's blocks (256 KiB), CRLF line ends, quoted label cells and a
    label first seen in a late block: pyarrow's column views give numpy's bits and classes."""
    if fast_path != "pyarrow":
        pytest.skip("compares both paths itself")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((12000, 3)) * 10.0 ** rng.integers(-8, 8, (12000, 3))
    kinds = np.array(['"cat"', "dog", ' "ant"', "7"])[rng.integers(0, 4, 12000)]
    kinds[-3:] = "zebra"  # only in the last block
    if task == "regression":
        kinds = [repr(float(v)) for v in rng.standard_normal(12000)]
    lines = [f"{a!r},{b!r},{c!r},{k}" for (a, b, c), k in zip(x.tolist(), kinds)]
    p = tmp_path / "big.csv"
    p.write_bytes(("a,b,c,kind\r\n" + "\r\n".join(lines) + "\r\n").encode())
    assert p.stat().st_size > 3 * (256 << 10)
    tables = {}
    for name, size in (("numpy", 1 << 62), ("pyarrow", 0)):
        monkeypatch.setattr(tabular, "arrow_min_bytes", lambda size=size: size)
        tables[name] = read_csv(p, task=task)
    a, b = tables["numpy"], tables["pyarrow"]
    assert len(a.features) == 12000 and a.features.numpy().tobytes() == b.features.numpy().tobytes()
    assert a.targets.dtype == b.targets.dtype and torch.equal(a.targets, b.targets) and a.classes == b.classes
    if task == "classification":
        # a space before a quote makes the quotes part of the cell, as in the csv module
        assert a.classes == ["7", '"ant"', "cat", "dog", "zebra"] and a.targets[-1].item() == 4
