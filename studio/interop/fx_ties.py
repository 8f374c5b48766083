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


def tie(project: Project, module: nn.Module, attrs: dict[str, str]) -> int:
    """Add a Tie weights block for each shared parameter of ``module`` whose names all have a
    weight in the export (``attrs``: block id -> attribute, the generated code's); returns how
    many were added."""
    from studio.interop.fx_import import _remap

    added = 0
    for group in shared_parameters(module):
        exported = _remap({name: name for name in group}, project, attrs)[0]
        where = {original: key for key, original in exported.items()}
        if not all(name in where for name in group):
            continue
        first, *others = group
        for name in others:
            project.graph.add_block(
                "tie",
                name=f"tie_{where[name].replace('.', '_')}",
                params={"weight": where[name], "to": where[first]},
            )
            added += 1
    return added
