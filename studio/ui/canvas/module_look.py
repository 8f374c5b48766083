"""What a module block shows beyond an ordinary block: ``×N`` when repeated, its per-use
values, the shapes in and out, and a preview of the blocks inside."""

from __future__ import annotations

from dataclasses import dataclass

from studio.blocks.registry import ROLE_INPUT, ROLE_OUTPUT
from studio.blocks.shapes import fmt_shape

PREVIEW_BLOCKS = 4


@dataclass(frozen=True)
class ModuleLines:
    type_label: str
    key_params: str
    shapes: str
    preview: str
    repeat: int


def module_lines(block, defn, analysis) -> ModuleLines:
    repeat = int(block.params.get("repeat", 1))
    kind = "nn.Sequential" if repeat > 1 else "module"
    values = ", ".join(f"{k}={block.params[k]}" for k in defn.params if k in block.params)
    ins, outs = defn.ports()
    in_shapes: tuple = (None,) * len(ins)
    out_shapes: tuple = (None,) * len(outs)
    if analysis is not None:
        info = analysis.block_info(block.id)
        in_shapes = (*info.in_shapes, *in_shapes)[: len(ins)]
        out_shapes = (*info.out_shapes, *out_shapes)[: len(outs)]
    shapes = "{} → {}".format(
        ", ".join(f"{p.name} {fmt_shape(s)}" for p, s in zip(ins, in_shapes)) or "–",
        ", ".join(f"{p.name} {fmt_shape(s)}" for p, s in zip(outs, out_shapes)) or "–",
    )
    inner = [b.name for b in defn.graph.blocks.values() if b.spec.role not in (ROLE_INPUT, ROLE_OUTPUT)]
    preview = " · ".join(inner[:PREVIEW_BLOCKS]) + (f" +{len(inner) - PREVIEW_BLOCKS}" if len(inner) > PREVIEW_BLOCKS else "")
    return ModuleLines(
        type_label=f"{defn.name} ×{repeat} · {kind}" if repeat > 1 else f"{defn.name} · {kind}",
        key_params=values,
        shapes=shapes,
        preview=f"[ {preview} ]" if preview else "[ empty ]",
        repeat=repeat,
    )
