"""`studio check` checks the training data against the model: exit 1, and the reason in words."""

import pytest

from studio.cli import main
from studio.graph.project import Project, save_project
from tests.helpers import mlp


def project(tmp_path, graph, data, loss="cross_entropy", name="p"):
    training = {"data": data, "loss": {"name": loss}}
    return str(save_project(Project(name=name, graph=graph, training=training), tmp_path / f"{name}.studio.json"))


def check(path, capsys):
    status = main(["check", path])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_fitting_data_passes(tmp_path, capsys):
    status, out, _ = check(project(tmp_path, mlp(2, 8, 2), {"kind": "spirals"}), capsys)
    assert status == 0 and "OK: the model is valid." in out
    assert "Data:       spirals (1000 samples): samples of 2, 2 classes" in out


def test_sample_shape_against_the_input(tmp_path, capsys):
    status, _, err = check(project(tmp_path, mlp(784, 8, 3), {"kind": "shapes"}), capsys)
    assert status == 1
    assert "x: The data gives samples of 1×28×28 in shapes (600 samples), but this Input expects 784." in err
    assert "Set its shape to 1×28×28 and insert a Flatten after it" in err


def test_class_count_against_the_output(tmp_path, capsys):
    status, _, err = check(project(tmp_path, mlp(2, 8, 10), {"kind": "blobs", "classes": 3}), capsys)
    assert status == 1
    assert "fc2: The data has 3 classes, but the model gives 10 scores per sample (N×10)" in err
    assert "Set fc2's out features to 3." in err


def test_bce_needs_one_output_per_label(tmp_path, capsys):
    status, _, err = check(project(tmp_path, mlp(2, 8, 2), {"kind": "blobs", "classes": 4}, "bce_with_logits"), capsys)
    assert status == 1
    assert "The targets have 4 labels per sample, but the model gives 2 (N×2)" in err
    assert "needs one output per label" in err


def test_regression_width_against_the_output(tmp_path, capsys):
    status, _, err = check(project(tmp_path, mlp(1, 8, 3), {"kind": "sine"}, "mse"), capsys)
    assert status == 1
    assert "The targets have 1 value per sample, but the model gives 3 (N×3)" in err
    status, _, err = check(project(tmp_path, mlp(1, 8, 1), {"kind": "sine"}, "cross_entropy"), capsys)
    assert status == 1 and "needs class labels, but the data's targets are numbers" in err


def test_csv_columns_and_classes_are_read_from_the_file(tmp_path, capsys):
    rows = ["a,b,c,d,label"] + [f"{i},{i + 1},{i % 3},{i * 2},{['cat', 'dog', 'cow'][i % 3]}" for i in range(30)]
    (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
    status, _, err = check(project(tmp_path, mlp(2, 8, 2), {"kind": "csv", "path": "table.csv"}), capsys)
    assert status == 1
    assert "The data gives samples of 4 in table.csv (30 rows, 4 features), but this Input expects 2" in err
    status, _, err = check(project(tmp_path, mlp(4, 8, 2), {"kind": "csv", "path": "table.csv"}), capsys)
    assert status == 1 and "The data has 3 classes, but the model gives 2 scores" in err
    status, _, _ = check(project(tmp_path, mlp(4, 8, 3), {"kind": "csv", "path": "table.csv"}), capsys)
    assert status == 0


def test_image_folder_classes_and_size(tmp_path, capsys):
    from tests.helpers import chain

    for name in ("ants", "bees"):
        (tmp_path / "pics" / name).mkdir(parents=True)
        (tmp_path / "pics" / name / "1.png").write_bytes(b"not read by the check")
    g = mlp(3 * 32 * 32, 8, 5)
    status, _, err = check(project(tmp_path, g, {"kind": "image_folder", "path": "pics", "size": [32, 32]}), capsys)
    assert status == 1 and "The data gives samples of 3×32×32 in pics (2 classes)" in err
    g = mlp(8, 8, 5)
    x, fc1 = g.block_by_name("x"), g.block_by_name("fc1")
    g.disconnect(g.edge_into(fc1.id, "in").id)
    g.set_params(x.id, {"shape": [3, 32, 32]})
    flat = g.add_block("flatten", name="flat")
    chain(g, x, flat, fc1)
    status, _, err = check(project(tmp_path, g, {"kind": "image_folder", "path": "pics", "size": [32, 32]}), capsys)
    assert status == 1 and "The data has 2 classes, but the model gives 5 scores" in err


@pytest.mark.parametrize("data", [{"kind": "csv", "path": "missing.csv"}, {"kind": "nonsense"}])
def test_unreadable_data_is_one_line_without_a_traceback(tmp_path, data, capsys):
    # in this process (an exception escaping `main` fails the test as a traceback would); a new
    # process only imported torch again. `python -m studio check` itself: tests/hub/test_example.py
    status, _, err = check(project(tmp_path, mlp(2, 8, 2), data), capsys)
    assert status == 1 and "Traceback" not in err
    if data["kind"] == "csv":
        assert "error: Training data: CSV file not found" in err
    else:
        assert "error: Training settings: Unknown dataset kind 'nonsense'; choose one of spirals" in err


def test_check_lists_frozen_parameters_and_a_backbones_macs(capsys):
    status, out, _ = check("resources/examples/transfer_learning.studio.json", capsys)
    assert status == 0
    [row] = [line for line in out.splitlines() if line.startswith("backbone ")]
    assert "1,517,856 (frozen)" in row and not row.rstrip().endswith("-")  # MACs counted, not 0
    assert "Parameters: 1,520,937 (3,081 trainable, 1,517,856 frozen)" in out


def test_check_prints_the_memory_of_each_block_and_the_verdict(capsys):
    import json
    from pathlib import Path

    example = str(Path(__file__).resolve().parents[2] / "resources" / "examples" / "shapes_cnn.studio.json")
    assert main(["check", example, "--batch", "64", "--memory", "24GB"]) == 0
    out = capsys.readouterr().out
    assert "Memory of one training step at batch 64 (fp32, Adam):" in out
    assert "block" in out and "activations" in out and "conv1" in out
    assert "Batch 64 on 24 GB (10% kept free) fits:" in out and "largest batch that fits:" in out
    assert main(["check", example, "--batch", "64", "--memory", "1MB"]) == 0
    assert "does not fit" in capsys.readouterr().out
    assert main(["check", example, "--batch", "8", "--memory", "24GB", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["valid"] and data["memory"]["batch"] == 8 and data["fit"]["fits"] is True
    assert data["memory"]["peak"] == sum(b["total"] for b in data["memory"]["blocks"]) + data["memory"]["workspace"]
    assert main(["check", example, "--memory", "lots"]) == 2
    assert "not a memory size" in capsys.readouterr().err
