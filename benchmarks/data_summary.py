"""Time to a first view of the data: `studio.training.data_summary.summarize` on generated data.

Writes a ROWS-row CSV (10 float features and a 5-class label, one cell in 50,000 left empty)
and a folder of IMAGES small JPEGs (16 x 16, 10 unbalanced classes) into a temporary folder
(or --keep DIR, reused when already there), then times `summarize` on each in this process,
after one warm-up on tiny data so the imports (torch, PIL) are not counted: the Data tab and
`studio data` have those loaded already. Best of --repeat.

Last line: ``csv_rows=<int> csv_first_view_s=<float> images=<int> images_first_view_s=<float>``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(0)
    with open(path, "w") as f:
        f.write(",".join(f"f{j}" for j in range(10)) + ",label\n")
        for i in range(rows):
            cells = [f"{rng.random():.4f}" for _ in range(10)]
            if i % 50_000 == 7:
                cells[3] = ""
            f.write(",".join(cells) + f",c{rng.randrange(5)}\n")


def write_images(root: Path, n: int) -> None:
    from PIL import Image

    weights = [2 ** (k % 5) for k in range(10)]
    total = sum(weights)
    i = 0
    for k, w in enumerate(weights):
        folder = root / f"class{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for j in range(n * w // total if k else n - sum(n * v // total for v in weights[1:])):
            Image.new("RGB", (16, 16), ((i * 7) % 256, (k * 25) % 256, j % 256)).save(
                folder / f"{j}.jpg"
            )
            i += 1


def timed(settings: dict, base: Path, repeat: int) -> tuple[float, object]:
    from studio.training.data_summary import summarize

    best, summary = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        summary = summarize(settings, base)
        best = min(best, time.perf_counter() - t)
    if summary.problem:
        raise SystemExit(summary.problem)
    return best, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--images", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--keep", type=Path, default=None, help="folder for the generated data (kept)"
    )
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="studio-summary-"))
    root.mkdir(parents=True, exist_ok=True)
    table, folder = root / f"table{args.rows}.csv", root / f"images{args.images}"
    if not table.exists():
        write_csv(table, args.rows)
    if not folder.exists():
        write_images(folder, args.images)
    tiny = root / "tiny.csv"
    write_csv(tiny, 50)
    timed({"data": {"kind": "csv", "path": str(tiny)}}, root, 1)  # imports, once
    csv_s, s = timed(
        {"data": {"kind": "csv", "path": str(table), "target": "label"}}, root, args.repeat
    )
    print("\n".join(s.lines()[:12]))
    img_s, s = timed({"data": {"kind": "image_folder", "path": str(folder)}}, root, args.repeat)
    print("\n".join(s.lines()[:16]))
    print(
        f"csv_rows={args.rows} csv_first_view_s={csv_s:.3f} images={args.images} images_first_view_s={img_s:.3f}"
    )


if __name__ == "__main__":
    main()
