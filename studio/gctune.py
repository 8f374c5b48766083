"""The garbage collector's policy for a project that stays open: its objects frozen while it is.

A full (generation 2) collection walks every object the collector tracks, holding the GIL: with
a 5,000-block project open (its blocks, the canvas's items, the views' tables: 130,000 objects
beside torch's 370,000), one full collection stopped every thread 240-740 ms at load 6-7. The
window freezes torch's modules once they have loaded (``studio.ui.document``); this freezes a
large project's objects as well, once it has opened (``gc.freeze``: moved out of the collector's
reach, so full collections walk only what the edits since have made), and unfreezes them when
another project takes its place, so the old one's memory can go. What the window builds after
the open stays in the collector's reach (the shapes' analysis: 17,000 objects at 5,000 blocks;
the Cost panel's estimates): 46,000 objects tracked after 6 edits of 2,000 blocks, against 84,000
without the freeze (``gc_pauses.py``; 270,000 before the estimates stopped leaking).

Pure standard library: the window calls :func:`project_opened` where a project becomes current,
the command line where it has loaded one. ``benchmarks/gc_pauses.py`` measures the longest pause
during edits with and without it.
"""

from __future__ import annotations

import gc

#: a project with fewer blocks is left to the collector: its full collections are short anyway,
#: and freezing it would keep its memory until the next large project opens
MIN_BLOCKS = 300

#: young collections every 2,000 allocations instead of 700, as CPython 3.13 chose: fewer young
#: passes while a graph is built or edited. Not more: a generation-1 pass walks up to ten times
#: this many objects (at 10,000 those passes took up to 141 ms at load 7.6). Not less either: the
#: freeze leaves the collector's count of long-lived objects small, so its rule that holds full
#: passes back until a quarter as many are new no longer does; what spaces them out is this
#: threshold (a full pass every 100 young ones). ``gc_pauses.py``, 2,000 blocks, 6 edits, runs
#: interleaved (7 December 2026, load 4-10 from others, 4 runs a mode without and 2
#: with two busy processes): full collections a run 11-13 without gctune, 11-14 with the freeze
#: at 700, 9 at 1,000 (busy runs only), 3-4 at 2,000; the share of the edits' time spent collecting 5.0-6.0%,
#: 3.8-5.4%, 3.8-4.5%, 2.2-3.7%. The longest pause was a full collection in 19 runs of 20 (the
#: other a young one without gctune): median of the runs' longest 215 ms without gctune, 174 ms
#: at 700, 188 ms at 2,000 (noise: each spread 125-313 ms); young pauses reached 117-233 ms at
#: 700 too, so the 115 ms young pause once seen at 2,000 was the load, not the pass's size
GEN0_THRESHOLD = 2_000

_holds_project = False


def project_opened(blocks: int) -> bool:
    """Call once a project of ``blocks`` blocks has become current (its views built): a large
    one's objects are frozen. A large project frozen before is first unfrozen and collected
    (one full pass, at this moment rather than during edits). True if this project is frozen."""
    global _holds_project
    if blocks < MIN_BLOCKS and not _holds_project:
        return False
    if _holds_project:
        gc.unfreeze()
        gc.collect()
    raise_young_threshold()
    gc.freeze()  # also what was unfrozen above and is still alive (torch's modules among them)
    _holds_project = blocks >= MIN_BLOCKS
    return _holds_project


def raise_young_threshold() -> None:
    """Generation 0's threshold raised to :data:`GEN0_THRESHOLD` (never lowered); the older
    generations' thresholds are kept."""
    young, middle, old = gc.get_threshold()
    if young and young < GEN0_THRESHOLD:  # 0: the collector is off; leave it so
        gc.set_threshold(GEN0_THRESHOLD, middle, old)


def holds_project() -> bool:
    """Whether a large project's objects are frozen now."""
    return _holds_project
