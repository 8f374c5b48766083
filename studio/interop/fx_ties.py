"""Tied weights survive the import: one tensor under two names stays one tensor.

GPT-2's ``lm_head.weight`` *is* ``transformer.wte.weight`` (and nanoGPT ties them the other
way). Traced, the two modules are two blocks with a weight each: the export would hold two
matrices, count them twice and train them apart, which is another model. Each name after the
first of a shared parameter becomes a Tie weights block (``self.lm_head.weight =
self.transformer.wte.weight``), added last to the model's graph, so the line runs once both
layers exist; both state_dict keys stay.
"""

from __future__ import annotations

from torch import nn

from studio.graph.project import Project


def shared_parameters(module: nn.Module) -> list[list[str]]:
    """The names of each parameter registered under more than one name, first name first."""
    names: dict[int, list[str]] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        names.setdefault(id(p), []).append(name)
    return [group for group in names.values() if len(group) > 1]


def tie(project: Project, module: nn.Module, where: dict[str, str]) -> int:
    """Add Tie weights blocks for the shared parameters of ``module`` (``where``: original
    parameter name -> its key in the export, for those the export has); returns how many were
    added.

    A top-level module that forward never calls and whose weights are all another called
    module's (T5's ``shared``, used as ``encoder.embed_tokens``) is tied whole to it
    (``self.shared = self.encoder.embed_tokens``), so its keys are in the export too."""
    groups = shared_parameters(module)
    ties = _aliases(module, groups, where)
    aliased = {
        f"{alias}.{k}"
        for alias, _ in ties
        for k, _ in module.get_submodule(alias).named_parameters()
    }
    for group in groups:
        present = [name for name in group if name in where]
        if any(name not in where and name not in aliased for name in group) or len(present) < 2:
            continue
        ties += [(where[name], where[present[0]]) for name in present[1:]]
    for attribute, to in ties:
        project.graph.add_block(
            "tie",
            name=f"tie_{attribute.replace('.', '_')}",
            params={"attribute": attribute, "to": to},
        )
    return len(ties)


def _aliases(module: nn.Module, groups, where: dict[str, str]) -> list[tuple[str, str]]:
    """``(top-level module, the exported module it is)`` for each top-level module no block came
    from whose parameters are all shared with one exported module of its class."""
    out = []
    for name, child in module.named_children():
        own = [f"{name}.{k}" for k, _ in child.named_parameters(remove_duplicate=False)]
        if not own or any(n in where for n in own):
            continue
        others: list[str] = []  # the exported modules holding its weights, first registered first
        for n in own:
            group = next((g for g in groups if n in g), [])
            others += [
                m.rpartition(".")[0]
                for m in group
                if m in where and m.rpartition(".")[2] == n.rpartition(".")[2]
            ]
        if not others:
            continue
        target = others[0]
        try:
            same = type(module.get_submodule(target)) is type(child)
        except AttributeError:
            same = False
        if same and all(f"{target}.{n.partition('.')[2]}" in where for n in own):
            out.append((name, where[f"{target}.{own[0].partition('.')[2]}"].rpartition(".")[0]))
    return out
