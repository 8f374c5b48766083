"""How much editing a kill -9 of the window loses (the recovery file's lag behind the edits).

A child process opens the window offscreen and edits steadily (a block moves one pixel every
20 ms, and each edit's number and time go to a log). The parent kills it with SIGKILL at a
random moment, reads the recovery file the window left, finds the last edit it holds and
reports how many seconds of edits came after it. The last line is the headline figure: the
worst loss over the trials (target: at most 1 s).

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python benchmarks/edit_loss.py [TRIALS]
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "resources" / "examples" / "mlp_classifier.studio.json"
EDIT_MS = 20


def child(log_path: str) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    import studio.compiler  # noqa: F401
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(load_project(EXAMPLE))
    window.ensure_compiler()
    block = window.doc.graph.block_by_name("fc1").id
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    count = [0]

    def edit() -> None:
        count[0] += 1
        window.editor.move_blocks({block: (float(count[0]), 0.0)}, snap_to_grid=False)
        os.write(log, f"{count[0]} {time.time():.6f}\n".encode())

    timer = QTimer()
    timer.timeout.connect(edit)
    timer.start(EDIT_MS)
    app.exec()


def trial(seconds: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "edits.log"
        env = {**os.environ, "STUDIO_CONFIG_DIR": str(Path(tmp) / "config"), "QT_QPA_PLATFORM": "offscreen"}
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(log)], env=env)
        while not log.exists() or log.stat().st_size == 0:
            time.sleep(0.05)
        time.sleep(seconds)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        edits = {}
        for line in log.read_text().splitlines():
            n, t = line.split()
            edits[int(n)] = float(t)
        last = max(edits)
        files = list((Path(tmp) / "config" / "recovery").glob("*.json"))
        if not files:
            return edits[last] - edits[min(edits)]  # nothing saved: everything was lost
        doc = json.loads(files[0].read_text())
        blocks = {b["name"]: b for b in doc["project"]["graph"]["blocks"]}
        saved = int(round(blocks["fc1"]["position"][0]))
        return edits[last] - edits.get(saved, edits[min(edits)])


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    rng = random.Random(1)
    losses = [trial(rng.uniform(1.0, 4.0)) for _ in range(trials)]
    for i, loss in enumerate(losses):
        print(f"trial {i + 1}: {loss:.3f} s of edits lost")
    print(f"worst-case edit loss after kill -9: {max(losses):.3f} s over {trials} trials")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        main()
