"""Where each block of a model stands, for figures charged block by block.

The memory estimate (:mod:`studio.compiler.memory`) and the step profile
(:mod:`studio.training.profile`) both charge what they measure to the block whose generated line
ran, by a path of block ids from the top graph down; both list one row per layer block, and one
per block inside each copy of a module definition's use. This is that walk, written once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from studio.compiler.analysis import Analysis
from studio.compiler.shapes import BlockInfo
from studio.graph.model import Block, Graph


@dataclass
class Copy:
    """One copy of a use (a repeated module runs ``repeat`` copies): its path and its blocks."""

    path: tuple[str, ...]  # the use's id, with "#i" when the use repeats
    places: list[BlockPlace]


@dataclass
class BlockPlace:
    block: Block
    path: tuple[str, ...]  # block ids from the top graph down (a use's copy: "id#2")
    label: str  # "layer1 > ResidualUnit #2 > conv1"
    info: BlockInfo
    #: a use of a module definition: its copies (None: not a use)
    copies: list[Copy] | None = field(default=None)


def block_places(
    analysis: Analysis, graph: Graph, prefix: tuple[str, ...] = (), name: str = ""
) -> list[BlockPlace]:
    """The layer blocks of ``graph`` in graph order, each use with the places inside its copies."""
    places = []
    for block in graph.blocks.values():
        if block.spec.role != "layer":
            continue
        path = (*prefix, block.id)
        label = f"{name} > {block.name}" if name else block.name
        place = BlockPlace(block, path, label, analysis.block_info(block.id))
        result = analysis.use_results.get(block.id)
        if result is not None and block.spec.definition is not None:
            n = len(result.copies)
            place.copies = []
            for i, copy in enumerate(result.copies):
                sub = (*prefix, f"{block.id}#{i}" if n > 1 else block.id)
                inside = f"{label} #{i + 1}" if n > 1 else label
                place.copies.append(
                    Copy(sub, block_places(copy, block.spec.definition.graph, sub, inside))
                )
        places.append(place)
    return places
