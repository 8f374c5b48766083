"""A CSV project's train.py reads like the rest: only the reading its table needs (a short file:
the csv module, cell by cell), standardised, ruff-clean, and still the weights `studio train` gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main as studio
from studio.graph.project import load_project
from studio.interop.script import script_source

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"
COLUMNS = [
    "alcohol",
    "malic_acid",
    "ash",
    "alcalinity_of_ash",
    "magnesium",
    "total_phenols",
    "flavanoids",
    "nonflavanoid_phenols",
    "proanthocyanins",
    "color_intensity",
    "hue",
    "od280/od315_of_diluted_wines",
    "proline",
]
#: the wine table's script (scikit-learn's 178 rows, the spiral MLP with 13 inputs): 1,028 lines when
#: every CSV reader was copied (pyarrow, streaming to a cache, memory budgets, split flags, TableRows)
WINE_CEILING = 430


def _table(path: Path, rows: int, seed: int = 0) -> None:
    """A wine-like table: 13 number columns on their own scales and a class 0-2 in "target"."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, rows)
    x = rng.normal(size=(rows, 13)) * rng.uniform(0.1, 500, 13) + y[:, None] * rng.uniform(
        0.1, 50, 13
    )
    lines = [",".join(COLUMNS + ["target"])] + [
        ",".join(f"{v:.4g}" for v in r) + f",{c}" for r, c in zip(x, y)
    ]
    path.write_text("\n".join(lines) + "\n")


def _project(folder: Path, name: str = "wine.csv") -> Path:
    data = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    blocks = data["graph"]["blocks"]
    blocks[0]["params"]["shape"] = [13]
    next(b for b in blocks if b["name"] == "classifier")["params"]["out_features"] = 3
    data["training"].update(
        data={"kind": "csv", "path": name, "target": "target"}, epochs=3, batch_size=32
    )
    path = folder / "wine.studio.json"
    path.write_text(json.dumps(data))
    return path


def _env() -> dict:
    import os

    env = dict(os.environ, OMP_NUM_THREADS="1", STUDIO_THREADS="1")
    for name in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "STUDIO_DATA_BUDGET"):
        env.pop(name, None)
    return env


def _run_script(script: Path, *args: str) -> subprocess.CompletedProcess:
    """`python script *args` in the script's folder, one thread, no torchrun variables."""
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          env=_env(), cwd=script.parent, timeout=300)


def _studio_and_script_weights(tmp_path: Path, project: Path, script: Path) -> tuple[dict, dict]:
    """The weights `studio train` gives the project (one thread, as the script's env) and those
    its exported `script` gives, each trained in tmp_path (studio/, script/)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert (
            studio(["train", str(project), "--out", str(tmp_path / "studio"), "--device", "cpu"])
            == 0
        )
    finally:
        torch.set_num_threads(before)
    run = _run_script(script, "--out", str(tmp_path / "script"), "--device", "cpu")
    assert run.returncode == 0, run.stderr
    return tuple(torch.load(tmp_path / d / "weights.pt", weights_only=True) for d in ("studio", "script"))


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--isolated", "--line-length", "100"],
        capture_output=True,
        text=True,
    )


def test_a_short_tables_script_holds_only_the_plain_reader_and_is_ruff_clean(tmp_path, monkeypatch):
    monkeypatch.delenv("STUDIO_DATA_BUDGET", raising=False)
    _table(tmp_path / "wine.csv", 178)
    source, _ = script_source(load_project(_project(tmp_path)))
    lines = len(source.splitlines())
    print("wine train.py lines:", lines)
    assert lines <= WINE_CEILING, lines
    for other in (
        "class TableRows",
        "pyarrow",
        "np.loadtxt",
        "def stream_table",
        "memory_budget",
        "SETTINGS",
        "split_flags",
        "DataLoader",
        "def read_csv(",
    ):
        assert other not in source, other
    # the options are literals where they are read; the cells through the csv module, one by one
    assert 'spec = {"path": "wine.csv"}' in source and 'label_column="target"' in source
    assert "csv.reader(" in source and '"normalization"' in source
    script = tmp_path / "train.py"
    script.write_text(source)
    check = _ruff("check", str(script))
    assert check.returncode == 0, check.stdout + check.stderr
    form = _ruff("format", "--check", "--diff", str(script))
    assert form.returncode == 0, form.stdout[-4000:] + form.stderr


def test_the_scripts_weights_are_studios_and_a_larger_file_is_still_read(tmp_path, monkeypatch):
    monkeypatch.delenv("STUDIO_DATA_BUDGET", raising=False)
    _table(tmp_path / "wine.csv", 178)
    project = _project(tmp_path)
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    ours, theirs = _studio_and_script_weights(tmp_path, project, script)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    saved = json.loads((tmp_path / "script" / "weights.json").read_text())
    assert len(saved["normalization"]["mean"]) == 13 and saved["class_names"] == ["0", "1", "2"]
    # a table past the plain reader's size given later (--data): read alike, only slower
    bigger = tmp_path / "bigger"
    bigger.mkdir()
    _table(bigger / "wine.csv", 16000, seed=1)
    from studio.training.runtime.tabular import rows_max_bytes

    assert (bigger / "wine.csv").stat().st_size > rows_max_bytes()
    run = _run_script(script, "--data", str(bigger), "--epochs", "1",
                      "--out", str(tmp_path / "bigger_run"), "--device", "cpu")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "bigger_run" / "weights.pt").exists()


@pytest.mark.parametrize("cell", ["abc", ""])
def test_a_bad_cell_is_named_by_its_row_and_column(tmp_path, monkeypatch, cell):
    monkeypatch.delenv("STUDIO_DATA_BUDGET", raising=False)
    _table(tmp_path / "wine.csv", 40)
    lines = (tmp_path / "wine.csv").read_text().splitlines()
    cells = lines[7].split(",")
    cells[2] = cell
    lines[7] = ",".join(cells)
    (tmp_path / "wine.csv").write_text("\n".join(lines) + "\n")
    source, _ = script_source(load_project(_project(tmp_path)))
    namespace = {"__name__": "train"}
    exec(compile(source, str(tmp_path / "train.py"), "exec"), namespace)
    with pytest.raises(namespace["DataProblem"]) as e:
        namespace["read_csv_data"]({"path": str(tmp_path / "wine.csv")})
    assert str(e.value) == f"wine.csv, row 8, column 'ash': {cell!r} is not a number."
    # run as a script, it ends with that one sentence, exit status 1, no traceback
    (tmp_path / "train.py").write_text(source)
    run = _run_script(tmp_path / "train.py", "--out", str(tmp_path / "o"))
    assert run.returncode == 1 and run.stderr.strip() == str(e.value), run.stderr


def test_an_image_folder_without_augmentation_holds_none_and_trains_as_studio(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for label in ("circle", "square", "triangle"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(4):
            pixels = rng.integers(0, 256, (20, 20), dtype=np.uint8)
            Image.fromarray(pixels, "L").save(tmp_path / "images" / label / f"{i}.png")
    data = json.loads((EXAMPLES / "shapes_cnn.studio.json").read_text())
    data["training"].update(
        data={"kind": "image_folder", "path": "images", "channels": 1, "size": [28, 28]},
        epochs=2,
        batch_size=4,
    )
    project = tmp_path / "shapes.studio.json"
    project.write_text(json.dumps(data))
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    source = script.read_text()
    for other in ("def augmented_views", "class ImagePixels", "class TwoViews", "class TableRows"):
        assert other not in source, other
    ours, theirs = _studio_and_script_weights(tmp_path, project, script)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
