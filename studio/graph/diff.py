"""What changed between two projects: blocks added, removed and changed (parameter by parameter),
renamed and moved, wires, module definitions, training settings and search ranges. Pure Python.

Blocks are matched by structure, not only by id, so a copy whose blocks were renamed, moved or
re-created (other ids) still lines up:

1. the same id and the same type;
2. then, among blocks of the same type left over, the same name;
3. then, repeatedly, the pair of the same type joined to the most already-matched neighbours
   through the same ports (ties broken by equal parameters); when no pair is joined to any, a
   type left exactly once on each side pairs up and seeds the next round.

What is left is removed (in A) or added (in B). The generated code's unified diff needs the
compiler; `code_diff` turns two texts into one (the command line passes it the generated code).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

#: position changes smaller than this (scene units) are not a move
MOVE_EPSILON = 0.5


@dataclass
class BlockChange:
    a: str  # block id in A
    b: str  # block id in B
    name_a: str
    name_b: str
    type: str
    params: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (old, new)
    frozen: tuple[bool, bool] | None = None
    moved: bool = False

    @property
    def renamed(self) -> bool:
        return self.name_a != self.name_b

    @property
    def changed(self) -> bool:
        """A change that alters the model (params, frozen); a rename or a move does not."""
        return bool(self.params) or self.frozen is not None

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"a": self.a, "b": self.b, "name": self.name_b, "type": self.type}
        if self.renamed:
            d["renamed_from"] = self.name_a
        if self.params:
            d["params"] = {k: {"old": o, "new": n} for k, (o, n) in self.params.items()}
        if self.frozen is not None:
            d["frozen"] = {"old": self.frozen[0], "new": self.frozen[1]}
        if self.moved:
            d["moved"] = True
        return d


@dataclass
class GraphDiff:
    added: list[tuple[str, str, str]] = field(default_factory=list)  # (id in B, name, type)
    removed: list[tuple[str, str, str]] = field(default_factory=list)  # (id in A, name, type)
    matched: list[BlockChange] = field(default_factory=list)
    wires_added: list[str] = field(default_factory=list)  # "fc1.out -> relu.in" with B's names
    wires_removed: list[str] = field(default_factory=list)  # with A's names

    @property
    def changed(self) -> list[BlockChange]:
        return [c for c in self.matched if c.changed]

    @property
    def renamed(self) -> list[BlockChange]:
        return [c for c in self.matched if c.renamed]

    @property
    def moved(self) -> list[BlockChange]:
        return [c for c in self.matched if c.moved]

    @property
    def empty(self) -> bool:
        return not (
            self.added
            or self.removed
            or self.changed
            or self.renamed
            or self.wires_added
            or self.wires_removed
        )

    def mapping(self) -> dict[str, str]:
        """Block id in A -> block id in B for every matched block."""
        return {c.a: c.b for c in self.matched}

    def to_json(self) -> dict[str, Any]:
        return {
            "added": [{"id": i, "name": n, "type": t} for i, n, t in self.added],
            "removed": [{"id": i, "name": n, "type": t} for i, n, t in self.removed],
            "changed": [c.to_json() for c in self.matched if c.changed or c.renamed],
            "moved": [c.name_b for c in self.moved],
            "wires_added": self.wires_added,
            "wires_removed": self.wires_removed,
        }


@dataclass
class ProjectDiff:
    graph: GraphDiff
    modules_added: list[str] = field(default_factory=list)
    modules_removed: list[str] = field(default_factory=list)
    modules_changed: dict[str, GraphDiff] = field(default_factory=dict)
    settings: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # dotted key -> (old, new)
    search: dict[str, tuple[str, str]] = field(default_factory=dict)  # range label -> (old, new)
    code: str = ""  # unified diff of the generated code ('' when equal or not computed)

    @property
    def empty(self) -> bool:
        return (
            self.graph.empty
            and not self.modules_added
            and not self.modules_removed
            and not self.modules_changed
            and not self.settings
            and not self.search
            and not self.code
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "blocks": self.graph.to_json(),
            "modules": {
                "added": self.modules_added,
                "removed": self.modules_removed,
                "changed": {k: v.to_json() for k, v in self.modules_changed.items()},
            },
            "settings": {k: {"old": o, "new": n} for k, (o, n) in self.settings.items()},
            "search": {k: {"old": o, "new": n} for k, (o, n) in self.search.items()},
            "code": self.code,
        }

    def to_text(self, code: bool = True) -> str:
        lines: list[str] = []
        _graph_text(self.graph, lines, "")
        for name in self.modules_added:
            lines.append(f"+ module {name}")
        for name in self.modules_removed:
            lines.append(f"- module {name}")
        for name, d in self.modules_changed.items():
            lines.append(f"~ module {name}:")
            _graph_text(d, lines, "    ")
        for key, (old, new) in self.settings.items():
            lines.append(f"~ setting {key}: {_show(old)} -> {_show(new)}")
        for key, (old, new) in self.search.items():
            lines.append(f"~ search {key}: {old or '(none)'} -> {new or '(none)'}")
        if not lines:
            lines.append("The models and settings are the same.")
        if code and self.code:
            lines += ["", self.code.rstrip("\n")]
        return "\n".join(lines)


def _graph_text(d: GraphDiff, lines: list[str], indent: str) -> None:
    for _, name, type_ in d.added:
        lines.append(f"{indent}+ block {name} ({type_})")
    for _, name, type_ in d.removed:
        lines.append(f"{indent}- block {name} ({type_})")
    for c in d.matched:
        if c.renamed:
            lines.append(f"{indent}~ block {c.name_a} renamed to {c.name_b}")
        for k, (old, new) in c.params.items():
            lines.append(f"{indent}~ block {c.name_b}: {k} {_show(old)} -> {_show(new)}")
        if c.frozen is not None:
            lines.append(
                f"{indent}~ block {c.name_b}: {'frozen' if c.frozen[1] else 'no longer frozen'}"
            )
    for w in d.wires_added:
        lines.append(f"{indent}+ wire {w}")
    for w in d.wires_removed:
        lines.append(f"{indent}- wire {w}")
    if d.moved:
        lines.append(
            f"{indent}  moved on the canvas (no change to the model): "
            + ", ".join(c.name_b for c in d.moved)
        )


def _show(v: Any) -> str:
    if isinstance(v, float):  # a sampled learning rate: 0.0160519, not 0.01605191133358762
        return f"{v:.6g}"
    return "(unset)" if v is _MISSING else repr(v)


_MISSING = type("Missing", (), {"__repr__": lambda self: "(unset)"})()


# --------------------------------------------------------------------------------- matching
def match_blocks(a, b) -> dict[str, str]:
    """Block id in graph ``a`` -> block id in graph ``b`` (see the module docstring)."""
    pairs: dict[str, str] = {}
    taken: set[str] = set()

    def pair(x: str, y: str) -> None:
        pairs[x] = y
        taken.add(y)

    for x, bx in a.blocks.items():
        by = b.blocks.get(x)
        if by is not None and by.type == bx.type:
            pair(x, x)
    by_name = {blk.name: blk for blk in b.blocks.values()}
    for x, bx in a.blocks.items():
        if x in pairs:
            continue
        by = by_name.get(bx.name)
        if by is not None and by.id not in taken and by.type == bx.type:
            pair(x, by.id)
    links_a, links_b = _links(a), _links(b)
    while True:
        best, best_score = None, (0, 0)
        for x, bx in a.blocks.items():
            if x in pairs:
                continue
            for y, by in b.blocks.items():
                if y in taken or by.type != bx.type:
                    continue
                joined = sum(
                    1 for (n, port) in links_a[x] if n in pairs and (pairs[n], port) in links_b[y]
                )
                if not joined:
                    continue
                score = (joined, int(bx.params == by.params))
                if score > best_score:
                    best, best_score = (x, y), score
        if best is not None:
            pair(*best)
            continue
        # nothing joined to a match: a type left exactly once on each side is a pair (a seed)
        left_a: dict[str, list[str]] = {}
        left_b: dict[str, list[str]] = {}
        for x, bx in a.blocks.items():
            if x not in pairs:
                left_a.setdefault(bx.type, []).append(x)
        for y, by in b.blocks.items():
            if y not in taken:
                left_b.setdefault(by.type, []).append(y)
        seeds = [
            (xs[0], left_b[t][0])
            for t, xs in left_a.items()
            if len(xs) == 1 and len(left_b.get(t, [])) == 1
        ]
        if not seeds:
            return pairs
        pair(*seeds[0])


def _links(g) -> dict[str, set[tuple[str, str]]]:
    """Each block's neighbours with the ports that join them, from its own side and theirs."""
    out: dict[str, set[tuple[str, str]]] = {bid: set() for bid in g.blocks}
    for e in g.edges.values():
        out[e.dst].add((e.src, f"in:{e.src_port}>{e.dst_port}"))
        out[e.src].add((e.dst, f"out:{e.src_port}>{e.dst_port}"))
    return out


