"""The transfer-learning example checks and exports offline."""

import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.graph.project import load_project
from studio.hub.weights import WeightsError, prepare_graph_weights

EXAMPLE = Path(__file__).resolve().parents[2] / "resources" / "examples" / "transfer_learning.studio.json"


def test_example_matches_its_generator():
    sys.path.insert(0, str(EXAMPLE.parents[2] / "tools"))
    try:
        import make_examples
    finally:
        sys.path.pop(0)
    assert load_project(EXAMPLE).graph.to_dict() == make_examples.transfer_learning().graph.to_dict()


def test_check_and_export_work_without_network(tmp_path, torch_home, capsys):
    assert main(["check", str(EXAMPLE)]) == 0
    assert "3,081 trainable" in capsys.readouterr().out
    out = tmp_path / "model.py"
    assert main(["export", str(EXAMPLE), "-o", str(out)]) == 0
    source = out.read_text()
    assert "mobilenet_v3_small(" in source and "MobileNet_V3_Small_Weights.IMAGENET1K_V1" in source
    compile(source, str(out), "exec")
    # building for training needs the weights: offline, a clear message instead
    with pytest.raises(WeightsError, match="mobilenet_v3_small-047dcff4.pth"):
        prepare_graph_weights(load_project(EXAMPLE).graph)


def test_python_m_studio_check(torch_home):
    r = subprocess.run(
        [sys.executable, "-m", "studio", "check", str(EXAMPLE)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout
