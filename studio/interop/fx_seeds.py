"""The shapes the import recorded, stated as the compiler's analysis states them, so the import's
check generates the code it checks without running every block on ``meta`` again.

The import runs the traced original at batch 1 and 2 and records every node's shape
(:mod:`studio.interop.fx_trace`); each block knows the node it came from. For each block,
``(type id, parameters, input specs) -> output specs`` is read off those records: a size equal
in both runs is that size, one that is 1 then 2 is the symbolic batch, one that doubles is a
multiple of it. :func:`studio.compiler.shapes.seeded` gives these to the check's analysis.

Why this keeps the check as strong: the code generated from these shapes is what the check then
proves equal to the original's graph, node for node (:mod:`studio.interop.fx_proof`); where
that proof holds, every block computes what the original's node computed, so inferring its
shape on ``meta`` (what Export does) gives the shape recorded here, and the same code. Where
no proof is made, the check generates the code again from inferred shapes before comparing
values. For resnet50 inference on ``meta`` was most of the check's cost in a new process (BatchNorm's
shape alone runs torch's Python decomposition: about 3 ms each, 12 of them).
"""

from __future__ import annotations

from typing import Any

from torch import fx

from studio.blocks.registry import BATCH, ROLE_LAYER
from studio.compiler.shapes import _freeze
from studio.graph.model import Graph
from studio.interop.fx_trace import TensorMeta, Trace


def recorded_specs(
    graph: Graph,
    nodes: dict[str, fx.Node],
    values: dict[tuple[str, str], fx.Node],
    trace: Trace,
) -> dict[tuple, tuple]:
    """``(type id, frozen parameters, input specs) -> output specs`` of each layer block of the
    import's ``graph`` whose inputs and outputs were all recorded. ``nodes``/``values``: the
    builder's block id -> its node, and ``(block id, port) -> node`` where a port's value is
    another node's."""

    def spec(bid: str, port: str, single: bool) -> tuple | None:
        node = values.get((bid, port)) or (nodes.get(bid) if single else None)
        return _symbolic(trace.s1.get(node), trace.s2.get(node)) if node is not None else None

    answers: dict[tuple, tuple] = {}
    for block in graph.blocks.values():
        kind = block.spec
        if kind.role != ROLE_LAYER or kind.definition is not None:
            continue
        ins: list[tuple | None] = []
        for port in kind.input_ports(block.params):
            edge = graph.edge_into(block.id, port.name)
            if edge is None:  # as the analysis sees a port without a wire
                ins.append(None)
                continue
            one = len(graph.blocks[edge.src].output_ports()) == 1
            ins.append(spec(edge.src, edge.src_port, one) or _UNKNOWN)
        ports = kind.output_ports(block.params)
        outs = tuple(spec(block.id, p.name, len(ports) == 1) for p in ports)
        if _UNKNOWN not in ins and None not in outs:
            answers[(kind.id, _freeze(block.params), tuple(ins))] = outs
    return answers


_UNKNOWN = ("unknown",)  # a wired input without a record: the block is left to the analysis


def _symbolic(a: Any, b: Any) -> tuple | None:
    """``(shape, dtype)`` as the analysis writes it, from a node's records at batch 1 and 2."""
    if not isinstance(a, TensorMeta) or not isinstance(b, TensorMeta):
        return None
    if a.dtype != b.dtype or len(a.shape) != len(b.shape):
        return None
    dims = []
    for x, y in zip(a.shape, b.shape):
        if x == y:
            dims.append(x)
        elif y == 2 * x:
            dims.append(x * BATCH)  # the batch (1, 2), or the batch folded into another size
        else:
            return None
    return tuple(dims), a.dtype
