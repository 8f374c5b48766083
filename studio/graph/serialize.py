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


def _is_end(v: Any) -> bool:
    """A wire's end: [block id, port name]."""
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], str)


# Below, every check builds its message only when it fails: a block's eight messages built and
# thrown away were about 30% of opening a 5,000-block file. tests/graph/test_serialize_messages.py
# pins each message word for word.
_BLOCK_KEYS = frozenset(file_keys.BLOCK)
_EDGE_KEYS = frozenset(file_keys.EDGE)


def graph_from_dict(graph, data: Any):
    """Fill the empty ``graph`` from ``data``; raises :class:`FormatError` saying what is wrong."""
    _expect(isinstance(data, dict), "'graph' must be an object with 'blocks' and 'edges'")
    _known_keys(data, file_keys.GRAPH, "'graph'")
    blocks = data.get("blocks", [])
    edges = data.get("edges", [])
    _expect(isinstance(blocks, list), "'blocks' must be a list")
    _expect(isinstance(edges, list), "'edges' must be a list")
    for i, b in enumerate(blocks):
        _add_block(graph, i, b)
    for i, e in enumerate(edges):
        _add_edge(graph, i, e)
    return graph


def _add_block(graph, i: int, b: Any) -> None:
    """The file's block number ``i + 1`` added to ``graph``."""
    if not isinstance(b, dict):
        raise FormatError(f"block {i + 1} must be an object")
    bid, btype, name = b.get("id"), b.get("type"), b.get("name")
    if not (isinstance(bid, str) and bid != ""):
        raise FormatError(f"block {i + 1} needs a text 'id'")
    if not isinstance(btype, str):
        raise FormatError(f"block {i + 1} ({short_repr(bid)}) needs a text 'type'")
    if not isinstance(name, str):
        raise FormatError(f"block {i + 1} ({short_repr(bid)}) needs a text 'name'")
    if not b.keys() <= _BLOCK_KEYS:
        _known_keys(b, file_keys.BLOCK, f"block {short_repr(name)}")
    try:
        spec = graph.library.spec(btype)
    except (UnknownBlockType, GraphError):
        raise FormatError(
            f"block {short_repr(name)} has an unknown type {short_repr(btype)}"
        ) from None
    params = b.get("params", {})
    if not isinstance(params, dict):
        raise FormatError(f"block {short_repr(name)}: 'params' must be an object")
    version = b.get("version", spec.version)
    if not isinstance(version, int) or isinstance(version, bool):
        raise FormatError(f"block {short_repr(name)}: bad 'version'")
    if version > spec.version:
        raise FormatError(
            f"block {short_repr(name)} was saved by a newer Studio "
            f"(type version {short_repr(version)})"
        )
    if version < spec.version and spec.migrate is not None:
        params = spec.migrate(dict(params), version)
    pos = b.get("position", [0, 0])
    if not (isinstance(pos, list) and len(pos) == 2 and _is_num(pos[0]) and _is_num(pos[1])):
        raise FormatError(f"block {short_repr(name)}: 'position' must be two numbers")
    frozen = b.get("frozen", False)
    if not isinstance(frozen, bool):
        raise FormatError(f"block {short_repr(name)}: 'frozen' must be true or false")
    try:
        graph.add_block(
            btype, name=name, params=params, position=(pos[0], pos[1]), frozen=frozen, id=bid
        )
    except (ParamError, GraphError) as e:
        raise FormatError(f"block {short_repr(name)}: {e}") from None


def _add_edge(graph, i: int, e: Any) -> None:
    """The file's wire number ``i + 1`` added to ``graph``."""
    if not isinstance(e, dict):
        raise FormatError(f"edge {i + 1} must be an object")
    if not e.keys() <= _EDGE_KEYS:
        _known_keys(e, file_keys.EDGE, f"edge {i + 1}")
    eid, src, dst = e.get("id"), e.get("from"), e.get("to")
    if not (isinstance(eid, str) and eid != ""):
        raise FormatError(f"edge {i + 1} needs a text 'id'")
    if not _is_end(src):
        raise FormatError(f"edge {i + 1}: 'from' must be [block id, port name]")
    if not _is_end(dst):
        raise FormatError(f"edge {i + 1}: 'to' must be [block id, port name]")
    try:
        graph.connect(src[0], src[1], dst[0], dst[1], id=eid, strict=False)
    except GraphError as err:
        raise FormatError(f"edge {i + 1}: {err}") from None


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
        _expect(
            isinstance(sequential, bool),
            f"module {short_repr(name)}: 'sequential' must be true or false",
        )
        try:
            library.new(name, sequential=sequential)
        except GraphError as e:
            raise FormatError(f"module {short_repr(name)}: {e}") from None
        raw[name] = d

    def uses(d: dict) -> set[str]:
        blocks = (
            (d.get("graph") or {}).get("blocks", []) if isinstance(d.get("graph"), dict) else []
        )
        return {
            b["type"][len(MODULE_PREFIX) :]
            for b in blocks
            if isinstance(b, dict)
            and isinstance(b.get("type"), str)
            and b["type"].startswith(MODULE_PREFIX)
        }

    order = _fill_order(raw, uses)
    with library.loading():  # no change propagation per block: each definition is filled once
        for name in order:
            defn = library.get(name)
            graph_from_dict(defn.graph, raw[name].get("graph", {}))
            _params_from_list(defn, raw[name].get("params", []), DefinitionParam)


