"""Pieces of a graph between two cuts, kept so that a whole piece goes unknown at once.

A cut is a block every wire from above it to below it starts at (in a residual network: each
unit's last block). When a cut's outputs become unknown, so do exactly the blocks below it up to
the next cut that it feeds, through inputs they cannot do without: its *piece*. Then the next
cut's piece, and so on. ``Analysis._flood`` takes a piece as three lists (its one-input blocks,
their unknown answers, its merges) instead of walking it wire by wire: the first wire removed
mid-chain at 5,000 blocks walked 2,200 blocks at about 2 us each (5.7 ms idle, 15 ms under load).

The pieces are found in one sweep of a topological order after a full analysis, when every
block's way of answering is known (``Analysis._kinds``); an edit drops each piece it touches (a
block's wires or parameters, a wire at a block's output) and the walk takes those wire by wire.
A piece is kept only when it is plain: each block fed from inside it is a one-input block or a
merge fed there through required inputs only (anything else goes through the ordered queue).
"""

from __future__ import annotations

from typing import Any

from studio.compiler.shapes import BlockInfo, unknown_answer

#: a piece runs on past a cut until it spans this many blocks (a residual unit has a cut after
#: its merge and one after its norm: pieces of 1 and 7 blocks cost a turn of the walk each)
SPAN = 24


class Piece:
    __slots__ = ("entry", "exit", "plain", "unknowns", "merges")

    def __init__(self, entry: str, exit: str | None) -> None:
        self.entry = entry
        #: the next cut, fed from inside (None: nothing below the piece is fed from it)
        self.exit = exit
        #: the blocks whose unknown answer is known in advance (one-input blocks, and merges
        #: fed only from inside the piece), in order, and those answers
        self.plain: list[str] = []
        self.unknowns: list[BlockInfo] = []
        #: the other merges (one input from outside: its shape is in the answer) -> their kinds
        self.merges: dict[str, tuple] = {}


def find_pieces(
    order: list[str], into: dict[str, list], out: dict[str, list], kinds: dict[str, Any]
) -> tuple[dict[str, Piece], dict[str, Piece]]:
    """The plain pieces of a graph, each from a cut to a later one (about ``SPAN`` blocks):
    cut id -> its piece, and block id -> the piece it lies in (every block between its two cuts,
    fed from the piece or not). ``order``: a topological order; ``into``/``out``: each block's
    wires; ``kinds``: how each block answers below an unknown (``Analysis._flood_kind``)."""
    pieces: dict[str, Piece] = {}
    piece_of: dict[str, Piece] = {}
    open_wires = 0  # wires from the blocks swept to those not yet
    piece: Piece | None = None
    reached: set[str] = set()
    between: list[str] = []
    plain = True
    for bid in order:
        wires_in = into[bid]
        open_wires -= len(wires_in)
        if plain and piece is not None:
            between.append(bid)
            fed = 0
            for e in wires_in:
                if e.src in reached:
                    fed += 1
            if fed:
                kind = kinds.get(bid)
                if kind.__class__ is BlockInfo:
                    piece.plain.append(bid)
                    piece.unknowns.append(kind)
                    reached.add(bid)
                elif kind and all(e.dst_port in kind[0] for e in wires_in if e.src in reached):
                    wired = kind[1]
                    if all(e is None or e.src in reached for e in wired):
                        piece.plain.append(bid)
                        piece.unknowns.append(unknown_answer((None,) * len(wired), kind[2]))
                    else:
                        piece.merges[bid] = kind
                    reached.add(bid)
                else:  # evaluated by the queue (an optional input, an Output...)
                    plain = False
        wires_out = out[bid]
        open_wires += len(wires_out)
        if wires_out and open_wires == len(wires_out):  # a cut
            if piece is not None and plain and len(between) < SPAN and bid in reached:
                continue  # (the piece runs on: what the next cut's piece holds, it holds)
            if piece is not None and plain:
                piece.exit = bid if bid in reached else None
                pieces[piece.entry] = piece
                for b in between:
                    piece_of[b] = piece
            piece, reached, between, plain = Piece(bid, None), {bid}, [], True
    return pieces, piece_of
