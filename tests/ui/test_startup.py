"""Start-up as the `studio` command does it, in a fresh process (the test process has torch).

The window must show before torch loads (it loads in a thread afterwards), and once it has
loaded the Training panel's plots must be built without a Train click. A lazy import of the
memory estimate in the Cost panel's start-up path once broke both: torch loaded on the GUI
thread before the window showed (13.7 s to show under load, 1.6 s after), and since the
compiler was then already there, the loader never ran and the plots said "appear once PyTorch
has loaded…" for good."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
from studio.ui.main_window import MainWindow
window = MainWindow()
if len(sys.argv) > 1:
    window.files.open_path(sys.argv[1], ask=False)
built = "torch" in sys.modules
window.show()
shown = "torch" in sys.modules
result = {"torch_when_built": built, "torch_when_shown": shown}
def done():
    panel = window.training.panel
    result["plots"] = panel.plots is not None
    result["tabs"] = [panel.right.tabText(i) for i in range(panel.right.count())]
    print("RESULT " + json.dumps(result), flush=True)
    window.files.discard_recovery()
    app.exit(0)
window.compiler_ready.connect(lambda: QTimer.singleShot(0, done))
QTimer.singleShot(120_000, done)  # torch never loaded, or the loader never said so
app.exec()
"""


@pytest.mark.parametrize("project", [None])
def test_the_window_shows_before_torch_loads_and_builds_the_plots_after(tmp_path, project):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "STUDIO_CONFIG_DIR": str(tmp_path)}
    args = [sys.executable, "-c", SCRIPT] + ([str(ROOT / project)] if project else [])
    out = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line is not None, out.stderr[-2000:]
    result = json.loads(line.removeprefix("RESULT "))
    assert result == {
        "torch_when_built": False,
        "torch_when_shown": False,
        "plots": True,
        "tabs": ["Curves", "Try it", "Data", "Compare runs"],
    }, out.stderr[-2000:]
