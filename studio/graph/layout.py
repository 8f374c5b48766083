"""Automatic layered left-to-right layout (pure; the canvas applies it through a Move command).

Layers by longest path from the inputs, then a few barycentre sweeps to reduce crossings.
Linear in the number of blocks and edges per sweep, so thousands of blocks lay out quickly.
"""

from __future__ import annotations

import functools

from studio.graph.model import Graph

COLUMN_GAP = 290.0  # block width (184) + room for the shape label on the wire
ROW_GAP = 130.0


def layered_layout(
    graph: Graph, column_gap: float = COLUMN_GAP, row_gap: float = ROW_GAP, sweeps: int = 4
) -> dict[str, tuple[float, float]]:
    """Every block's position: one column per layer, left to right in data order."""
    return _place(_columns(graph, sweeps), None, column_gap, row_gap)


def _columns(graph: Graph, sweeps: int = 4) -> list[list[str]]:
    """Blocks by layer (longest path from the inputs), each layer ordered to cut crossings."""
    order, cyclic = graph.topological_order()
    preds: dict[str, list[str]] = {b: [] for b in graph.blocks}
    succs: dict[str, list[str]] = {b: [] for b in graph.blocks}
    for e in graph.edges.values():
        preds[e.dst].append(e.src)
        succs[e.src].append(e.dst)
    layer: dict[str, int] = {}
    for bid in order:
        layer[bid] = max((layer[p] + 1 for p in preds[bid] if p in layer), default=0)
    top = max(layer.values(), default=-1)
    for bid in cyclic:  # blocks in loops: put them after everything else
        layer[bid] = top + 1
    columns: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for bid in graph.blocks:  # creation order as the first guess
        columns[layer[bid]].append(bid)
    rank = {bid: i for col in columns for i, bid in enumerate(col)}
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        cols = range(1, len(columns)) if forward else range(len(columns) - 2, -1, -1)
        for c in cols:
            neigh = preds if forward else succs

            def key(bid: str, neigh=neigh) -> float:
                ns = neigh[bid]
                return sum(rank[n] for n in ns) / len(ns) if ns else rank[bid]

            columns[c].sort(key=key)
            for i, bid in enumerate(columns[c]):
                rank[bid] = i
    return columns


def _place(
    columns: list[list[str]], per_row: int | None, column_gap: float, row_gap: float
) -> dict[str, tuple[float, float]]:
    """Columns left to right; with ``per_row``, wrapped like text into bands of that many."""
    per_row = per_row or max(len(columns), 1)
    positions: dict[str, tuple[float, float]] = {}
    top = (
        -(max((len(c) for c in columns[:per_row]), default=1) - 1) * row_gap / 2
    )  # first band centred on 0
    for start in range(0, len(columns), per_row):
        band = columns[start : start + per_row]
        tallest = max(len(col) for col in band)
        centre = top + (tallest - 1) * row_gap / 2
        for c, col in enumerate(band):
            offset = centre - (len(col) - 1) * row_gap / 2
            for i, bid in enumerate(col):
                positions[bid] = (c * column_gap, offset + i * row_gap)
        top += tallest * row_gap + WRAP_GAP
    return positions


WRAP_GAP = 20.0  # extra room between wrapped bands, for the wire that goes back to the left


#: the scene a project a tool writes (an import) is laid out to fit: a 1280x720 window's canvas at
#: the readable zoom. ConvNeXt imported as six blocks in one row ran off the window's right side.
FIRST_VIEW = (900.0, 560.0)


