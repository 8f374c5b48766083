"""Standardisation belongs to the model: the check that says so, and its one-click fix.

A CSV is standardised by default as it is read, so a model trained on it needs standardised rows
for ever after, and the exported class with its weights.pt scored 0.37 on raw rows against 0.97.
The fix moves the standardisation into the model: a Standardize block after the Input, holding the
training rows' mean and std (computed as the run computes them: over the training split), and the
data option off, so the same numbers reach the layers and `model(raw_rows)` works anywhere.

No Qt; torch only when the fix is applied (it reads the data to compute the statistics).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from studio.blocks.registry import ROLE_INPUT
from studio.graph.commands import Command, Macro
from studio.graph.model import Graph
from studio.graph.validation import WARNING
from studio.training.fixes import FitProblem, SettingsFix, insert_after

STANDARDIZE = "standardize"  # the block type (studio.blocks.catalogue.preprocess)
OPTION = "standardize"  # the dataset kinds' option that standardises as the data is read


def _standardised(training: dict) -> bool:
    from studio.training.kinds import get_dataset

    spec = training.get("data") if isinstance(training, dict) else None
    try:
        kind = get_dataset(spec.get("kind")) if isinstance(spec, dict) else None
    except KeyError:
        return False
    return kind is not None and OPTION in kind.options and bool(kind.values(spec).get(OPTION))


def without_loader_standardising(training: dict) -> dict:
    new = copy.deepcopy(training)
    for key in ("data", "val_data"):
        if isinstance(new.get(key), dict):
            new[key][OPTION] = False
    return new


def statistics(training: dict, base_dir: str | Path | None) -> tuple[list[float], list[float]]:
    """The training split's per-feature mean and std, exactly as a run standardises."""
    from studio.training.datasets import load_data
    from studio.training.settings import TrainingSettings

    data = load_data(TrainingSettings.from_dict(training), base_dir=base_dir)
    norm = data.normalization
    if not norm:
        raise ValueError("the data gave no statistics to standardise with")
    return [float(v) for v in norm["mean"]], [float(v) for v in norm["std"]]


def standardize_problems(
    graph: Graph, training: Any, base_dir: str | Path | None
) -> list[FitProblem]:
    """A warning, with its fix, when the data is standardised as it is read and the model has
    no Standardize block of its own."""
    if not isinstance(training, dict) or not _standardised(training):
        return []
    if any(b.type == STANDARDIZE for b in graph.blocks.values()):
        return []
    inputs = [b for b in graph.blocks.values() if b.spec.role == ROLE_INPUT]
    if len(inputs) != 1:
        return []
    input_id = inputs[0].id
    snapshot = copy.deepcopy(training)

    def make(g: Graph) -> Command:
        mean, std = statistics(snapshot, base_dir)
        return Macro(
            "Standardise inside the model",
            insert_after(g, input_id, STANDARDIZE, {"mean": mean, "std": std}),
        )

    return [
        FitProblem(
            "The rows are standardised as they are read, so the trained model (and the exported class "
            "with its weights) would need standardised rows too. Standardise inside the model instead: "
            "its mean and std are then saved with the weights and it takes raw rows.",
            block_id=input_id,
            severity=WARNING,
            fix=SettingsFix(
                "Standardise inside the model", make, training=without_loader_standardising
            ),
        )
    ]
