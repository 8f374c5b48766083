"""Small settings and models shared by the training tests (a unique module name: no clashes)."""

from torch import nn

from studio.training import TrainingSettings


def make_settings(**over) -> TrainingSettings:
    d = {
        "data": {"kind": "spirals", "n": 240},
        "val_split": 0.25,
        "epochs": 3,
        "batch_size": 32,
        "optimizer": {"name": "adam", "lr": 0.01},
        "report_every": 4,
        "report_seconds": 0,  # a report per step: deterministic report points for the tests
    }
    d.update(over)
    return TrainingSettings.from_dict(d)


def mlp(inputs=2, outputs=2, hidden=16):
    return nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, outputs))
