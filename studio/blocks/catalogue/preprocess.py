"""Preprocessing carried inside the model: the Standardize block.

A model trained on standardised rows needs standardised rows ever after; when the statistics are
part of the model (buffers, so they are in its state_dict, its checkpoints, ONNX and .pt2),
`model(raw_rows)` gives the trained predictions outside Studio with nothing but torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from studio.blocks.params import Numbers, ParamError
from studio.blocks.registry import IMPORT_TORCH, BlockType, EmitContext, Emitted, Emitter, register
from studio.blocks.text import short_repr

MAX_FEATURES = 100_000


@dataclass(frozen=True)
class Floats(Numbers):
    """A list of finite numbers (per-feature statistics)."""

    positive: bool = False

    def text_error(self, name: str, text: str) -> str:
        return f"{name} must be numbers separated by commas (got {short_repr(text)})."

    def numbers(self, value: Any, name: str) -> tuple[float, ...]:
        ok = isinstance(value, (list, tuple)) and 1 <= len(value) <= MAX_FEATURES
        if not ok or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
        ):
            raise ParamError(
                f"{name} must be a list of 1 to {MAX_FEATURES:,} numbers (got {short_repr(value)})."
            )
        if not all(math.isfinite(v) and (v > 0 or not self.positive) for v in value):
            what = "positive numbers" if self.positive else "finite numbers"
            raise ParamError(f"{name} must hold {what} only (got {short_repr(value)}).")
        return tuple(float(v) for v in value)


class StandardizeEmitter(Emitter):
    def emit(self, c: EmitContext) -> Emitted:
        mean, std = list(c.p.mean), list(c.p.std)
        if len(mean) != len(std):
            raise ParamError(
                f"mean has {len(mean)} numbers but std has {len(std)}; give one of each per feature."
            )
        return Emitted(
            init=[
                f'self.register_buffer("{c.attr}_mean", torch.tensor({mean!r}))',
                f'self.register_buffer("{c.attr}_std", torch.tensor({std!r}))',
            ],
            forward=[f"{c.out} = ({c.inputs[0]} - self.{c.attr}_mean) / self.{c.attr}_std"],
            imports={IMPORT_TORCH},
        )


register(
    BlockType(
        id="standardize",
        label="Standardize",
        category="Merge & ops",
        description=(
            "(x - mean) / std per feature, with the training data's statistics kept in the model "
            "(buffers saved with the weights), so the model takes raw rows."
        ),
        torch_name="register_buffer",
        params={
            "mean": Floats((0.0,), "mean", "Each feature's mean over the training rows."),
            "std": Floats(
                (1.0,),
                "std",
                "Each feature's standard deviation over the training rows.",
                positive=True,
            ),
        },
        emitter=StandardizeEmitter(),
        name_base="standardize",
        keywords=(
            "normalize",
            "normalise",
            "standardise",
            "scale",
            "z-score",
            "preprocess",
            "mean",
            "std",
        ),
    )
)
