"""The augmentation pipeline: one builder for Studio's trainer and train.py (runtime).

A pipeline comes as plain steps, `[{"name": "RandomHorizontalFlip", "arguments": {"p": 0.5}}, ...]`
(Studio makes them from the declared transforms; train.py holds them in SETTINGS), one list
for training and one for validation (its deterministic part). `image_pipeline` builds a
torchvision.transforms.v2 Compose that takes uint8 images (channels x height x width) and ends
in float32: ToDtype with scaling to [0, 1], then the pipeline's Normalize or the dataset's own
scaling to [-1, 1]. `table_pipeline` builds the table row transforms below.

Images are decoded and resized once (`pixels_in_memory`, kept as uint8: a quarter of the float
memory) when they fit the memory budget, else read from their files per batch (`ImagePixels`);
`Augmented` applies the pipeline to each sample as a batch is gathered, so every epoch sees new
random draws from torch's generator (seeded like the rest of the run).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset


class FeatureNoise(torch.nn.Module):
    """Gaussian noise of standard deviation `std` added to every feature."""

    def __init__(self, std=0.1):
        super().__init__()
        self.std = std

    def forward(self, x):
        return x + torch.randn_like(x) * self.std


class FeatureDropout(torch.nn.Module):
    """Each feature set to 0 with probability `p` (not rescaled: a missing value reads as the mean
    of a standardised feature)."""

    def __init__(self, p=0.1):
        super().__init__()
        self.p = p

    def forward(self, x):
        return x * (torch.rand_like(x) >= self.p)


def table_pipeline(steps):
    """The table transforms `steps` name, applied in order to a row (or a batch of rows)."""
    made = [
        {"FeatureNoise": FeatureNoise, "FeatureDropout": FeatureDropout}[s["name"]](
            **s["arguments"]
        )
        for s in steps
    ]
    return torch.nn.Sequential(*made)


def image_pipeline(steps, normalize=None):
    """A v2.Compose of `steps` on uint8 images, then floats: the pipeline's own Normalize step
    when it has one, else the dataset's `normalize` = (mean, std), else [0, 1]."""
    from torchvision.transforms import v2

    made = [getattr(v2, s["name"])(**s["arguments"]) for s in steps if s["name"] != "Normalize"]
    made.append(v2.ToDtype(torch.float32, scale=True))
    own = [s for s in steps if s["name"] == "Normalize"]
    if own:
        made.append(v2.Normalize(**own[-1]["arguments"]))
    elif normalize:
        made.append(v2.Normalize(*normalize))
    return v2.Compose(made)


def decode_size(steps, size):
    """The size images are decoded at: a first Resize step's, else the size the model reads."""
    if steps and steps[0]["name"] == "Resize":
        return [int(s) for s in steps[0]["arguments"]["size"]]
    return list(size)


class Augmented(Dataset):
    """`base`'s samples with `transform` applied to each input as it is read."""

    def __init__(self, base, transform):
        self.base, self.transform = base, transform

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return self.transform(x), y

    def __getitems__(self, indices):
        return [self[i] for i in indices]


class ImagePixels(Dataset):
    """The images of a folder as uint8 tensors, each read from its file when a batch needs it
    by `read(path, size, channels)` (the reader's own decoding, `read_pixels`)."""

    def __init__(self, samples, size, channels, read):
        self.samples, self.size, self.channels, self.read = samples, size, channels, read

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, target = self.samples[i]
        return torch.from_numpy(np.array(self.read(path, self.size, self.channels))), target


def pixels_in_memory(files):
    """`ImagePixels` decoded once into one uint8 TensorDataset (threads decode; PIL lets go of
    the GIL while it decodes and resizes)."""
    from concurrent.futures import ThreadPoolExecutor

    samples = files.samples
    pixels = np.empty((len(samples), files.channels, *files.size), dtype=np.uint8)

    def decode(i):
        pixels[i] = files.read(samples[i][0], files.size, files.channels)

    with ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
        list(pool.map(decode, range(len(pixels))))
    return TensorDataset(
        torch.from_numpy(pixels), torch.as_tensor([t for _, t in samples], dtype=torch.long)
    )


def augmented_views(base, pipeline, normalize=None):
    """(training view, validation view) of uint8 images: the training steps and the deterministic ones."""
    return (
        Augmented(base, image_pipeline(pipeline["train"], normalize)),
        Augmented(base, image_pipeline(pipeline["val"], normalize)),
    )


def augmented_rows(data, steps):
    """A table's rows (a TensorDataset of features) with the table transforms applied as read."""
    if data is None or not steps:
        return data
    return Augmented(data, table_pipeline(steps))