def wrapped_layout(
    graph: Graph,
    width: float,
    height: float,
    column_gap: float = COLUMN_GAP,
    row_gap: float = ROW_GAP,
) -> dict[str, tuple[float, float]] | None:
    """The layered layout wrapped into bands to fit ``width`` x ``height`` (scene units at a
    readable zoom): a long chain reads like lines of text instead of shrinking below
    legibility. The widest wrapping that fits wins; when none fits, the one that needs the
    least zooming out (the view then keeps the zoom readable and says what is out of view).
    None when the graph is empty."""
    columns = _columns(graph)
    if not columns:
        return None
    w, h = BLOCK_BOX
    best, best_scale = len(columns), 0.0
    for per_row in range(len(columns), 0, -1):
        bands = -(-len(columns) // per_row)
        tallest = [
            max(len(c) for c in columns[i : i + per_row]) for i in range(0, len(columns), per_row)
        ]
        total_h = sum(tallest) * row_gap + (bands - 1) * WRAP_GAP - (row_gap - h)
        total_w = (per_row - 1) * column_gap + w
        scale = min(width / total_w, height / total_h)
        if scale >= 1:
            return _place(columns, per_row, column_gap, row_gap)
        if scale > best_scale:
            best, best_scale = per_row, scale
    return _place(columns, best, column_gap, row_gap)


# ------------------------------------------------------------------------ free space
#: about the size of a block on the canvas (the canvas's exact geometry is the UI's business;
#: free-space tests only need to keep blocks and their wire labels apart)
BLOCK_BOX = (184.0, 96.0)
MARGIN = 24.0


def _occupied(graph: Graph, exclude: set[str] = frozenset()) -> list[tuple[float, float]]:
    return [b.position for bid, b in graph.blocks.items() if bid not in exclude]


def _clear(points: list[tuple[float, float]], taken: list[tuple[float, float]]) -> bool:
    w, h = BLOCK_BOX
    return not any(
        abs(px - tx) < w + MARGIN and abs(py - ty) < h + MARGIN
        for px, py in points
        for tx, ty in taken
    )


def free_offset(
    graph: Graph, positions: list[tuple[float, float]], tries: int = 200
) -> tuple[float, float]:
    """A shift that puts blocks at ``positions`` (copies of existing ones) where they cover no
    block: just below the originals when that is free, else further down or to the right."""
    taken = _occupied(graph)
    for k in range(1, tries):
        for dx, dy in ((0.0, k * ROW_GAP), (k * COLUMN_GAP, 0.0), (k * COLUMN_GAP, k * ROW_GAP)):
            if _clear([(x + dx, y + dy) for x, y in positions], taken):
                return dx, dy
    return 0.0, tries * ROW_GAP


def free_near(
    graph: Graph, point: tuple[float, float], step: float = 20.0, reach: int = 20
) -> tuple[float, float]:
    """The free position nearest ``point`` for one new block (a palette drop or double-click):
    ``point`` itself when it covers no block, else the closest point ``step`` apart on a lattice
    through it, within ``reach`` steps. Three double-clicks on a palette entry stacked three
    blocks on one spot, and a drop beside a block hid its port under the new block's."""
    x, y = point
    w, h = BLOCK_BOX
    near = [
        (tx, ty)
        for tx, ty in _occupied(graph)
        if abs(tx - x) < reach * step + w + MARGIN and abs(ty - y) < reach * step + h + MARGIN
    ]
    if _clear([point], near):
        return point
    for dx, dy in _ring_offsets(reach):
        candidate = (x + dx * step, y + dy * step)
        if _clear([candidate], near):
            return candidate
    return point


@functools.lru_cache(maxsize=4)
def _ring_offsets(reach: int) -> list[tuple[int, int]]:
    """Lattice offsets within ``reach``, nearest first; to the right before the left and below
    before above at equal distance (a model reads left to right, top to bottom)."""
    offsets = [
        (dx, dy) for dx in range(-reach, reach + 1) for dy in range(-reach, reach + 1) if dx or dy
    ]
    return sorted(offsets, key=lambda o: (o[0] ** 2 + o[1] ** 2, -o[0], -o[1]))


def free_row(
    graph: Graph,
    start: tuple[float, float],
    count: int,
    column_gap: float = COLUMN_GAP,
    row_gap: float = ROW_GAP,
) -> list[tuple[float, float]]:
    """Positions for ``count`` new blocks in a row right of ``start`` (one column gap apart, so
    the shape labels on the wires between them show), moved down a row while any is taken."""
    x, y = start
    taken = _occupied(graph)
    for k in range(200):
        row = [(x + column_gap * i, y + row_gap * k) for i in range(1, count + 1)]
        if _clear(row, taken):
            return row
    return row
