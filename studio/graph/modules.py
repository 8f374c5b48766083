"""Module definitions: named graphs used as blocks, so a model is built from its own modules.

A :class:`Definition` is a graph with its own Input and Output blocks (its ports), stored once
in the project's :class:`Library`; a *use* of it is an ordinary block whose type is
``module:<Name>``, with its own name, an optional ``repeat`` count and the per-use parameters
the definition declares (:class:`DefinitionParam`: e.g. ``planes`` sets the ``out_channels``
of two convolutions inside). Definitions may use other definitions; a cycle is refused.

The compiler turns every definition into its own ``nn.Module`` subclass; this module only
holds the model. Pure Python: no torch, no Qt.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from studio.blocks.params import Int, Param, Text
from studio.blocks.registry import (
    ROLE_INPUT,
    ROLE_LAYER,
    ROLE_OUTPUT,
    BlockType,
    Port,
    get_block_type,
)
from studio.blocks.text import short_repr
from studio.graph.errors import GraphError
from studio.graph.events import Event
from studio.naming import class_name, snake_case

#: a :class:`studio.graph.model.Graph`, not imported: that module imports this one (a graph
#: holds a library; a library's definitions get their graphs from :attr:`Library.graph_type`)
AnyGraph = Any

MODULE_PREFIX = "module:"
CATEGORY = "Modules"
MAX_REPEAT = 256
#: modules inside modules, at most this many levels (a use of a use of ...): the compiler, the
#: shape inference and the exported code all follow the nesting, so it is bounded when a file
#: is read and when a use is placed; real models nest far less (torchvision/timm: under 10)
MAX_NESTING = 32
_CLASS_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")
_PARAM_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")

REPEAT = Int(
    1,
    "repeat",
    "How many copies run one after another (nn.Sequential); each copy has its own weights.",
    min=1,
    max=MAX_REPEAT,
)


WEIGHTS = Text(
    "",
    "start from weights",
    "A .pt state_dict file this use loads when it is built (an opened Backbone keeps its "
    "pretrained weights this way); empty: fresh weights.",
)


@dataclass(frozen=True)
class DefinitionParam:
    """A per-use parameter: each use sets it, and it sets ``param`` of the inner ``targets``."""

    name: str
    #: (inner block id, parameter name) pairs this parameter sets; the first gives its type
    targets: tuple[tuple[str, str], ...]
    doc: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "targets": [list(t) for t in self.targets]}
        if self.doc:
            d["doc"] = self.doc
        return d


class Definition:
    """One module definition: a name (its class name), its graph and its per-use parameters."""

    def __init__(self, name: str, library: Library, sequential: bool = False) -> None:
        self.name = name
        self.library = library
        #: emitted as ``nn.Sequential(...)`` instead of a class (imported containers)
        self.sequential = sequential
        self.params: dict[str, DefinitionParam] = {}
        self.graph: AnyGraph = library.graph_type(library=library, owner=self)
        #: bumped on every change that can change what a use computes
        self.version = 0
        self._type: BlockType | None = None
        self._type_key: Any = None
        self._type_version: Any = None
        ev = self.graph.events
        for event in (ev.block_added, ev.block_removed, ev.edge_added, ev.edge_removed):
            event.connect(self._structure_changed)
        ev.block_changed.connect(self._block_changed)

    # ------------------------------------------------------------------ ports
    @property
    def type_id(self) -> str:
        return MODULE_PREFIX + self.name

    def input_blocks(self) -> list:
        return [b for b in self.graph.blocks.values() if b.spec.role == ROLE_INPUT]

    def output_blocks(self) -> list:
        return [b for b in self.graph.blocks.values() if b.spec.role == ROLE_OUTPUT]

    def ports(self) -> tuple[tuple[Port, ...], tuple[Port, ...]]:
        """The use's input and output ports: one per Input / Output block, named after it."""
        ins = tuple(Port(b.name) for b in self.input_blocks())
        outs = tuple(Port(b.name) for b in self.output_blocks())
        return ins, outs

    def used_definitions(self) -> set[str]:
        """Names of the definitions this one uses directly."""
        return {
            b.type[len(MODULE_PREFIX) :]
            for b in self.graph.blocks.values()
            if b.type.startswith(MODULE_PREFIX)
        }

    # ------------------------------------------------------------ parameters
    def param_decl(self, name: str) -> Param:
        """The declaration of per-use parameter ``name``: its first target's, with the
        definition's current value as default."""
        dp = self.params[name]
        block_id, pname = dp.targets[0]
        block = self.graph.block(block_id)
        decl = block.spec.params[pname]
        return dataclasses.replace(
            decl, default=block.params[pname], label=name, doc=dp.doc or decl.doc
        )

    def apply(self, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Inner block id -> the parameter values a use with ``values`` gives it."""
        out: dict[str, dict[str, Any]] = {}
        for name, dp in self.params.items():
            if name not in values:
                continue
            for block_id, pname in dp.targets:
                out.setdefault(block_id, {})[pname] = values[name]
        return out

    # ------------------------------------------------------------ block type
    def block_type(self) -> BlockType:
        """The block type of a use: ports from the Input/Output blocks, ``repeat`` and the
        per-use parameters. Rebuilt when they change, so a use always reads the current ones."""
        # every change inside (and inside the definitions it uses) bumps ``version``: reading
        # the ports again walks every nested definition, once per block of every use
        version = (self.version, self.name, tuple(self.params.items()))
        if self._type is not None and version == self._type_version:
            return self._type
        ins, outs = self.ports()
        decls = {"repeat": REPEAT, "weights": WEIGHTS}
        for name in self.params:
            decls[name] = self.param_decl(name)
        key = (self.name, ins, outs, tuple(decls.items()))
        if self._type is None or key != self._type_key:
            n = sum(1 for b in self.graph.blocks.values() if b.spec.role == ROLE_LAYER)
            self._type = BlockType(
                id=self.type_id,
                label=self.name,
                category=CATEGORY,
                description=f"The module {self.name} defined in this project ({n} blocks inside).",
                torch_name=f"{self.name}(nn.Module)",
                emitter=None,
                params=decls,
                inputs=ins,
                outputs=outs,
                name_base=snake_case(self.name),
                definition=self,
            )
            self._type_key = key
        self._type_version = version
        return self._type

    # ---------------------------------------------------------------- events
    def _structure_changed(self, *_: Any) -> None:
        self.touch()

    def _block_changed(self, block: Any, what: str) -> None:
        if what != "position":
            self.touch()

    def touch(self) -> None:
        self.version += 1
        self.library.definition_changed(self)

    # ------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        if self.sequential:
            d["sequential"] = True
        if self.params:
            d["params"] = [p.to_dict() for p in self.params.values()]
        d["graph"] = self.graph.to_dict()
        return d

    def __repr__(self) -> str:
        return f"Definition({self.name!r}, {len(self.graph)} blocks)"


class Library:
    """The project's module definitions, by name. Shared by the top graph and every
    definition's graph; ``spec(type_id)`` resolves block types for all of them."""

    def __init__(self, graph_type: Callable[..., AnyGraph]) -> None:
        #: ``graph_type(library=, owner=)`` makes a definition's graph: the model graph's own
        #: class, handed in by the graph that makes this library
        self.graph_type = graph_type
        self.definitions: dict[str, Definition] = {}
        #: the model's own graph (the one no definition owns)
        self.root: AnyGraph | None = None
        #: ``changed(definition)`` after a definition or anything it uses changed
        self.changed = Event("definition_changed")
        #: ``added(definition)`` / ``removed(definition)``
        self.added = Event("definition_added")
        self.removed = Event("definition_removed")
        self._loading = False

    def __contains__(self, name: object) -> bool:
        return name in self.definitions

    def __iter__(self) -> Iterator[Definition]:
        return iter(self.definitions.values())

    def __len__(self) -> int:
        return len(self.definitions)

    def get(self, name: str) -> Definition:
        try:
            return self.definitions[name]
        except KeyError:
            raise GraphError(f"There is no module definition called {short_repr(name)}.") from None

    def spec(self, type_id: str) -> BlockType:
        if type_id.startswith(MODULE_PREFIX):
            defn = self.definitions.get(type_id[len(MODULE_PREFIX) :])
            if defn is None:
                raise GraphError(
                    f"There is no module definition called {short_repr(type_id[len(MODULE_PREFIX) :])}."
                )
            return defn.block_type()
        return get_block_type(type_id)

    def check_name(self, name: str) -> None:
        if not isinstance(name, str) or not _CLASS_NAME.match(name):
            raise GraphError(
                f"A module name must start with a letter and hold only letters, digits and _ "
                f"(got {short_repr(name)}), e.g. ResidualBlock."
            )
        if name in self.definitions:
            raise GraphError(
                f"A module called {short_repr(name)} already exists; names must be unique."
            )

    def unique_name(self, base: str) -> str:
        """A free definition name from ``base`` (a class name: ``Block``, ``Block2``...)."""
        base = class_name(base, "Block")
        name, i = base, 1
        while name in self.definitions:
            i += 1
            name = f"{base}{i}"
        return name

    def new(self, name: str, sequential: bool = False) -> Definition:
        self.check_name(name)
        defn = Definition(name, self, sequential=sequential)
        self.definitions[name] = defn
        self.added.emit(defn)
        return defn

    def insert(self, defn: Definition) -> None:
        """Put back a definition removed earlier (undo)."""
        self.check_name(defn.name)
        self.definitions[defn.name] = defn
        self.added.emit(defn)
        self.definition_changed(defn)

    def remove(self, name: str) -> Definition:
        defn = self.get(name)
        users = [d.name for d in self if name in d.used_definitions()]
        if users:
            raise GraphError(f"{name} is still used inside {', '.join(users)}.")
        del self.definitions[name]
        self.removed.emit(defn)
        return defn

    def check_use(self, container: Definition | None, type_id: str) -> None:
        """Refuse a use that would make a definition contain itself."""
        if container is None or not type_id.startswith(MODULE_PREFIX):
            return
        used = type_id[len(MODULE_PREFIX) :]
        if used == container.name or container.name in self.reachable(used):
            raise GraphError(
                f"{used} cannot be used inside {container.name}: {used} already contains "
                f"{container.name}, so it would contain itself."
            )
        if self._loading:
            return  # the file's nesting was checked whole before filling (serialize._fill_order)
        levels = self._levels_above(container.name) + self._height(used)
        if levels > MAX_NESTING:
            raise GraphError(
                f"{used} cannot be used inside {container.name}: modules would nest {levels} "
                f"levels deep, and Studio allows at most {MAX_NESTING}."
            )

    def _height(self, name: str) -> int:
        """Levels of modules from ``name`` down (1: it uses no other module)."""
        return _longest(
            name,
            lambda n: [u for u in self.definitions[n].used_definitions() if u in self.definitions],
        )

    def _levels_above(self, name: str) -> int:
        """Levels from the outermost module that contains ``name`` down to ``name`` itself."""
        users: dict[str, list[str]] = {}
        for d in self.definitions.values():
            for u in d.used_definitions():
                users.setdefault(u, []).append(d.name)
        return _longest(name, lambda n: users.get(n, []))

    def reachable(self, name: str) -> set[str]:
        """Every definition ``name`` uses, directly or deeper."""
        seen: set[str] = set()
        stack = [name]
        while stack:
            d = self.definitions.get(stack.pop())
            if d is None:
                continue
            for u in d.used_definitions():
                if u not in seen:
                    seen.add(u)
                    stack.append(u)
        return seen

    def dependency_order(self) -> list[Definition]:
        """Definitions with those they use first (the order their classes are written)."""
        out: list[Definition] = []
        done: set[str] = set()

        def visit(d: Definition, path: tuple[str, ...]) -> None:
            if d.name in done or d.name in path:
                return
            for u in sorted(d.used_definitions()):
                if u in self.definitions:
                    visit(self.definitions[u], (*path, d.name))
            done.add(d.name)
            out.append(d)

        for d in self.definitions.values():
            visit(d, ())
        return out

    @contextlib.contextmanager
    def loading(self) -> Iterator[None]:
        """While a file is read: no change propagates to the definitions that use the one being
        filled (they are filled after it), so reading N definitions is linear, not N x N."""
        self._loading = True
        try:
            yield
        finally:
            self._loading = False

    def definition_changed(self, defn: Definition) -> None:
        """Tell listeners; definitions that use ``defn`` changed too."""
        self.changed.emit(defn)
        if self._loading:
            return
        for other in self.definitions.values():
            if other is not defn and defn.name in other.used_definitions():
                other.touch()

    def uses_of(self, graph: AnyGraph, name: str) -> list:
        return [b for b in graph.blocks.values() if b.type == MODULE_PREFIX + name]

    # ------------------------------------------------------------ (de)serialise
    def to_list(self) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.dependency_order()]


def _longest(start: str, nexts) -> int:
    """The number of names on the longest path from ``start`` along ``nexts`` (no cycles),
    walked with a stack rather than recursion."""
    length: dict[str, int] = {}
    stack = [(start, False)]
    while stack:
        n, done = stack.pop()
        if done:
            length[n] = 1 + max((length[u] for u in nexts(n)), default=0)
        elif n not in length:
            stack.append((n, True))
            stack += [(u, False) for u in nexts(n) if u not in length]
    return length[start]


def blocks_deep(graph: AnyGraph) -> Iterator:
    """Every block of ``graph`` and of every module definition it uses, however deep (each
    definition once): what weights fetching and trust must see, not only the top level."""
    yield from graph.blocks.values()
    library = graph.library
    names = set()
    for b in graph.blocks.values():
        if b.type.startswith(MODULE_PREFIX):
            name = b.type[len(MODULE_PREFIX) :]
            names.add(name)
            names |= library.reachable(name)
    for name in sorted(names):
        if name in library:
            yield from library.get(name).graph.blocks.values()
