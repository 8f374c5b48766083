"""The training settings a sweep may search, by name: where each lives in the settings dict and
the declaration that checks its values (the same declarations the settings form and validation
read). Block parameters need no table: their block type declares them.

A new searchable setting is one line in `SETTINGS`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from studio.blocks.params import Choice, Param
from studio.graph.search import Search, SearchRange
from studio.training import kinds
from studio.training.settings import GENERAL, TrainingSettings


@dataclass(frozen=True)
class Target:
    path: tuple[str, ...]  # keys into the training dict
    param: Param | None  # checks one value; None: read from the chosen optimizer's declaration
    doc: str


def _optimizer_option(key: str) -> Param | None:
    for kind in kinds.OPTIMIZERS.values():
        if key in kind.options:
            return kind.options[key]
    return None


SETTINGS: dict[str, Target] = {
    "lr": Target(
        ("optimizer", "lr"), _optimizer_option("lr"), "learning rate (log scale suits it)"
    ),
    "weight_decay": Target(
        ("optimizer", "weight_decay"), _optimizer_option("weight_decay"), "weight decay"
    ),
    "momentum": Target(
        ("optimizer", "momentum"), _optimizer_option("momentum"), "momentum (SGD, RMSprop)"
    ),
    "optimizer": Target(
        ("optimizer", "name"),
        Choice("adam", "Optimizer", options=tuple(kinds.OPTIMIZERS)),
        "optimizer: " + ", ".join(kinds.OPTIMIZERS),
    ),
    "batch_size": Target(("batch_size",), GENERAL["batch_size"], "batch size"),
    "epochs": Target(("epochs",), GENERAL["epochs"], "number of epochs"),
    "grad_clip": Target(("grad_clip",), GENERAL["grad_clip"], "gradient clipping norm"),
    "label_smoothing": Target(
        ("loss", "label_smoothing"),
        kinds.LOSSES["cross_entropy"].options["label_smoothing"],
        "label smoothing (cross-entropy)",
    ),
    "schedule": Target(
        ("schedule", "name"),
        Choice("none", "Schedule", options=tuple(kinds.SCHEDULES)),
        "learning-rate schedule: " + ", ".join(kinds.SCHEDULES),
    ),
}


def setting_problem(rng: SearchRange) -> str:
    """Why a setting range cannot be searched, or ''."""
    target = SETTINGS.get(rng.setting)
    if target is None:
        return (
            f"{rng.setting!r} is not a setting a sweep can search; use one of "
            f"{', '.join(SETTINGS)}, or BLOCK.PARAM for a block's parameter."
        )
    param = target.param
    if param is None:
        return ""
    if param.kind == "choice" and not rng.choices:
        return f"{rng.setting} is a choice: give its values as a list (a,b,c)."
    if param.kind == "int" and not rng.choices and not rng.is_int:
        return f"{rng.setting} is a whole number: give whole numbers for its range."
    for v in rng.choices or (rng.low, rng.high):
        try:
            param.coerce(v, rng.setting)
        except (ValueError, TypeError) as e:
            return str(e)
    return ""


def problems(search: Search, graph) -> list[str]:
    """Every reason the ranges cannot be searched on this graph, one sentence each."""
    out = [message for _, message in search.block_problems(graph)]
    out += [setting_problem(r) for r in search.ranges if r.setting]
    return [p for p in out if p]


def apply(project, values: dict[str, Any]):
    """A copy of ``project`` with the values of one trial set (keys: `SearchRange.key`)."""
    from studio.graph.project import Project
    from studio.graph.search import apply_to_graph

    graph = project.graph.copy()
    apply_to_graph(graph, values)
    training = apply_settings(project.training, values)
    return Project(
        project.name, graph, training, copy.deepcopy(project.metadata), project.path, project.search
    )


def apply_settings(training: dict, values: dict[str, Any]) -> dict:
    """``training`` with the searched settings among ``values`` set. A changed optimizer keeps
    the options the file gives and takes its own defaults for the rest."""
    out = copy.deepcopy(training)
    for key, value in values.items():
        target = SETTINGS.get(key)
        if target is None:
            continue
        node = out
        for part in target.path[:-1]:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[target.path[-1]] = value
    return out


def current_value(project, rng: SearchRange) -> Any:
    """The value the project has now for a range's target (the default where it sets none)."""
    if rng.block:
        block = project.graph.blocks.get(rng.block)
        return block.params.get(rng.param) if block is not None else None
    settings = TrainingSettings.from_dict(project.training)
    node: Any = settings
    for part in SETTINGS[rng.setting].path:
        node = getattr(node, part, None)
    return node
