"""The validation split has its own seed: a run's seed (or train.py's --seed) moves the initial
weights and the batch order, never which rows the run is scored on."""

import torch

from studio.training.datasets import load_data
from studio.training.settings import TrainingSettings

BASE = {"data": {"kind": "blobs", "n": 200, "classes": 3}, "val_split": 0.25}


def _val_rows(**over):
    data = load_data(TrainingSettings.from_dict({**BASE, **over}))
    return torch.stack([data.val[i][0] for i in range(len(data.val))])


def test_runs_with_different_seeds_are_scored_on_the_same_rows():
    assert torch.equal(_val_rows(seed=1), _val_rows(seed=2))


def test_the_split_seed_alone_moves_the_split():
    assert not torch.equal(_val_rows(split_seed=0), _val_rows(split_seed=1))
    assert TrainingSettings.from_dict({"split_seed": -1}).validate() == [
        "Split seed must be at least 0 (got -1)."
    ]


def test_train_py_seed_option_leaves_the_split_alone():
    from studio.training.plan import data_plan

    plan = data_plan(TrainingSettings.from_dict({**BASE, "seed": 7, "split_seed": 3}), None)
    assert (
        plan["seed"] == 7 and plan["split_seed"] == 3
    )  # script_main's --seed replaces "seed" only
