"""Studio's CSV load against pandas with the pyarrow engine, in the same run.

Writes a ROWS x 20-column CSV (19 float columns and a text label) to a temporary folder, then
loads it in fresh child processes, alternating Studio (``load_dataset``: the path training
takes, ending in a float32 feature tensor and class indices) and the reference
(``pandas.read_csv(engine="pyarrow")`` turned into the same tensors), best of ``--repeat``.
``peak_mb`` (MiB) is the most memory Studio's child held above what it held after its imports; the
float32 data alone is ROWS x 19 x 4 bytes. Needs pandas and pyarrow (``pip install pandas pyarrow``).

Last line: ``rows=<int> studio_s=<float> reference_s=<float> ratio=<float> peak_mb=<float>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 19


def write_csv(path: Path, rows: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    rng = np.random.default_rng(0)
    columns = {f"f{i}": rng.standard_normal(rows).astype(np.float32) for i in range(FEATURES)}
    columns["label"] = np.array(["cat", "dog", "bird", "fish"])[rng.integers(0, 4, rows)]
    with open(path, "wb") as f:
        f.write((",".join(columns) + "\n").encode())
        pacsv.write_csv(pa.table(columns), f, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(which: str, path: str) -> None:
    """One load in this fresh process; prints ``seconds peak_mb_above_imports``."""
    import numpy as np
    import torch

    if which == "studio":
        from studio.training.datasets import load_dataset

        base = _rss_mb()
        start = time.perf_counter()
        ds, _ = load_dataset({"kind": "csv", "path": path, "target": "label"}, "classification", Path("."))
        x, y = ds.tensors
    else:
        import pandas as pd
        import pyarrow  # noqa: F401

        base = _rss_mb()
        start = time.perf_counter()
        df = pd.read_csv(path, engine="pyarrow")
        x = torch.from_numpy(df.iloc[:, :FEATURES].to_numpy(np.float32))
        y = torch.from_numpy(df["label"].astype("category").cat.codes.to_numpy().astype(np.int64))
    seconds = time.perf_counter() - start
    assert x.shape[1] == FEATURES and len(y) == len(x)
    print(f"{seconds:.4f} {_rss_mb() - base:.1f}")


def measure(which: str, path: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path)], cwd=ROOT,
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode:
        raise SystemExit(f"{which} load failed:\n{out.stderr}")
    seconds, peak = out.stdout.split()
    return float(seconds), float(peak)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        write_csv(path, args.rows)
        print(f"file: {path.stat().st_size / 2**20:.0f} MiB, float32 data {args.rows * FEATURES * 4 / 2**20:.1f} MiB")
        studio, reference = [], []
        for _ in range(args.repeat):
            studio.append(measure("studio", path))
            reference.append(measure("reference", path))
            print(f"run: studio {studio[-1][0]:.2f} s ({studio[-1][1]:.0f} MB), pandas+pyarrow {reference[-1][0]:.2f} s")
    s, r = min(t for t, _ in studio), min(t for t, _ in reference)
    peak = max(p for _, p in studio)
    print(f"rows={args.rows} studio_s={s:.3f} reference_s={r:.3f} ratio={s / r:.2f} peak_mb={peak:.1f}")


if __name__ == "__main__":
    main()
