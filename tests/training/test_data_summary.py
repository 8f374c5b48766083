"""The dataset summary (`studio.training.data_summary`) on real data: scikit-learn's bundled
wine table and digits images, and the tales text Studio ships."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from studio.cli import main as studio
from studio.training.data_summary import HEAD_ROWS, summarize
from studio.training.datasets import load_data
from studio.training.settings import TrainingSettings


def sklearn_datasets():
    """scikit-learn's bundled datasets, imported when a test reads one (2-5 s at collection)."""
    return pytest.importorskip("sklearn.datasets")
TALES = Path(__file__).resolve().parents[2] / "resources" / "data" / "tiny_tales.txt"


def _wine_csv(path: Path) -> Path:
    wine = sklearn_datasets().load_wine()
    header = ",".join(n.replace(",", " ") for n in wine.feature_names) + ",cultivar"
    lines = [
        ",".join(f"{v:g}" for v in row) + f",{wine.target_names[t]}"
        for row, t in zip(wine.data, wine.target)
    ]
    path.write_text(header + "\n" + "\n".join(lines) + "\n")
    return path


def _digits_folder(root: Path, keep=(0, 1, 7), thin=7) -> Path:
    """scikit-learn's 8x8 digits as PNGs, one folder per digit; digit `thin` keeps only a few."""
    from PIL import Image

    digits = sklearn_datasets().load_digits()
    for d in keep:
        (root / f"digit{d}").mkdir(parents=True)
        images = digits.images[digits.target == d]
        for i, image in enumerate(images[:12] if d == thin else images):
            Image.fromarray((image * 16).clip(0, 255).astype(np.uint8)).save(
                root / f"digit{d}" / f"{i}.png"
            )
    return root


def test_a_table_counts_every_class_in_the_split_training_makes(tmp_path):
    path = _wine_csv(tmp_path / "wine.csv")
    settings = TrainingSettings.from_dict(
        {"data": {"kind": "csv", "path": str(path), "target": "cultivar"}, "val_split": 0.25}
    )
    s = summarize(settings)
    assert s.ok and s.family == "table" and s.total == 178 and s.sample_shape == [13]
    assert s.classes == ["class_0", "class_1", "class_2"] and s.target == "cultivar"
    data = load_data(settings)
    assert s.train_counts == torch.bincount(data.train.tensors[1], minlength=3).tolist()
    assert s.val_counts == torch.bincount(data.val.tensors[1], minlength=3).tolist()
    wine = sklearn_datasets().load_wine()
    assert s.mean[0] == pytest.approx(wine.data[:, 0].mean(), rel=1e-4)
    assert s.std[0] == pytest.approx(wine.data[:, 0].std(ddof=1), rel=1e-4)
    assert s.bad_cells == 0 and len(s.rows) == 178 and s.row_lines[0] == 2


def test_missing_and_non_numeric_cells_are_named_by_line_and_column(tmp_path):
    path = _wine_csv(tmp_path / "wine.csv")
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[2] = ""
    lines[5] = ",".join(cells)
    cells = lines[9].split(",")
    cells[0] = "n/a"
    lines[9] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    s = summarize({"data": {"kind": "csv", "path": str(path), "target": "cultivar"}})
    assert s.bad_cells == 2
    assert [(c.line, c.column, c.value) for c in s.cells] == [
        (6, "ash", ""),
        (10, "alcohol", "n/a"),
    ]
    assert "line 10, column alcohol: 'n/a'" in "\n".join(s.lines())


def test_a_large_table_is_summarized_from_its_head_and_rows_spread_over_it(tmp_path):
    path = tmp_path / "big.csv"
    rng = np.random.default_rng(0)
    n = HEAD_ROWS * 3
    labels = np.sort(rng.integers(0, 3, n))  # sorted: the head alone holds one class
    path.write_text("a,b,y\n" + "".join(f"{i % 10},{i % 7},k{y}\n" for i, y in enumerate(labels)))
    s = summarize({"data": {"kind": "csv", "path": str(path), "target": "y"}})
    assert s.total == n and s.classes == ["k0", "k1", "k2"] and "estimated" in s.estimated
    true = np.bincount(labels, minlength=3)
    shown = np.array(s.train_counts) + np.array(s.val_counts)
    assert np.all(np.abs(shown - true) < 0.05 * n)
    assert len(s.rows) == 200


def test_an_image_folder_counts_its_unbalanced_classes_and_measures_its_channels(tmp_path):
    root = _digits_folder(tmp_path / "digits")
    settings = TrainingSettings.from_dict(
        {"data": {"kind": "image_folder", "path": str(root), "channels": 1, "size": [8, 8]}}
    )
    s = summarize(settings)
    assert s.ok and s.family == "image" and s.classes == ["digit0", "digit1", "digit7"]
    data = load_data(settings)
    ys = [data.train[i][1] for i in range(len(data.train))]
    assert s.train_counts == np.bincount(ys, minlength=3).tolist()
    assert sum(s.val_counts) == len(data.val) and s.sample_shape == [1, 8, 8]
    assert s.imbalance() > 5 and "unbalanced" in "\n".join(s.lines())
    assert {x["label"] for x in s.samples} == set(s.classes)  # the small class shows too
    assert s.stat_names == ["grey"] and 0 < s.mean[0] < 1


def test_the_tales_text_shows_windows_with_their_next_tokens():
    s = summarize({"data": {"kind": "text", "path": str(TALES), "block_size": 32, "stride": 32}})
    assert s.ok and s.family == "text" and s.sample_shape == [32]
    first = s.windows[0]
    assert first["context"][1:] == first["next"][:-1] and len(first["next"]) == 32


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "csv", "path": "nowhere.csv"}, "CSV file not found"),
        ({"kind": "image_folder", "path": "."}, "one sub-folder per class"),
        ({"kind": "warp"}, "Unknown dataset kind"),
    ],
)
def test_data_that_cannot_be_read_gives_one_line(tmp_path, data, message):
    s = summarize({"data": data}, tmp_path)
    assert not s.ok and message in s.problem and "\n" not in s.problem
    assert s.lines() == [s.lines()[0]] and message in s.lines()[0]


def test_studio_data_prints_the_summary_and_json(tmp_path, capsys):
    _wine_csv(tmp_path / "wine.csv")
    project = json.loads(
        (
            Path(__file__).resolve().parents[2] / "resources/examples/mlp_classifier.studio.json"
        ).read_text()
    )
    project["training"]["data"] = {"kind": "csv", "path": "wine.csv", "target": "cultivar"}
    (tmp_path / "p.studio.json").write_text(json.dumps(project))
    assert studio(["data", str(tmp_path / "p.studio.json")]) == 0
    out = capsys.readouterr().out
    assert "wine.csv (178 rows, 13 features, target 'cultivar')" in out and "class_1" in out
    assert studio(["data", str(tmp_path / "p.studio.json"), "--json"]) == 0
    parsed = json.loads(capsys.readouterr().out)
    assert parsed["classes"] == ["class_0", "class_1", "class_2"] and parsed["problem"] == ""
    project["training"]["data"]["path"] = "gone.csv"
    (tmp_path / "p.studio.json").write_text(json.dumps(project))
    assert studio(["data", str(tmp_path / "p.studio.json")]) == 1
    assert "CSV file not found" in capsys.readouterr().out
