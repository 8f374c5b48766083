"""Studio's data loading against the libraries made for it, in the same run.

CSV:
Writes a ROWS x 20-column CSV (19 float columns and a text label) to a temporary folder, then
loads it in fresh child processes, Studio (the runtime's ``read_csv_data``: the path training
takes, ending in a float32 feature tensor and class indices) and the reference
(``pandas.read_csv(engine="pyarrow")`` turned into the same tensors) in ``--repeat`` pairs (5),
interleaved, each pair in the other order than the last, so a busy moment hits both alike.
``studio_s`` and ``reference_s`` are the medians, ``ratio`` the median of the pairs' ratios
(Studio / reference; ``ratio_max`` the worst pair). Each child imports its libraries before its
clock starts: pandas and pyarrow (with ``pyarrow.csv``) for the reference, Studio's runtime and
pyarrow (with ``pyarrow.csv``, which Studio's reader imports on its first large file) for Studio;
``import_s`` is the median time that pyarrow import took in Studio's child, to add where a
first read in a fresh process is the question.
``peak_mb`` (MiB) is the most memory Studio's child held above what it held after its imports; the
float32 data alone is ROWS x 19 x 4 bytes. Needs pandas and pyarrow (``pip install pandas pyarrow``).

Streaming: the same file read with a memory budget of ``--budget-mb`` (16 MiB), so it is
converted chunk by chunk into the float32 cache files a dataset reads rows from (into a fresh
cache folder each time; a table under 64 MiB gets a quarter of its size as the budget);
``streamed_s`` is that conversion, ``streamed_peak_mb`` the most memory
its child held above its imports while converting.

Image folders: ``--images N`` small JPEGs (64 x 64, 4 classes) and a 3-epoch run of a small
CNN over them, resized to 32 x 32, batch 64, from the folder on disk to the last step (reading
the folder included): Studio's path (the runtime's ``read_image_folder``, which decodes a set
that fits the memory budget once into tensors, and the trainer's ``make_batches``) against a
plain torchvision ``ImageFolder`` + ``DataLoader`` loop with the same transforms and the
machine's cores as workers (at most 4, persistent), alternating, best of 2. The CNN's steps
take the CPU threads a Studio run takes (``choose_threads``), on both sides.
``images_ratio`` is plain time / Studio time (above 1: Studio is faster);
``images_first_ratio`` the same for the first epoch alone (reading the folder included).

Last line: ``rows=<int> studio_s=<float> reference_s=<float> ratio=<float> peak_mb=<float>
images_ratio=<float> images_first_ratio=<float> streamed_s=<float> streamed_peak_mb=<float>
reference_peak_mb=<float> peak_ratio=<float> ratio_max=<float> import_s=<float>``
(``reference_peak_mb``: the same for the reference's child, above its imports; ``peak_ratio``:
Studio's peak over it).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
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
    """One load in this fresh process; prints ``seconds peak_mb_above_imports import_seconds``."""
    import numpy as np
    import torch

    imported = 0.0
    if which == "studio":
        from studio.training.runtime.data import read_csv_data

        start = time.perf_counter()
        import pyarrow.csv  # noqa: F401  (as the reference's child: libraries before the clock)

        imported = time.perf_counter() - start
        base = _rss_mb()
        start = time.perf_counter()
        ds, _ = read_csv_data({"path": path, "target": "label", "classification": True})
        x, y = ds.tensors
    elif which.startswith("streamed:"):
        from studio.training.runtime.data import TableRows, read_csv_data

        _, budget, cache = which.split(":", 2)
        base = _rss_mb()
        start = time.perf_counter()
        ds, _ = read_csv_data({"path": path, "target": "label", "classification": True,
                               "memory_budget": int(budget), "cache_dir": cache})
        assert isinstance(ds, TableRows)
        x, y = ds.rows([0, len(ds) - 1])  # the first and last rows, read back from the files
    else:
        import pandas as pd
        import pyarrow.csv  # noqa: F401

        base = _rss_mb()
        start = time.perf_counter()
        df = pd.read_csv(path, engine="pyarrow")
        x = torch.from_numpy(df.iloc[:, :FEATURES].to_numpy(np.float32))
        y = torch.from_numpy(df["label"].astype("category").cat.codes.to_numpy().astype(np.int64))
    seconds = time.perf_counter() - start
    assert x.shape[1] == FEATURES and len(y) == len(x)
    print(f"{seconds:.4f} {_rss_mb() - base:.1f} {imported:.4f}")


def measure(which: str, path: Path) -> tuple[float, float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(path)], cwd=ROOT,
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if out.returncode:
        raise SystemExit(f"{which} load failed:\n{out.stderr}")
    seconds, peak, imported = out.stdout.split()
    return float(seconds), float(peak), float(imported)


def write_images(root: Path, count: int) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        folder = root / f"class{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i}.jpg", quality=90)


def cnn_epochs(make_batches_of_epoch, epochs: int) -> list[float]:
    """Seconds from now to the end of each epoch of a small CNN (4 classes, SGD) trained on the
    batches of ``make_batches_of_epoch()`` (a function epoch -> batches; making it counts)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    start, ends = time.perf_counter(), []
    epoch_batches = make_batches_of_epoch()
    for e in range(epochs):
        for x, y in epoch_batches(e):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        ends.append(time.perf_counter() - start)
    return ends


