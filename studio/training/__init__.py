"""Studio's training engine: settings, datasets, the trainer loop, callbacks and checkpoints.

Pure Python + PyTorch; no Qt. The GUI drives it through callbacks and a RunControl.
"""

from studio.training.callbacks import (
    BaseCallback,
    Callback,
    CSVLogger,
    EpochReport,
    Failure,
    MetricsBuffer,
    ProgressBar,
    RunInfo,
    RunResult,
    StepReport,
)
from studio.training.checkpoints import CheckpointError, seed_everything
from studio.training.datasets import Data, DatasetError, load_data
from studio.training.settings import TrainingSettings
from studio.training.trainer import RunControl, Trainer

__all__ = [
    "BaseCallback",
    "Callback",
    "CSVLogger",
    "CheckpointError",
    "Data",
    "DatasetError",
    "EpochReport",
    "Failure",
    "MetricsBuffer",
    "ProgressBar",
    "RunControl",
    "RunInfo",
    "RunResult",
    "StepReport",
    "Trainer",
    "TrainingSettings",
    "load_data",
    "seed_everything",
]
