"""Pretrained weights, checked before Train: what is not on this computer yet, and frozen layers
that would keep random weights.

A Backbone's pretrained weights used to be found missing only once Train had started (offline,
that was the run's failure). The Problems list shows them beforehand, each with one-click fixes:
start from random weights, or choose a local weights file. The block types say what they load
(`BlockType.assets`), so this reads the declarations, not the block types' ids.

No Qt; torchvision is imported only to name the cache file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from studio.graph.commands import Command, SetParams
from studio.graph.model import Block, Graph
from studio.graph.validation import WARNING
from studio.training.fixes import FitProblem, Fix

NO_WEIGHTS = "none"  # the Backbone's weights choice for random initialisation
FILE = "file"  # ... and for a local state_dict file
WEIGHTS_FILTER = "PyTorch weights (*.pth *.pt)"


@dataclass(frozen=True)
class FileFix(Fix):
    """A fix that needs a file first: the window asks for one (`filter`), then pushes
    `make_with(graph, path)`."""

    filter: str = WEIGHTS_FILTER
    make_with: Callable[[Graph, str], Command] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class WeightsProblem(FitProblem):
    """A weights problem: `fix` and the other fixes offered beside it."""

    also: tuple[Fix, ...] = ()

    @property
    def fixes(self) -> tuple[Fix, ...]:
        return ((self.fix,) if self.fix is not None else ()) + self.also


def _choosable(block: Block) -> bool:
    """The block picks its weights with a `weights` choice that offers none and a file."""
    param = block.spec.params.get("weights")
    if param is None or "weights_file" not in block.spec.params:
        return False
    try:
        options = (
            param.options_for(block.params) if hasattr(param, "options_for") else param.options
        )
    except Exception:  # noqa: BLE001 - a model torchvision does not know: its own check says so
        return False
    return NO_WEIGHTS in options and FILE in options


def _fixes(block: Block) -> tuple[Fix, FileFix]:
    bid = block.id
    random = Fix("Start from random weights", lambda g: SetParams(bid, {"weights": NO_WEIGHTS}))
    local = FileFix(
        "Choose a local weights file…",
        lambda g: SetParams(bid, {}),
        make_with=lambda g, path: SetParams(bid, {"weights": FILE, "weights_file": path}),
    )
    return random, local


def weights_problems(
    graph: Graph, is_cached: Callable[[str], bool] | None = None
) -> list[WeightsProblem]:
    """One warning per block whose pretrained weights are not cached (Train would download them),
    and per frozen block that starts from random weights. `is_cached(weights id)` defaults to
    looking in torch's cache."""
    from studio.blocks.registry import ASSET_WEIGHTS

    if is_cached is None:
        from studio.hub.weights import cached_path

        def is_cached(name: str) -> bool:
            try:
                return cached_path(name) is not None
            except Exception:  # noqa: BLE001 - weights torchvision does not know: the block says so
                return True

    out: list[WeightsProblem] = []
    for block in graph.blocks.values():
        try:
            assets = block.spec.needed_assets(block.params)
        except Exception:  # noqa: BLE001 - a bad value: the block's own check reports it
            continue
        missing = [a.name for a in assets if a.kind == ASSET_WEIGHTS and not is_cached(a.name)]
        choosable = _choosable(block)
        if missing:
            random, local = _fixes(block) if choosable else (None, None)
            out.append(
                WeightsProblem(
                    f"The pretrained weights {', '.join(missing)} are not on this computer yet: Train downloads "
                    "them first (it needs the internet), or start from random weights, or use a local file.",
                    block_id=block.id,
                    severity=WARNING,
                    fix=random,
                    also=(local,) if local else (),
                )
            )
        frozen = block.frozen or block.params.get("freeze", "none") != "none"
        if choosable and frozen and block.params.get("weights") == NO_WEIGHTS:
            _, local = _fixes(block)
            out.append(
                WeightsProblem(
                    "It is frozen but starts from random weights, so its layers never learn: choose "
                    "pretrained weights or a local file, or unfreeze it.",
                    block_id=block.id,
                    severity=WARNING,
                    fix=Fix(
                        "Use the pretrained weights",
                        lambda g, bid=block.id: SetParams(bid, {"weights": "DEFAULT"}),
                    ),
                    also=(local,),
                )
            )
    return out