def diff_graphs(a, b) -> GraphDiff:
    pairs = match_blocks(a, b)
    d = GraphDiff()
    for x, bx in a.blocks.items():
        if x not in pairs:
            d.removed.append((x, bx.name, bx.type))
            continue
        by = b.blocks[pairs[x]]
        c = BlockChange(x, by.id, bx.name, by.name, by.type)
        for k in dict.fromkeys([*bx.params, *by.params]):
            old, new = bx.params.get(k, _MISSING), by.params.get(k, _MISSING)
            if old != new:
                c.params[k] = (old, new)
        if bx.frozen != by.frozen:
            c.frozen = (bx.frozen, by.frozen)
        c.moved = any(abs(p - q) > MOVE_EPSILON for p, q in zip(bx.position, by.position))
        d.matched.append(c)
    matched_b = set(pairs.values())
    d.added = [(y, by.name, by.type) for y, by in b.blocks.items() if y not in matched_b]
    wires_a = {
        (pairs.get(e.src, "A:" + e.src), e.src_port, pairs.get(e.dst, "A:" + e.dst), e.dst_port)
        for e in a.edges.values()
    }
    wires_b = {(e.src, e.src_port, e.dst, e.dst_port) for e in b.edges.values()}
    back = {y: x for x, y in pairs.items()}

    def name(graph, bid: str) -> str:
        return graph.blocks[bid].name

    for w in sorted(wires_b - wires_a):
        d.wires_added.append(f"{name(b, w[0])}.{w[1]} -> {name(b, w[2])}.{w[3]}")
    for w in sorted(wires_a - wires_b):
        src = w[0][2:] if w[0].startswith("A:") else back[w[0]]
        dst = w[2][2:] if w[2].startswith("A:") else back[w[2]]
        d.wires_removed.append(f"{name(a, src)}.{w[1]} -> {name(a, dst)}.{w[3]}")
    return d