def image_runs(root: Path, workers: int, epochs: int = 3) -> tuple[list[float], list[float]]:
    """Seconds from the folder to the end of each epoch (data and a small CNN's steps): Studio's
    path, then the plain loop."""
    import torch
    from torchvision import datasets, transforms

    from studio.training.batches import make_batches
    from studio.training.runtime.data import read_image_folder
    from studio.training.runtime.threads import choose_threads

    # the CNN's steps take the threads a Studio run takes, on both sides: with torch's default
    # two on a loaded machine its steps set the figure (images_ratio 1.25 with two busy
    # processes, against 3.44 the session before; augment_loading.py had the same flaw)
    print(choose_threads("cpu")[1], flush=True)

    def studio():
        ds, _ = read_image_folder({"path": str(root), "size": [32, 32], "channels": 3})
        batches = make_batches(ds, 64, True, torch.device("cpu"), workers, 0)
        return lambda e: batches.epoch(torch.Generator().manual_seed(e))

    def plain():
        tf = transforms.Compose([
            transforms.Lambda(lambda im: im.convert("RGB")), transforms.Resize((32, 32)),
            transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3),
        ])
        loader = torch.utils.data.DataLoader(
            datasets.ImageFolder(str(root), transform=tf), batch_size=64, shuffle=True,
            num_workers=workers, persistent_workers=workers > 0,
        )
        return lambda e: loader

    times = [(cnn_epochs(studio, epochs), cnn_epochs(plain, epochs)) for _ in range(2)]  # alternating: a busy moment hits both alike
    best = [min(t[i] for t in times) for i in range(2)]
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved pairs of CSV reads")
    parser.add_argument("--images", type=int, default=2000, help="JPEGs for the image-folder run (0: skip)")
    parser.add_argument("--budget-mb", type=float, default=None,
                        help="memory budget of the streamed CSV read (default 16, or a quarter of a smaller table)")
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(*args.child)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "table.csv"
        write_csv(path, args.rows)
        print(f"file: {path.stat().st_size / 2**20:.0f} MiB, float32 data {args.rows * FEATURES * 4 / 2**20:.1f} MiB")
        studio, reference = [], []
        for i in range(args.repeat):
            for which in ("studio", "reference") if i % 2 == 0 else ("reference", "studio"):
                (studio if which == "studio" else reference).append(measure(which, path))
            print(f"run: studio {studio[-1][0]:.2f} s ({studio[-1][1]:.0f} MB), "
                  f"pandas+pyarrow {reference[-1][0]:.2f} s ({reference[-1][1]:.0f} MB), "
                  f"ratio {studio[-1][0] / reference[-1][0]:.2f}")
        streamed = []
        for i in range(min(args.repeat, 2)):
            budget = int(args.budget_mb * 2**20) if args.budget_mb else min(16 << 20, args.rows * FEATURES)
            streamed.append(measure(f"streamed:{budget}:{Path(tmp) / f'cache{i}'}", path))
            print(f"streamed: {streamed[-1][0]:.2f} s, {streamed[-1][1]:.0f} MB (budget {budget / 2**20:.3g} MiB)")
        images = ""
        if args.images:
            write_images(Path(tmp) / "images", args.images)
            workers = min(4, os.cpu_count() or 1)
            si, pi = image_runs(Path(tmp) / "images", workers)
            print(f"images: {args.images} JPEGs, {workers} workers, seconds from the folder to the end of each epoch: "
                  f"studio {', '.join(f'{t:.2f}' for t in si)}; plain ImageFolder+DataLoader {', '.join(f'{t:.2f}' for t in pi)}")
            images = f" images_ratio={pi[-1] / si[-1]:.2f} images_first_ratio={pi[0] / si[0]:.2f}"
    ratios = [a[0] / b[0] for a, b in zip(studio, reference)]
    s, r = statistics.median(t for t, *_ in studio), statistics.median(t for t, *_ in reference)
    peak = max(p for _, p, _ in studio)
    ss, sp = min(t for t, *_ in streamed), max(p for _, p, _ in streamed)
    rp = max(p for _, p, _ in reference)
    imported = statistics.median(i for *_, i in studio)
    ratio = statistics.median(ratios)
    print(f"rows={args.rows} studio_s={s:.3f} reference_s={r:.3f} ratio={ratio:.2f} "
          f"peak_mb={peak:.1f}{images} streamed_s={ss:.3f} streamed_peak_mb={sp:.1f} "
          f"reference_peak_mb={rp:.1f} peak_ratio={peak / rp:.2f} ratio_max={max(ratios):.2f} "
          f"import_s={imported:.3f}")


if __name__ == "__main__":
    main()
