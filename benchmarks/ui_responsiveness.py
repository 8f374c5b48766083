"""Is the window responsive while it trains at full speed?

Trains the example MLP (spirals, batch 64: many tiny steps, the worst case for the GIL) from the
window for a few seconds (the window trains in a child process: studio.training.remote). Meanwhile a 5 ms QTimer on the GUI thread records how late it fires,
and the plot timer counts redraws with new data. Then the same settings train headless (Trainer,
no GUI) for the same number of epochs, to compare samples per second.

Last line: max_stall_ms=<float> p99_ms=<float> plot_hz=<float> train_ratio=<float>
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_CONFIG_DIR", tempfile.mkdtemp(prefix="studio-bench-"))
EXAMPLE = ROOT / "resources" / "examples" / "mlp_classifier.studio.json"


def settings_dict(epochs: int) -> dict:
    return {"data": {"kind": "spirals", "n": 20000, "noise": 0.2, "classes": 2}, "epochs": epochs,
            "batch_size": 64, "optimizer": {"name": "adam", "lr": 0.01}, "seed": 0, "device": "cpu"}


def train_headless(epochs: int) -> float:
    """samples/s of the same run without the GUI (mean of the epochs' training throughput)."""
    from studio.graph.project import load_project
    from studio.training import Trainer, TrainingSettings
    from studio.training.prepare import prepare_run

    project = load_project(EXAMPLE)
    settings = TrainingSettings.from_dict(settings_dict(epochs))
    model, data, expected = prepare_run(project, settings)
    result = Trainer(model, data, settings, expected_input_shape=expected).fit()
    return samples_per_s(result.history)


def samples_per_s(history: list[dict]) -> float:
    rates = sorted(h["samples_per_s"] for h in history)
    return rates[len(rates) // 2]  # median epoch: robust to one slow epoch on a shared machine


def train_in_window(epochs: int) -> tuple[list[float], float, float, float, float]:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import studio.compiler  # noqa: F401
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow

    w = MainWindow(load_project(EXAMPLE))
    w.resize(1400, 900)
    w.show()
    w.ensure_compiler()
    t = w.training
    w.doc.project.training = settings_dict(epochs)
    t.panel.form.load(w.doc.project.training)
    for _ in range(20):
        app.processEvents()

    late: list[float] = []
    expected = [0.0]

    def tick():
        now = time.perf_counter()
        if expected[0]:
            late.append(max(0.0, (now - expected[0]) * 1000))
        expected[0] = now + 0.005

    probe = QTimer()
    probe.setTimerType(probe.timerType().PreciseTimer)
    probe.setInterval(5)
    probe.timeout.connect(tick)
    loop = QEventLoop()
    start = [0, 0.0, 0.0]

    def begin(info):  # measure the training, not the preparation
        start[:] = [t.panel.plots.frames, time.perf_counter(), time.thread_time()]
        probe.start()

    t.train()
    t.worker.signals.started.connect(begin)
    t.worker.done.connect(lambda *_: QTimer.singleShot(0, loop.quit))
    loop.exec()
    elapsed = time.perf_counter() - start[1]
    gui_cpu = (time.thread_time() - start[2]) / elapsed
    probe.stop()
    frames0 = start[0]
    hz = (t.panel.plots.frames - frames0) / elapsed
    rate = samples_per_s(t.store.runs()[-1].history())
    w.close()
    from studio.training.remote import discard_spare

    discard_spare()  # the spare loading torch would slow the next headless run
    return late, hz, rate, elapsed, gui_cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2, help="alternate headless and window runs; best rate of each")
    args = ap.parse_args()
    headless, gui_rate, late, hzs = 0.0, 0.0, [], []
    for _ in range(args.rounds):  # alternating, so a noisy neighbour hurts both sides alike
        headless = max(headless, train_headless(args.epochs))
        ticks, hz, rate, elapsed, gui_cpu = train_in_window(args.epochs)
        gui_rate = max(gui_rate, rate)
        late += ticks  # stalls: every tick of every round counts
        hzs.append(hz)
    hz = sum(hzs) / len(hzs)
    late.sort()
    p99 = late[min(len(late) - 1, int(len(late) * 0.99))] if late else 0.0
    print(f"{args.rounds} rounds of {args.epochs} epochs (last window run {elapsed:.1f}s); {len(late)} timer ticks; "
          f"GUI thread CPU {gui_cpu:.0%}; GUI {gui_rate:,.0f} samples/s, headless {headless:,.0f} samples/s; switchinterval {sys.getswitchinterval()*1000:.1f} ms")
    print(f"max_stall_ms={max(late, default=0.0):.1f} p99_ms={p99:.1f} plot_hz={hz:.1f} "
          f"train_ratio={gui_rate / headless:.3f}")


if __name__ == "__main__":
    main()
