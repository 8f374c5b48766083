"""Replace one block by a use of new module definitions, as one undoable step.

Opening a pretrained Backbone into its layers is this: the importer turns the Backbone's own
model into module definitions (plain data, as in a project file), and
:class:`ReplaceWithModule` adds them to the library under free names and puts a use of the
top one where the block was: same id, name, place and frozen flag, its wires moved from the
old ports (``in``/``out``) to the use's first input and output. Pure: no torch, no Qt.
"""

from __future__ import annotations

import copy
from typing import Any

from studio.graph.commands import Command, RemoveBlocks
from studio.graph.errors import GraphError
from studio.graph.model import Graph
from studio.graph.modules import MODULE_PREFIX, Definition
from studio.graph.serialize import FormatError, library_from_list


class ReplaceWithModule(Command):
    """``modules``: definitions as dicts (those used first, as ``Library.to_list`` gives them);
    ``top``: the one the block becomes a use of; ``params``: the use's parameters."""

    def __init__(
        self,
        block_id: str,
        modules: list[dict[str, Any]],
        top: str,
        params: dict[str, Any] | None = None,
        frozen: bool | None = None,
    ) -> None:
        self.block_id = block_id
        self.frozen = frozen  # None: the block's own flag
        self.modules = modules
        self.top = top
        self.params = dict(params or {})
        self.text = "Open as layers"
        self._definitions: list[Definition] | None = None
        self._names: dict[str, str] = {}
        self._remove: RemoveBlocks | None = None

    def do(self, graph: Graph) -> None:
        lib = graph.library
        if self._definitions is None:
            self._names = _free_names(lib, [d["name"] for d in self.modules])
            try:
                library_from_list(lib, _renamed(self.modules, self._names))
            except FormatError as e:
                raise GraphError(f"The layers could not be added: {e}.") from None
            self._definitions = [lib.get(self._names[d["name"]]) for d in self.modules]
        else:
            for d in self._definitions:
                lib.insert(d)
        old = graph.block(self.block_id)
        self.text = f"Open {old.name} as layers"
        self._remove = RemoveBlocks([self.block_id])
        self._remove.do(graph)
        snap, index = self._remove._blocks[0]
        use = graph.add_block(
            MODULE_PREFIX + self._names[self.top],
            name=snap["name"],
            params=self.params,
            position=snap["position"],
            frozen=snap["frozen"] if self.frozen is None else self.frozen,
            id=snap["id"],
            index=index,
        )
        first_in = use.input_ports()[0].name
        first_out = use.output_ports()[0].name
        for edge, _ in sorted(self._remove._edges, key=lambda s: s[1]):
            if edge.dst == use.id:
                graph.connect(edge.src, edge.src_port, use.id, first_in, id=edge.id)
            else:
                graph.connect(use.id, first_out, edge.dst, edge.dst_port, id=edge.id)

    def undo(self, graph: Graph) -> None:
        graph.remove_block(self.block_id)
        self._remove.undo(graph)
        for d in reversed(self._definitions or []):
            graph.library.remove(d.name)


def _free_names(lib, names: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    taken = set(lib.definitions)
    for name in names:
        new, i = name, 1
        while new in taken:
            i += 1
            new = f"{name}{i}"
        taken.add(new)
        out[name] = new
    return out


def _renamed(modules: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    data = copy.deepcopy(modules)
    for d in data:
        d["name"] = names[d["name"]]
        for b in d.get("graph", {}).get("blocks", []):
            t = b.get("type", "")
            if t.startswith(MODULE_PREFIX) and t[len(MODULE_PREFIX):] in names:
                b["type"] = MODULE_PREFIX + names[t[len(MODULE_PREFIX):]]
    return data


class RemoveDefinition(Command):
    """Delete a module definition that nothing uses (the palette's Delete Module)."""

    def __init__(self, library, name: str) -> None:
        self.library = library
        self.name = name
        self.text = f"Delete module {name}"
        self.definition: Definition | None = None

    def do(self, graph: Graph | None = None) -> None:
        graphs = ([self.library.root] if self.library.root is not None else []) + [d.graph for d in self.library]
        users = [b.name for g in graphs for b in g.blocks.values() if b.type == MODULE_PREFIX + self.name]
        if users:
            shown = ", ".join(users[:3]) + (" and more" if len(users) > 3 else "")
            raise GraphError(f"{self.name} is still used ({shown}); delete or ungroup those blocks first.")
        self.definition = self.library.remove(self.name)

    def undo(self, graph: Graph | None = None) -> None:
        self.library.insert(self.definition)