def diff_projects(a, b, code_a: str | None = None, code_b: str | None = None, ignore=()) -> ProjectDiff:
    """Everything that differs from project ``a`` to ``b``; with both codes, their unified diff.
    ``ignore`` names training settings that are not the user's (how often a run reports)."""
    out = ProjectDiff(diff_graphs(a.graph, b.graph))
    lib_a = {d.name: d for d in a.graph.library}
    lib_b = {d.name: d for d in b.graph.library}
    out.modules_added = [n for n in lib_b if n not in lib_a]
    out.modules_removed = [n for n in lib_a if n not in lib_b]
    for n in lib_a:
        if n in lib_b:
            gd = diff_graphs(lib_a[n].graph, lib_b[n].graph)
            params_a = {p.name: p.to_dict() for p in lib_a[n].params.values()}
            params_b = {p.name: p.to_dict() for p in lib_b[n].params.values()}
            if not gd.empty or params_a != params_b:
                out.modules_changed[n] = gd
    flat_a, flat_b = flatten(a.training), flatten(b.training)
    for k in dict.fromkeys([*flat_a, *flat_b]):
        old, new = flat_a.get(k, _MISSING), flat_b.get(k, _MISSING)
        if old != new and k not in ignore:
            out.settings[k] = (old, new)
    ranges_a = {r.label(a.graph): r.describe() for r in a.search.ranges}
    ranges_b = {r.label(b.graph): r.describe() for r in b.search.ranges}
    for k in dict.fromkeys([*ranges_a, *ranges_b]):
        if ranges_a.get(k) != ranges_b.get(k):
            out.search[k] = (ranges_a.get(k, ""), ranges_b.get(k, ""))
    if code_a is not None and code_b is not None:
        out.code = code_diff(code_a, code_b)
    return out


def code_diff(a: str, b: str, name_a: str = "a/model.py", name_b: str = "b/model.py") -> str:
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), name_a, name_b))


def flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    """A nested settings dict as dotted keys (``optimizer.lr``)."""
    out: dict[str, Any] = {}
    if not isinstance(d, dict):
        return out
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
