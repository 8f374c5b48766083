"""Graph <-> plain dicts, with careful checks: a bad file gives one clear message."""

from __future__ import annotations

from typing import Any

from studio.blocks.params import ParamError
from studio.blocks.registry import UnknownBlockType
from studio.blocks.text import short_repr
from studio.graph import file_keys
from studio.graph.errors import GraphError


class FormatError(ValueError):
    """The data is not a valid graph; the message says where and why."""


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise FormatError(message)


def _known_keys(d: dict, declared: tuple[str, ...], where: str) -> None:
    unknown = file_keys.first_unknown(d, declared, f"key in {where}:")
    _expect(unknown is None, unknown or "")


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) < 1e9


def graph_from_dict(graph, data: Any):
    """Fill the empty ``graph`` from ``data``; raises :class:`FormatError` saying what is wrong."""
    _expect(isinstance(data, dict), "'graph' must be an object with 'blocks' and 'edges'")
    _known_keys(data, file_keys.GRAPH, "'graph'")
    blocks = data.get("blocks", [])
    edges = data.get("edges", [])
    _expect(isinstance(blocks, list), "'blocks' must be a list")
    _expect(isinstance(edges, list), "'edges' must be a list")
    for i, b in enumerate(blocks):
        where = f"block {i + 1}"
        _expect(isinstance(b, dict), f"{where} must be an object")
        bid, btype, name = b.get("id"), b.get("type"), b.get("name")
        _expect(isinstance(bid, str) and bid != "", f"{where} needs a text 'id'")
        _expect(isinstance(btype, str), f"{where} ({short_repr(bid)}) needs a text 'type'")
        _expect(isinstance(name, str), f"{where} ({short_repr(bid)}) needs a text 'name'")
        _known_keys(b, file_keys.BLOCK, f"block {short_repr(name)}")
        try:
            spec = graph.library.spec(btype)
        except (UnknownBlockType, GraphError):
            raise FormatError(f"block {short_repr(name)} has an unknown type {short_repr(btype)}") from None
        params = b.get("params", {})
        _expect(isinstance(params, dict), f"block {short_repr(name)}: 'params' must be an object")
        version = b.get("version", spec.version)
        _expect(isinstance(version, int) and not isinstance(version, bool), f"block {short_repr(name)}: bad 'version'")
        _expect(version <= spec.version, f"block {short_repr(name)} was saved by a newer Studio (type version {short_repr(version)})")
        if version < spec.version and spec.migrate is not None:
            params = spec.migrate(dict(params), version)
        pos = b.get("position", [0, 0])
        _expect(
            isinstance(pos, list) and len(pos) == 2 and all(_is_num(v) for v in pos),
            f"block {short_repr(name)}: 'position' must be two numbers",
        )
        frozen = b.get("frozen", False)
        _expect(isinstance(frozen, bool), f"block {short_repr(name)}: 'frozen' must be true or false")
        try:
            graph.add_block(
                btype, name=name, params=params, position=(pos[0], pos[1]), frozen=frozen, id=bid
            )
        except ParamError as e:
            raise FormatError(f"block {short_repr(name)}: {e}") from None
        except GraphError as e:
            raise FormatError(f"block {short_repr(name)}: {e}") from None
    for i, e in enumerate(edges):
        where = f"edge {i + 1}"
        _expect(isinstance(e, dict), f"{where} must be an object")
        _known_keys(e, file_keys.EDGE, where)
        eid, src, dst = e.get("id"), e.get("from"), e.get("to")
        _expect(isinstance(eid, str) and eid != "", f"{where} needs a text 'id'")
        for end, label in ((src, "from"), (dst, "to")):
            _expect(
                isinstance(end, list) and len(end) == 2 and all(isinstance(x, str) for x in end),
                f"{where}: '{label}' must be [block id, port name]",
            )
        try:
            graph.connect(src[0], src[1], dst[0], dst[1], id=eid, strict=False)
        except GraphError as err:
            raise FormatError(f"{where}: {err}") from None
    return graph


def library_from_list(library, data: Any) -> None:
    """Fill ``library`` from the project's ``modules`` list: every definition is created first,
    then their graphs are filled, those a definition uses before it."""
    from studio.graph.modules import MODULE_PREFIX, DefinitionParam

    _expect(isinstance(data, list), "'modules' must be a list")
    raw: dict[str, dict] = {}
    for i, d in enumerate(data):
        _expect(isinstance(d, dict), f"module {i + 1} must be an object")
        name = d.get("name")
        _expect(isinstance(name, str), f"module {i + 1} needs a text 'name'")
        _expect(name not in raw, f"two modules are called {short_repr(name)}")
        _known_keys(d, file_keys.MODULE, f"module {short_repr(name)}")
        sequential = d.get("sequential", False)
        _expect(isinstance(sequential, bool), f"module {short_repr(name)}: 'sequential' must be true or false")
        try:
            library.new(name, sequential=sequential)
        except GraphError as e:
            raise FormatError(f"module {short_repr(name)}: {e}") from None
        raw[name] = d

    def uses(d: dict) -> set[str]:
        blocks = (d.get("graph") or {}).get("blocks", []) if isinstance(d.get("graph"), dict) else []
        return {
            b["type"][len(MODULE_PREFIX):]
            for b in blocks
            if isinstance(b, dict) and isinstance(b.get("type"), str) and b["type"].startswith(MODULE_PREFIX)
        }

    filled: set[str] = set()

    def fill(name: str, path: tuple[str, ...]) -> None:
        if name in filled:
            return
        _expect(name not in path, f"module {short_repr(name)} contains itself (through {' > '.join(path)})")
        for used in sorted(uses(raw[name])):
            if used in raw:
                fill(used, (*path, name))
        defn = library.get(name)
        graph_from_dict(defn.graph, raw[name].get("graph", {}))
        _params_from_list(defn, raw[name].get("params", []), DefinitionParam)
        filled.add(name)

    for name in raw:
        fill(name, ())


def _params_from_list(defn, data: Any, DefinitionParam) -> None:
    where = f"module {short_repr(defn.name)}"
    _expect(isinstance(data, list), f"{where}: 'params' must be a list")
    for p in data:
        _expect(isinstance(p, dict), f"{where}: each parameter must be an object")
        name, targets = p.get("name"), p.get("targets")
        _expect(isinstance(name, str) and name.isidentifier(), f"{where}: a parameter needs a name")
        _known_keys(p, file_keys.MODULE_PARAM, f"{where}, parameter {short_repr(name)}")
        _expect(isinstance(targets, list) and targets, f"{where}: parameter {short_repr(name)} needs 'targets'")
        pairs = []
        for t in targets:
            _expect(
                isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t),
                f"{where}: parameter {short_repr(name)}: each target is [block id, parameter]",
            )
            block = defn.graph.blocks.get(t[0])
            _expect(block is not None, f"{where}: parameter {short_repr(name)} names a missing block")
            _expect(t[1] in block.spec.params, f"{where}: {block.name} has no parameter {short_repr(t[1])}")
            pairs.append((t[0], t[1]))
        doc = p.get("doc", "")
        _expect(isinstance(doc, str), f"{where}: parameter {short_repr(name)}: 'doc' must be text")
        defn.params[name] = DefinitionParam(name, tuple(pairs), doc)
