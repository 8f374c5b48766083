"""Unbalanced classes: the check's warning and its two one-click fixes.

When the largest class of the training split holds over ``RATIO`` times the samples of the
smallest, a model can score well by ignoring the small classes. The check says so, naming the two
classes and their counts, and offers the two remedies training has (`runtime.balance`): balanced
sampling (the ``balanced`` setting) and, where the loss declares a ``class_weights`` option
(cross-entropy), class-weighted loss. Either one set silences the warning.

The counts are `data_summary`'s (the same split training makes), read only for the kinds whose
summary reads the file lazily (a folder listing, a CSV's head and spread rows, one Parquet column)
and cached per data settings, so a check on every edit reads nothing twice. No Qt, no torch.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from studio.graph.commands import Macro
from studio.graph.validation import WARNING
from studio.training.fixes import FitProblem, SettingsFix, cache_key

RATIO = 5.0  # largest class over smallest beyond which the check warns
COUNTED = ("image_folder", "csv", "parquet")  # kinds whose classes a summary counts lazily
OPTION = "class_weights"  # the loss option that weighs the classes

_cache: dict[tuple, Any] = {}


def _key(training: dict, base_dir) -> tuple | None:
    data = training.get("data")
    if not isinstance(data, dict) or data.get("kind") not in COUNTED:
        return None
    split = {k: training.get(k) for k in ("val_data", "val_split", "seed", "split_seed", "loss")}
    return (*cache_key(data, base_dir), json.dumps(split, sort_keys=True, default=str))


def needs_read(training: Any, base_dir) -> bool:
    """Whether the class counts for these settings are still to be read (`read_counts`)."""
    if not isinstance(training, dict):
        return False
    key = _key(training, base_dir)
    return key is not None and key not in _cache


def read_counts(training: Any, base_dir) -> tuple[list[str], list[int]] | None:
    """(classes, training-split counts), read once per data settings and cached; None when the
    data has no classes or cannot be read (the other checks say why). Off the GUI thread."""
    if not isinstance(training, dict):
        return None
    key = _key(training, base_dir)
    if key is None:
        return None
    if key not in _cache:
        from studio.training.data_summary import summarize

        summary = summarize(training, base_dir)
        value = (summary.classes, summary.train_counts) if summary.ok and summary.classes else None
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = value
    return _cache[key]


def balance_problems(
    training: Any, base_dir: str | Path | None, read: bool = True
) -> list[FitProblem]:
    """A warning with its fixes when the training classes are unbalanced beyond ``RATIO``;
    ``read=False`` uses only counts read before (the window reads them in the background)."""
    from studio.training.settings import TrainingSettings

    if not isinstance(training, dict):
        return []
    settings = TrainingSettings.from_dict(training)
    loss = settings.loss_kind
    if (
        loss is None
        or loss.target != "class"
        or settings.balanced
        or settings.loss.options.get(OPTION)
    ):
        return []
    if not read and needs_read(training, base_dir):
        return []
    counts = read_counts(training, base_dir)
    if not counts:
        return []
    classes, train = counts
    present = [(n, c) for c, n in zip(classes, train, strict=False) if n > 0]
    if len(present) < 2:
        return []
    (most, big), (least, small) = max(present), min(present)
    if most <= RATIO * least:
        return []
    fixes = [SettingsFix("Balanced sampling", _no_graph_change, training=_balanced)]
    text = "balanced sampling"
    if OPTION in loss.options:
        fixes.append(SettingsFix("Class-weighted loss", _no_graph_change, training=_class_weighted))
        text += " (each class drawn about equally often) or class-weighted loss"
    message = (
        f"Training data: the classes are unbalanced: {big!r} has {most:,} training samples, {small!r} "
        f"only {least:,} ({most / least:.1f}x). The model may learn to ignore the small classes; "
        f"use {text}."
    )
    return [FitProblem(message, severity=WARNING, fix=tuple(fixes))]


def _no_graph_change(graph) -> Macro:
    return Macro("", [])


def _balanced(training: dict) -> dict:
    return {**copy.deepcopy(training), "balanced": True}


def _class_weighted(training: dict) -> dict:
    from studio.training.settings import TrainingSettings

    new = copy.deepcopy(training)
    new["loss"] = {**TrainingSettings.from_dict(training).loss.to_dict(), OPTION: True}
    return new