def _fill_order(raw: dict[str, dict], uses) -> list[str]:
    """The definitions, each after those it uses (Kahn's algorithm: no recursion, linear in the
    definitions and uses). A cycle, or nesting deeper than ``MAX_NESTING``, is a FormatError."""
    from studio.graph.modules import MAX_NESTING

    used = {name: sorted(u for u in uses(d) if u in raw) for name, d in raw.items()}
    users: dict[str, list[str]] = {name: [] for name in raw}
    waiting = {name: len(u) for name, u in used.items()}
    for name, us in used.items():
        for u in us:
            users[u].append(name)
    depth = dict.fromkeys(raw, 1)
    ready = [name for name, n in waiting.items() if n == 0]
    order: list[str] = []
    while ready:
        name = ready.pop()
        order.append(name)
        for user in users[name]:
            depth[user] = max(depth[user], depth[name] + 1)
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    if len(order) < len(raw):
        stuck = next(name for name, n in waiting.items() if n)
        chain, seen = [stuck], {stuck}
        while True:  # walk the uses that wait until a name repeats: that is the cycle
            nxt = next(u for u in used[chain[-1]] if waiting[u])
            if nxt in seen:
                cycle = chain[chain.index(nxt) :] + [nxt]
                break
            chain.append(nxt)
            seen.add(nxt)
        raise FormatError(
            f"module {short_repr(cycle[0])} contains itself (through {' > '.join(cycle[:6])}"
            f"{' > ...' if len(cycle) > 6 else ''})"
        )
    deepest = max(depth.values(), default=0)
    if deepest > MAX_NESTING:
        top = max(depth, key=depth.get)
        raise FormatError(
            f"modules nest {deepest} levels deep (from {short_repr(top)}); Studio reads at most "
            f"{MAX_NESTING} levels of modules inside modules"
        )
    # keep the file's order where the uses allow it (the order classes are listed in)
    position = {name: i for i, name in enumerate(raw)}
    return _stable_topological(order, used, position)


def _stable_topological(
    order: list[str], used: dict[str, list[str]], position: dict[str, int]
) -> list[str]:
    """``order`` rearranged to follow the file's order where the uses allow (heap by position)."""
    import heapq

    waiting = {name: len(u) for name, u in used.items()}
    users: dict[str, list[str]] = {name: [] for name in used}
    for name, us in used.items():
        for u in us:
            users[u].append(name)
    heap = [(position[n], n) for n in order if waiting[n] == 0]
    heapq.heapify(heap)
    out = []
    while heap:
        _, name = heapq.heappop(heap)
        out.append(name)
        for user in users[name]:
            waiting[user] -= 1
            if waiting[user] == 0:
                heapq.heappush(heap, (position[user], user))
    return out


def _params_from_list(defn, data: Any, DefinitionParam) -> None:
    where = f"module {short_repr(defn.name)}"
    _expect(isinstance(data, list), f"{where}: 'params' must be a list")
    for p in data:
        _expect(isinstance(p, dict), f"{where}: each parameter must be an object")
        name, targets = p.get("name"), p.get("targets")
        _expect(isinstance(name, str) and name.isidentifier(), f"{where}: a parameter needs a name")
        _expect(
            name not in ("repeat", "weights"),
            f"{where}: a parameter cannot be called {name!r}; every use has that setting already",
        )
        _known_keys(p, file_keys.MODULE_PARAM, f"{where}, parameter {short_repr(name)}")
        _expect(
            isinstance(targets, list) and targets,
            f"{where}: parameter {short_repr(name)} needs 'targets'",
        )
        pairs = []
        for t in targets:
            _expect(
                isinstance(t, list) and len(t) == 2 and all(isinstance(x, str) for x in t),
                f"{where}: parameter {short_repr(name)}: each target is [block id, parameter]",
            )
            block = defn.graph.blocks.get(t[0])
            _expect(
                block is not None, f"{where}: parameter {short_repr(name)} names a missing block"
            )
            _expect(
                t[1] in block.spec.params,
                f"{where}: {block.name} has no parameter {short_repr(t[1])}",
            )
            pairs.append((t[0], t[1]))
        doc = p.get("doc", "")
        _expect(isinstance(doc, str), f"{where}: parameter {short_repr(name)}: 'doc' must be text")
        defn.params[name] = DefinitionParam(name, tuple(pairs), doc)
