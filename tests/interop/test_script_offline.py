"""The exported train.py of a project with pretrained weights, offline: one line, as
`studio train` says it (#23 item 12)."""

import os
import subprocess
import sys
from pathlib import Path

from studio.graph.project import load_project
from studio.interop.exporters import export_project

ROOT = Path(__file__).resolve().parents[2]


def test_train_py_without_its_pretrained_weights_offline_says_so_in_one_line(tmp_path):
    project = load_project(ROOT / "resources" / "examples" / "transfer_learning.studio.json")
    project.training = {**project.training, "data": {"kind": "shapes", "n": 40}, "epochs": 1}
    script = tmp_path / "train.py"
    export_project(project, "script", script)
    env = {
        **os.environ,
        "TORCH_HOME": str(tmp_path / "empty_torch_home"),  # nothing cached on this 'machine'
        "https_proxy": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",  # and no network
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    r = subprocess.run(
        [sys.executable, str(script), "--epochs", "1"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr[-3000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1 and "pretrained weights could not be loaded" in lines[0], r.stderr[
        -2000:
    ]
    assert "empty_torch_home" in lines[0] and "checkpoints" in lines[0]
