"""Does every model output keep one row per sample? Checked from the analysis, exactly.

Shapes are inferred at one batch size, the prime ``BATCH``, so a call that mixes the samples
of a batch (``torch.kron(x, x)`` gives ``N²`` rows, ``torch.flatten(x)`` ``64N``) shows a size
that is a multiple of ``BATCH`` but not ``BATCH`` itself. Such a model passed the check and then
failed in training, where the loss compared ``N²`` predictions with ``N`` targets (or, with a
loss that broadcasts, trained on the wrong pairs). A multiple of 7919 can also be a real size,
so a suspect block is evaluated once more at a second batch size and blamed only where its
output really moves with the batch other than as the batch. A block that folds the batch and a
later one that unfolds it (``reshape(-1, d)`` then ``reshape(in2.shape[0], -1, d)``) is fine:
only what reaches an Output counts. Only suspect blocks are evaluated again, so a model that
keeps its batch costs one look at each Output.
"""

from __future__ import annotations

from typing import Any, Protocol

from studio.blocks.registry import BATCH, ROLE_OUTPUT
from studio.blocks.shapes import fmt_shape
from studio.compiler.shapes import BlockInfo, InSpec, Shape
from studio.graph.model import Block, Edge, Graph
from studio.graph.validation import Diagnostic


class Analysis(Protocol):
    """What this check reads from :class:`studio.compiler.analysis.Analysis` (which calls it,
    so this module does not import it)."""

    graph: Graph

    def outputs(self) -> list[Block]: ...

    def params_of(self, block: Block) -> dict[str, Any]: ...

    def edge_spec(self, edge: Edge) -> InSpec: ...

    def output_spec(self, block: Block) -> InSpec: ...

    def block_info(self, block_id: str) -> BlockInfo: ...

    def info_with_inputs(self, block: Block, in_specs: tuple[InSpec, ...]) -> BlockInfo: ...


#: the second batch size a suspect block is evaluated at (a prime, like BATCH)
OTHER_BATCH = 7907


def _mixed(shape: Shape | None) -> bool:
    return shape is not None and any(d != BATCH and d % BATCH == 0 for d in shape)


def _in_specs(a: Analysis, block: Block) -> tuple[InSpec, ...]:
    ports = block.spec.input_ports(a.params_of(block))
    edges = [a.graph.edge_into(block.id, p.name) for p in ports]
    return tuple(a.edge_spec(e) if e is not None else None for e in edges)


def _other_batch(spec: InSpec) -> InSpec:
    if spec is None:
        return None
    return tuple(OTHER_BATCH if d == BATCH else d for d in spec[0]), spec[1]


def _moves_wrongly(a: Analysis, block: Block, in_specs: tuple[InSpec, ...]) -> bool:
    """Evaluated again at OTHER_BATCH: does an output size change other than as the batch?"""
    other = a.info_with_inputs(block, tuple(_other_batch(s) for s in in_specs))
    first = a.block_info(block.id).out_shapes
    if other.error or len(other.out_shapes) != len(first):
        return False  # nothing more to learn: the first answer stands unconfirmed
    for s1, s2 in zip(first, other.out_shapes):
        if s1 is None or s2 is None or not _mixed(s1):
            continue
        if len(s1) != len(s2) or any(
            d1 != d2 and (d1, d2) != (BATCH, OTHER_BATCH) for d1, d2 in zip(s1, s2)
        ):
            return True
    return False


def batch_problems(a: Analysis) -> list[Diagnostic]:
    """An error on each block that mixes the samples of a batch into what an Output receives."""
    g = a.graph
    seen: set[str] = set()
    todo = [b.id for b in a.outputs() if _mixed((a.output_spec(b) or (None,))[0])]
    blamed: list[str] = []
    while todo:
        bid = todo.pop()
        if bid in seen:
            continue
        seen.add(bid)
        block = g.blocks[bid]
        in_specs = _in_specs(a, block)
        mixed_inputs = [
            e.src
            for e in (g.edge_into(bid, p.name) for p in block.spec.input_ports(a.params_of(block)))
            if e is not None and _mixed((a.edge_spec(e) or (None,))[0])
        ]
        if mixed_inputs:
            todo.extend(mixed_inputs)
        elif block.spec.role != ROLE_OUTPUT and _moves_wrongly(a, block, in_specs):
            blamed.append(bid)
    if not blamed:
        return []
    order = {bid: i for i, bid in enumerate(g.topological_order()[0])}
    problems = []
    for bid in sorted(blamed, key=lambda b: order.get(b, len(order))):
        shapes = ", ".join(fmt_shape(s) for s in a.block_info(bid).out_shapes if _mixed(s))
        problems.append(
            Diagnostic(
                f"This block mixes the samples of a batch: for a batch of N it gives {shapes}, so the "
                "model's output no longer has one row per sample and training would fail. Keep "
                "dimension 0 for the batch (this call works across it).",
                block_id=bid,
            )
        )
    return problems
