"""`studio check` refuses a Function call that mixes the samples of a batch (torch.kron): it
used to pass at the one batch size the check infers with, then fail in `studio train`."""

import json
from pathlib import Path

from studio.cli import main as studio

EXAMPLE = Path("resources/examples/mlp_classifier.studio.json")


def _project(tmp_path: Path, arguments: str, function: str = "torch.kron") -> Path:
    """The spiral classifier with a Function block between relu2 and the classifier."""
    data = json.loads(EXAMPLE.read_text())
    graph = data["graph"]
    graph["blocks"].append(
        {
            "id": "b9",
            "type": "function",
            "version": 1,
            "name": "mix",
            "position": [0, 0],
            "params": {"function": function, "arguments": arguments, "inputs": 1, "outputs": 1},
        }
    )
    (into,) = [e for e in graph["edges"] if e["to"] == ["b6", "in"]]
    into["to"] = ["b9", "in1"]
    graph["edges"].append({"id": "e99", "from": ["b9", "out"], "to": ["b6", "in"]})
    data["training"] = {**data["training"], "epochs": 1, "data": {"kind": "spirals", "n": 64}}
    path = tmp_path / "p.studio.json"
    path.write_text(json.dumps(data))
    return path


def test_kron_across_the_batch_fails_check_with_one_line_on_its_block(tmp_path, capsys):
    project = _project(tmp_path, "in1, in1")
    assert studio(["check", str(project)]) == 1
    out, err = capsys.readouterr()
    (line,) = [ln for ln in err.splitlines() if "error:" in ln]
    assert "mix: This block mixes the samples of a batch: for a batch of N it gives N²×4096" in line
    assert "N²×2" in out and "Traceback" not in out + err  # the table shows the size for what it is
    assert studio(["train", str(project), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 2
    assert "mixes the samples of a batch" in capsys.readouterr().err
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_a_call_that_keeps_the_batch_passes_check_and_trains(tmp_path, capsys):
    project = _project(tmp_path, "in1, 1, 1", function="torch.roll")
    assert studio(["check", str(project)]) == 0, capsys.readouterr().err
    assert studio(["train", str(project), "--out", str(tmp_path / "run"), "--device", "cpu"]) == 0
    assert (tmp_path / "run" / "metrics.csv").exists()
