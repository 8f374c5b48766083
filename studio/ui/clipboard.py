"""Copy, paste and duplicate as model commands. Pure Python (no Qt): the window only moves the
text to and from the system clipboard."""

from __future__ import annotations

import json
from typing import Any

from studio.graph.commands import AddBlock, Connect, Macro
from studio.graph.model import Graph

CLIPBOARD_KIND = "studio-blocks"


def copy_blocks(graph: Graph, block_ids: list[str]) -> str:
    """The blocks and the wires between them, as JSON text."""
    ids = [bid for bid in graph.blocks if bid in set(block_ids)]
    chosen = set(ids)
    data = {
        "kind": CLIPBOARD_KIND,
        "blocks": [graph.blocks[bid].to_dict() for bid in ids],
        "edges": [e.to_dict() for e in graph.edges.values() if e.src in chosen and e.dst in chosen],
    }
    return json.dumps(data)


def parse(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (ValueError, TypeError):
        return None
    if not isinstance(data, dict) or data.get("kind") != CLIPBOARD_KIND:
        return None
    return data


def paste_command(
    graph: Graph, data: dict[str, Any], at: tuple[float, float] | None = None,
    offset: tuple[float, float] = (40.0, 40.0), text: str = "Paste",
) -> tuple[Macro, list[str]]:
    """A Macro adding copies of the clipboard blocks (fresh ids, unique names) and their wires.

    ``at`` puts the top-left block there; otherwise the copies are shifted by ``offset``.
    Returns the command and the new block ids (already chosen, so they can be selected)."""
    blocks = data.get("blocks", [])
    if not blocks:
        return Macro(text, []), []
    xs = [b["position"][0] for b in blocks]
    ys = [b["position"][1] for b in blocks]
    dx, dy = (at[0] - min(xs), at[1] - min(ys)) if at is not None else offset
    taken = graph.names()
    reserved_ids: set[str] = set()
    id_map: dict[str, str] = {}
    cmds = []
    for b in blocks:
        new_id = graph.new_id()
        while new_id in reserved_ids:
            new_id = graph.new_id()
        reserved_ids.add(new_id)
        id_map[b["id"]] = new_id
        name = graph.unique_name(b["name"], taken=taken, numbered=b["name"] in taken)
        taken.add(name)
        cmds.append(
            AddBlock(
                b["type"], position=(b["position"][0] + dx, b["position"][1] + dy), name=name,
                params=b.get("params"), block_id=new_id, frozen=bool(b.get("frozen", False)),
            )
        )
    for e in data.get("edges", []):
        (src, sp), (dst, dp) = e["from"], e["to"]
        if src in id_map and dst in id_map:
            cmds.append(Connect(id_map[src], sp, id_map[dst], dp))
    return Macro(text, cmds), [id_map[b["id"]] for b in blocks]
