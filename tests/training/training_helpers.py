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


def script_data(script: dict, folder) -> tuple:
    """(train, val, info) as an exported train.py's `main` reads them, its data read from
    `folder` (--data): `main` runs until it batches the data (`train_batches`, or `val_batches`
    where that comes first; its data code is written into `main` itself, as the project runs it,
    so the test runs that code)."""
    import sys
    from unittest import mock

    class Read(Exception):
        pass

    seen = {}

    def val_batches(*args):
        seen.update(sys._getframe(1).f_locals)
        raise Read

    main = script["main"]
    argv = ["train.py", "--data", str(folder), "--out", str(folder), "--device", "cpu"]
    stops = {name: val_batches for name in ("train_batches", "val_batches") if name in main.__globals__}
    with mock.patch.dict(main.__globals__, stops), mock.patch.object(sys, "argv", argv):
        try:
            main(script["SETTINGS"]) if "SETTINGS" in script else main()
        except Read:
            pass
    return seen["train_data"], seen["val_data"], seen["info"]
