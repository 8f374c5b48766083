import pytest
import torch
from torch import nn

from studio.training import TrainingSettings, load_data, seed_everything


def make_settings(**over) -> TrainingSettings:
    d = {
        "data": {"kind": "spirals", "n": 240},
        "val_split": 0.25,
        "epochs": 3,
        "batch_size": 32,
        "optimizer": {"name": "adam", "lr": 0.01},
        "report_every": 4,
    }
    d.update(over)
    return TrainingSettings.from_dict(d)


def mlp(inputs=2, outputs=2, hidden=16):
    return nn.Sequential(nn.Linear(inputs, hidden), nn.Tanh(), nn.Linear(hidden, outputs))


@pytest.fixture
def spirals():
    s = make_settings()
    seed_everything(0)
    return s, load_data(s), mlp()


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(1)  # small tensors: threads only add noise
    yield
