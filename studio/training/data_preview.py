"""Pictures of the data for the Data tab: sample images before and after the transforms, and the
augmentation drawn several times on the same samples (no Qt; numbers in, uint8 pixels out).

"Before" is the file as it is; "after" is what validation feeds the model (decoded at the
model's size, the deterministic steps); the augmented draws run the training pipeline built by
the runtime's own `image_pipeline` from the same plan training uses, so the preview shows what
training sees. Pixels are shown without the final normalisation (the image as [0, 1] colours).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.training.data_summary import DataSummary
from studio.training.settings import TrainingSettings


@dataclass
class ImagePreview:
    labels: list[str] = field(default_factory=list)
    splits: list[str] = field(default_factory=list)
    before: list[np.ndarray] = field(default_factory=list)  # height x width x 3, uint8
    after: list[np.ndarray] = field(default_factory=list)
    draws: list[list[np.ndarray]] = field(default_factory=list)  # per sample: the augmented draws


def _shown(x) -> np.ndarray:
    """A float image tensor (channels x height x width, [0, 1]) as height x width x 3 uint8."""
    a = (x.clamp(0, 1) * 255).round().byte().numpy().transpose(1, 2, 0)
    return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else np.ascontiguousarray(a)


def image_preview(
    settings: TrainingSettings,
    summary: DataSummary,
    base_dir=None,
    count: int = 16,
    draws: int = 4,
    seed: int = 0,
) -> ImagePreview:
    """`count` of the summary's samples, before and after the transforms, and `draws` augmented
    versions of each (torch's generator seeded with `seed`: a new seed re-draws)."""
    import torch
    from PIL import Image

    from studio.training.plan import data_plan
    from studio.training.runtime.augment import decode_size, image_pipeline
    from studio.training.runtime.data import read_image, read_pixels

    out = ImagePreview()
    samples = summary.samples[:count]
    if not samples:
        return out
    spec = data_plan(settings, base_dir)["data"]
    size, channels = list(summary.sample_shape[1:]), summary.sample_shape[0]
    pipeline = spec.get("augment") or {"train": [], "val": []}
    shown_steps = {k: [s for s in v if s["name"] != "Normalize"] for k, v in pipeline.items()}
    train, val = image_pipeline(shown_steps["train"]), image_pipeline(shown_steps["val"])
    decode = decode_size(pipeline["train"], size)
    generator_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        for s in samples:
            if "pixels" in s:  # held as a tensor: no file, no transforms apply (no draws)
                out.before.append(s["pixels"])
                out.after.append(s["pixels"])
                out.draws.append([])
                out.labels.append(s["label"])
                out.splits.append(s["split"])
                continue
            image = read_image(s["path"])
            image.thumbnail((160, 160), Image.BILINEAR)
            out.before.append(np.asarray(image.convert("RGB")))
            pixels = torch.from_numpy(np.array(read_pixels(s["path"], decode, channels)))
            out.after.append(_shown(val(pixels)))
            out.draws.append([_shown(train(pixels)) for _ in range(draws)])
            out.labels.append(s["label"])
            out.splits.append(s["split"])
    finally:
        torch.set_rng_state(generator_state)
    return out


def load_view(settings_dict: dict, base_dir: str | Path | None, seed: int = 0, count: int = 16):
    """(summary, image preview or None): what the Data tab shows, for a worker thread."""
    from studio.training.data_summary import summarize

    settings = TrainingSettings.from_dict(settings_dict)
    summary = summarize(settings, base_dir)
    preview = None
    if summary.ok and summary.family == "image" and summary.samples:
        try:
            preview = image_preview(settings, summary, base_dir, count=count, seed=seed)
        except Exception as e:  # noqa: BLE001 - a bad image or pipeline: the tab says why, in one line
            summary.problem = (str(e).splitlines() or [type(e).__name__])[0][:300]
    return summary, preview
