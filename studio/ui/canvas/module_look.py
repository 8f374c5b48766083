"""What a module block shows beyond an ordinary block: ``×N`` when repeated, its per-use
values, its ports with their shapes, and a preview of the blocks inside (a chip in its
category's colour per block, in the order they run)."""

from __future__ import annotations

from dataclasses import dataclass

from studio.blocks.registry import ROLE_INPUT, ROLE_OUTPUT
from studio.blocks.shapes import fmt_shape

MAX_CHIPS = 8


@dataclass(frozen=True)
class ModuleLines:
    type_label: str
    key_params: str
    shapes: str
    chips: tuple[str, ...]  # the category of each block inside (the first MAX_CHIPS)
    inside: str  # "7 blocks", after the chips
    tooltip: str
    badge: str  # "×3" when repeated


def _side(ports, shapes) -> str:
    if len(ports) == 1:
        return fmt_shape(shapes[0])
    return ", ".join(f"{p.name} {fmt_shape(s)}" for p, s in zip(ports, shapes)) or "–"


def _shapes(ins: str, outs: str) -> str:
    return f"{ins} → same shape" if ins == outs and "?" not in ins else f"{ins} → {outs}"


def module_lines(block, defn, analysis) -> ModuleLines:
    repeat = int(block.params.get("repeat", 1))
    values = ", ".join(f"{k}={block.params[k]}" for k in defn.params if k in block.params)
    ins, outs = defn.ports()
    in_shapes: tuple = (None,) * len(ins)
    out_shapes: tuple = (None,) * len(outs)
    if analysis is not None:
        info = analysis.block_info(block.id)
        in_shapes = (*info.in_shapes, *in_shapes)[: len(ins)]
        out_shapes = (*info.out_shapes, *out_shapes)[: len(outs)]
    order, _ = defn.graph.topological_order()
    inner = [defn.graph.blocks[b] for b in order if defn.graph.blocks[b].spec.role not in (ROLE_INPUT, ROLE_OUTPUT)]
    listing = "\n".join(f"  {b.name} ({b.spec.label})" for b in inner[:20])
    more = f"\n  … and {len(inner) - 20} more" if len(inner) > 20 else ""
    return ModuleLines(
        type_label=f"{repeat} × {defn.name}" if repeat > 1 else f"{defn.name} · module",
        key_params=values,
        shapes=_shapes(_side(ins, in_shapes), _side(outs, out_shapes)),
        chips=tuple(b.spec.category for b in inner[:MAX_CHIPS]),
        inside=f"{len(inner)} block{'s' * (len(inner) != 1)}",
        tooltip=f"Inside {defn.name} (double-click to open):\n{listing}{more}" if inner else f"{defn.name} is empty.",
        badge=f"×{repeat}" if repeat > 1 else "",
    )
