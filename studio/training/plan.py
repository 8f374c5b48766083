"""A run's settings as plain values: what the runtime functions read, in Studio and in train.py.

`run_plan` turns `TrainingSettings` into one dict of numbers, strings and lists (torch class
names with their keyword arguments, each reader's spec, the schedule's options), built from the
kinds' declarations. Studio's data loading reads it; the script export writes it into train.py
as the literal `SETTINGS = {...}` and names the runtime functions it needs (`runtime_functions`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.training.kinds import get_dataset, get_loss, get_schedule
from studio.training.optim import implementation_options, loss_spec, optimizer_arguments
from studio.training.settings import TrainingSettings


def data_plan(settings: TrainingSettings, base_dir: str | Path | None) -> dict:
    """The data part of the plan: the readers' specs, the split, targets and standardising."""
    loss = get_loss(settings.loss.name)
    target = loss.target
    kind = get_dataset(settings.data.get("kind"))
    val = settings.val_data
    data = kind.runtime_spec(settings.data, target, base_dir)
    val_spec = get_dataset(val.get("kind")).runtime_spec(val, target, base_dir) if val else None
    if val_spec is not None and "vocab" in data and "vocab" in val_spec:
        val_spec["vocab"] = data["vocab"]  # text: a token id means the same in both sets
    rows = augmentation(settings, data, val_spec, base_dir)
    return {
        "data": data,
        "val_data": val_spec,
        **({"augment_rows": rows} if rows else {}),
        "val_split": float(settings.val_split),
        "seed": settings.seed,
        "split_seed": settings.split_seed,  # the held-out rows do not move with --seed
        "float_targets": get_loss(settings.loss.name).float_targets,
        "standardize": bool(kind.values(settings.data).get("standardize", False)),
        # regression: the model learns standardised targets (`runtime.targets`)
        "standardize_target": loss.standardized_targets
        and bool(kind.values(settings.data).get("standardize_target", False)),
    }


def augmentation(settings: TrainingSettings, data: dict, val_spec: dict | None, base_dir=None) -> dict | None:
    """The augmentation pipeline as the runtime builds it (`transforms.pipeline_spec`): image
    steps go into the image readers' specs (a separate validation set runs the deterministic
    steps only); a table's steps are returned, for `runtime.data.load_data` to apply after
    standardising."""
    from studio.training.transforms import data_of, pipeline_spec

    if not settings.augment:
        return None
    size = get_dataset(settings.data.get("kind")).describe(settings.data, base_dir).sample_shape
    pipeline = pipeline_spec(settings.augment, list(size[-2:]) if size and len(size) == 3 else None)
    if data_of(settings.data) == "table":
        return pipeline
    data["augment"] = pipeline
    if val_spec is not None and data_of(settings.val_data) == "image":
        val_spec["augment"] = {"train": pipeline["val"], "val": pipeline["val"]}
    return None


def run_plan(settings: TrainingSettings, base_dir: str | Path | None = None) -> dict:
    """Everything a run needs, as plain values (see the module docstring); settings must be valid."""
    return {**data_plan(settings, base_dir), **loop_plan(settings)}


def loop_plan(settings: TrainingSettings) -> dict:
    """What the loop (`runtime.fit.fit`) reads: the run's settings without the data."""
    s = settings
    opt_name, opt_args = optimizer_arguments(s)
    loss_name, loss_args = loss_spec(s.loss)
    schedule = get_schedule(s.schedule.name)
    es = s.early_stopping
    loss = get_loss(s.loss.name)
    return {
        "seed": s.seed,
        "epochs": s.epochs,
        "batch_size": s.batch_size,
        "shuffle": bool(s.shuffle),
        "device": s.device,
        "workers": s.resolved_workers(),
        "precision": s.precision,
        "grad_clip": float(s.grad_clip),
        "optimizer": {
            "name": opt_name, "arguments": opt_args,
            "implementations": implementation_options(s.optimizer.name, s.optimizer.implementation),
        },
        "loss": {"name": loss_name, "arguments": loss_args},
        "class_weights": bool(getattr(s.loss, "class_weights", False)),  # `runtime.balance`
        "float_targets": loss.float_targets,
        "balanced": bool(s.balanced),
        "schedule": {k: getattr(s.schedule, k) for k in schedule.options},
        "plateau": schedule.uses_monitor,
        "monitor": s.resolved_monitor(),
        "mode": s.monitor_mode(),
        "metric_name": s.metric_name,
        "perplexity": loss.perplexity,
        "early_stopping": {"patience": es.patience, "min_delta": float(es.min_delta)} if es.enabled else None,
    }


@dataclass(frozen=True)
class RuntimeFunctions:
    """The runtime functions a run's declarations name."""

    metric: str  # e.g. class_hits
    rate: str  # e.g. cosine_rate
    read: str  # e.g. read_csv_data
    read_val: str | None  # the validation set's reader, when it has one of its own


def runtime_functions(settings: TrainingSettings) -> RuntimeFunctions:
    val = settings.val_data
    return RuntimeFunctions(
        metric=get_loss(settings.loss.name).metric_function,
        rate=get_schedule(settings.schedule.name).rate,
        read=get_dataset(settings.data.get("kind")).reader,
        read_val=get_dataset(val.get("kind")).reader if val else None,
    )
