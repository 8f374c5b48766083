"""Does a run of a million steps plot as smoothly as one of a thousand?

Builds the training plots offscreen, fills the step curve with `total - 50 * 20` steps, then
times 50 live frames that each add 20 steps and redraw and repaint the step plot (what the 35 ms
timer does while a run goes). Median frame time at 1,000 and at 1,000,000 steps, and their ratio.

Last line: frame_ms_1k=<float> frame_ms_1m=<float> ratio=<float>
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

FRAMES, CHUNK = 50, 20


def frame_ms(app, total: int) -> float:
    import numpy as np

    from studio.ui.training.plots import TrainingPlots

    rng = np.random.default_rng(0)
    p = TrainingPlots()
    p.timer.stop()
    p.resize(1000, 500)
    p.show()
    for _ in range(5):
        app.processEvents()
    p.expect(total, 10)

    def losses(xs):
        return np.exp(-xs / total) + 0.1 * rng.random(len(xs))

    pre = total - FRAMES * CHUNK
    if pre:
        xs = np.arange(1, pre + 1, dtype=float)
        p.add_steps(xs, losses(xs))
    p.redraw(everything=True)
    p.widgets[0].repaint()
    times, s = [], pre
    for _ in range(FRAMES):
        xs = np.arange(s + 1, s + CHUNK + 1, dtype=float)
        s += CHUNK
        t = time.perf_counter()
        p.add_steps(xs, losses(xs))
        p.redraw()
        p.widgets[0].repaint()
        times.append(time.perf_counter() - t)
    p.close()
    times.sort()
    return times[len(times) // 2] * 1000


def main() -> None:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    small = min(frame_ms(app, 1_000) for _ in range(3))
    large = min(frame_ms(app, 1_000_000) for _ in range(3))
    print(f"median frame (add 20 steps, redraw, repaint the step plot): {small:.2f} ms at 1k steps, "
          f"{large:.2f} ms at 1M steps")
    print(f"frame_ms_1k={small:.2f} frame_ms_1m={large:.2f} ratio={large / small:.2f}")


if __name__ == "__main__":
    main()
