"""Augmented epochs: Studio's pipeline against a plain ImageFolder + DataLoader, same v2 transforms.

Writes --images JPEGs (64 x 64, 4 classes, as `data_loading.py` does) and trains a small CNN on
them for --epochs epochs, batch 64, images at 32 x 32, augmented with RandomResizedCrop(32,
scale 0.5-1), RandomHorizontalFlip, ColorJitter(0.2, 0.2, 0.2) and Normalize(0.5, 0.5):

- Studio: the project settings' `augment` list through the trainer's path
  (`datasets.load_data` -> the runtime's `read_image_folder` -> `runtime.augment`, then
  `batches.make_batches`): the files are decoded and resized to 32 x 32 once, kept as uint8,
  and each epoch runs the v2 pipeline on them;
- plain: `torchvision.datasets.ImageFolder` with v2.Compose([ToImage, Resize(32), the same
  random steps, ToDtype, Normalize]) and a `DataLoader` (shuffled, the same workers, persistent).

Both count from the folder on disk to the end of each epoch (reading the folder included),
alternating, best of --repeat. The small CNN's steps take the CPU threads a Studio run takes
(`choose_threads`: the cores other work leaves idle), on both sides: with torch's default two
threads on a loaded machine its OpenMP steps took 0.2-0.5 s each and set the result
(`augmented_ratio=0.77` at load 7; 1.49 with one thread a minute later). ``augmented_ratio``
is plain time / Studio time over all epochs (above 1: Studio is faster);
``augmented_first_ratio`` the same for the first epoch alone.

Last line: ``images=<int> epochs=<int> workers=<int> augmented_first_ratio=<float> augmented_ratio=<float>``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from data_loading import cnn_epochs, write_images  # noqa: E402


def runs(root: Path, workers: int, epochs: int) -> tuple[list[float], list[float]]:
    import torch
    from torchvision import datasets
    from torchvision.transforms import v2

    from studio.training.batches import make_batches
    from studio.training.datasets import load_data
    from studio.training.runtime.threads import choose_threads
    from studio.training.settings import TrainingSettings
    from studio.training.transforms import step

    print(choose_threads("cpu")[1])  # as a Studio run on this machine now, for both sides
    pipeline = [
        step("random_resized_crop", min_scale=0.5),
        step("horizontal_flip"),
        step("color_jitter", brightness=0.2, contrast=0.2, saturation=0.2),
    ]

    def studio():
        settings = TrainingSettings.from_dict(
            {
                "data": {"kind": "image_folder", "path": str(root), "size": [32, 32]},
                "augment": pipeline,
                "val_split": 0.0,
            }
        )
        data = load_data(settings)
        batches = make_batches(data.train, 64, True, torch.device("cpu"), workers, 0)
        return lambda e: batches.epoch(torch.Generator().manual_seed(e))

    def plain():
        tf = v2.Compose(
            [
                v2.ToImage(),
                v2.Resize((32, 32)),
                v2.RandomResizedCrop(32, scale=(0.5, 1.0)),
                v2.RandomHorizontalFlip(),
                v2.ColorJitter(0.2, 0.2, 0.2),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize([0.5] * 3, [0.5] * 3),
            ]
        )
        loader = torch.utils.data.DataLoader(
            datasets.ImageFolder(str(root), transform=tf),
            batch_size=64,
            shuffle=True,
            num_workers=workers,
            persistent_workers=workers > 0,
        )
        return lambda e: loader

    times = [(cnn_epochs(studio, epochs), cnn_epochs(plain, epochs)) for _ in range(2)]
    return [min(t[0][i] for t in times) for i in range(epochs)], [
        min(t[1][i] for t in times) for i in range(epochs)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="default: min(4, CPUs)")
    args = parser.parse_args()
    workers = min(4, os.cpu_count() or 1) if args.workers is None else args.workers
    with tempfile.TemporaryDirectory() as tmp:
        write_images(Path(tmp) / "images", args.images)
        studio, plain = runs(Path(tmp) / "images", workers, args.epochs)
    print(
        f"seconds to the end of each epoch: studio {', '.join(f'{t:.2f}' for t in studio)}; "
        f"plain ImageFolder+DataLoader {', '.join(f'{t:.2f}' for t in plain)}"
    )
    print(
        f"images={args.images} epochs={args.epochs} workers={workers} "
        f"augmented_first_ratio={plain[0] / studio[0]:.2f} augmented_ratio={plain[-1] / studio[-1]:.2f}"
    )


if __name__ == "__main__":
    main()
