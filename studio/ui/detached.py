"""`detached(project)`: a copy of the project that later edits do not reach, in milliseconds.

A worker thread that writes the project (the recovery file, File > Export) must not read the
live graph while the user edits it. ``graph.copy()`` (``from_dict(to_dict())``) took 52-137 ms
of the GUI thread at 2,000 blocks under load; this copies block by block instead (about 2 ms):
each block's attributes are replaced on an edit, never changed in place, and edges are
immutable. The copy is good for ``to_dict()`` only (its graph shares no index with the live
one): a worker that needs a whole graph builds it from that dict, in its own thread. No Qt.
"""

from __future__ import annotations

import copy
import dataclasses

from studio.graph.modules import Library
from studio.graph.project import Project


def detached(project: Project) -> Project | None:
    """The copy, or None where the graph has module definitions (their blocks resolve their
    types through the live library: the caller copies those the slow way). The free-form
    settings (edited in place) are deep-copied; RecursionError if nested too deeply."""
    graph = project.graph
    if len(graph.library):
        return None
    training, metadata, search = copy.deepcopy((project.training, project.metadata, project.search))
    copied = _shallow(graph)
    copied.blocks = {key: _shallow(block) for key, block in graph.blocks.items()}
    copied.edges = dict(graph.edges)
    copied.library = Library(graph_type=type(graph))  # empty, as now: one added later is not in it
    return dataclasses.replace(
        project, graph=copied, training=training, metadata=metadata, search=search
    )


def _shallow(obj):
    """A shallow copy (attributes shared) without ``copy.copy``'s reduce protocol: 5x faster."""
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    return new
