"""Studio's training engine: settings, datasets, the trainer loop, callbacks and checkpoints.

Pure Python + PyTorch; no Qt. The GUI drives it through callbacks and a RunControl.

The names below load on first use (PEP 562), so the pure parts (`settings`, `runs`,
`callbacks`) can be imported, e.g. by the window at start-up, without importing torch.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "BaseCallback": "callbacks",
    "Callback": "callbacks",
    "CSVLogger": "callbacks",
    "EpochReport": "callbacks",
    "Failure": "callbacks",
    "MetricsBuffer": "callbacks",
    "ProgressBar": "callbacks",
    "RunInfo": "callbacks",
    "RunResult": "callbacks",
    "StepReport": "callbacks",
    "CheckpointError": "checkpoints",
    "seed_everything": "checkpoints",
    "Data": "datasets",
    "DatasetError": "datasets",
    "load_data": "datasets",
    "TrainingSettings": "settings",
    "RunControl": "trainer",
    "Trainer": "trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'studio.training' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"studio.training.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
