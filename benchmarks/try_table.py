"""Is Try it's table as quick the second time? A table classifier's 200 validation rows (13
features, wine-like, read standardised) shown in the Try it table, then shown again: what the
second click on "Run on validation samples" does. Median over 7 rounds, offscreen.

Replacing the items of a filled table with fitted columns re-measured them on every setItem:
the second show took 30 s for 16 columns (0.9 s for a text classifier's 4), against 0.03-0.07 s
the first time.

Last line: first_ms=<float> again_ms=<float> ratio=<float>
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROUNDS = 7


def main() -> None:
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from studio.ui.training.try_text import feature_rows
    from studio.ui.training.try_texts_table import TextsTable

    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(200, 13)).astype(np.float32)
    truth, labels, probs = rng.integers(0, 3, 200), rng.integers(0, 3, 200), rng.random(200)
    norm = {"mean": list(rng.normal(size=13) * 100), "std": list(rng.random(13) * 10 + 0.1)}
    columns = [f"feature_{j}" for j in range(13)]
    first, again = [], []
    for _ in range(ROUNDS):
        table = TextsTable()
        table.resize(700, 300)
        table.show()
        app.processEvents()
        for times in (first, again):
            t0 = time.perf_counter()
            titles, rows = feature_rows(xs, truth, labels, probs, ["a", "b", "c"], columns, norm)
            table.show_rows(rows, columns=titles)
            app.processEvents()
            times.append((time.perf_counter() - t0) * 1e3)
        table.close()
    f, a = statistics.median(first), statistics.median(again)
    print(f"200 rows x 16 columns in Try it's table: first show {f:.1f} ms, shown again {a:.1f} ms")
    print(f"first_ms={f:.1f} again_ms={a:.1f} ratio={a / f:.2f}")


if __name__ == "__main__":
    main()
