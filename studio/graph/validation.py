"""Structural checks of a graph, in words a beginner understands. Pure Python.

Shape problems are found by the compiler's shape inference, which returns diagnostics of the
same kind; :func:`studio.compiler.analyze` merges both.
"""

from __future__ import annotations

from dataclasses import dataclass

from studio.blocks.params import ParamError
from studio.blocks.registry import ROLE_INPUT, ROLE_OUTPUT
from studio.graph.model import Graph

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Diagnostic:
    message: str
    block_id: str | None = None
    edge_id: str | None = None
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def describe(self, graph: Graph | None = None) -> str:
        where = ""
        if graph is not None and self.block_id in graph.blocks:
            where = f"{graph.blocks[self.block_id].name}: "
        return f"{where}{self.message}"


def validate(graph: Graph) -> list[Diagnostic]:
    """Problems in the structure of ``graph`` (not shapes). Empty list: structurally fine."""
    out: list[Diagnostic] = []
    roles = [b.spec.role for b in graph.blocks.values()]
    what = f"The module {graph.owner.name}" if graph.owner is not None else "The model"
    if ROLE_INPUT not in roles:
        out.append(Diagnostic(f"{what} needs an Input block: it is where data enters the {what.split()[1]}."))
    if ROLE_OUTPUT not in roles:
        out.append(Diagnostic(f"{what} needs an Output block: it marks what the {what.split()[1]} returns."))

    _, in_cycle = graph.topological_order()
    cyclic = set(in_cycle)
    for bid in in_cycle:
        out.append(
            Diagnostic(
                "This block is part of a loop: data must flow one way, from the Input to the "
                "Output. Remove one of the wires of the loop.",
                block_id=bid,
            )
        )
    for e in graph.edges.values():
        if e.src in cyclic and e.dst in cyclic:
            out.append(Diagnostic("This wire closes a loop.", edge_id=e.id))

    wires_by_port: dict[tuple[str, str], list] = {}
    for e in graph.edges.values():
        wires_by_port.setdefault((e.dst, e.dst_port), []).append(e)
    for block in graph.blocks.values():
        spec = block.spec
        try:
            spec.coerce_params(block.params)
        except ParamError as err:
            out.append(Diagnostic(f"{spec.label}: {err}", block_id=block.id))
            continue
        for port in block.input_ports():
            wires = wires_by_port.get((block.id, port.name), [])
            if not wires and not port.optional:
                what = f"input {port.title!r}" if len(block.input_ports()) > 1 else "its input"
                out.append(
                    Diagnostic(
                        f"{spec.label} {block.name!r} has nothing wired into {what}: "
                        "drag a wire from another block's output to it.",
                        block_id=block.id,
                    )
                )
            for extra in wires[1:]:
                out.append(
                    Diagnostic(
                        f"Two wires go into input {port.title!r} of {block.name!r}; an input takes "
                        "one. Merge them with Add or Concatenate first.",
                        block_id=block.id,
                        edge_id=extra.id,
                    )
                )
    out.extend(_unused(graph))
    return out


def _unused(graph: Graph) -> list[Diagnostic]:
    """Blocks from which nothing reaches an Output: they do no work (a warning)."""
    preds: dict[str, list[str]] = {bid: [] for bid in graph.blocks}
    for e in graph.edges.values():
        preds[e.dst].append(e.src)
    seen: set[str] = set()
    stack = [b.id for b in graph.blocks.values() if b.spec.role == ROLE_OUTPUT]
    if not stack:
        return []
    while stack:
        bid = stack.pop()
        if bid not in seen:
            seen.add(bid)
            stack.extend(preds[bid])
    return [
        Diagnostic(
            f"{b.name!r} does not lead to any Output, so its result is never used.",
            block_id=b.id,
            severity=WARNING,
        )
        for b in graph.blocks.values()
        if b.id not in seen
    ]
