"""Mutated project files for the fuzz tests: a seeded generator, derived from every example.

Each mutant is ``(label, bytes)``; the label says which mutation made it, so a failure can be
reproduced from the seed and the index. The mutations are those a careless or hostile user
produces: truncation, flipped bytes, a wrong JSON type in any field, huge and negative
numbers, very long and non-UTF-8 text, lone surrogates, NaN, deep nesting, unknown block types,
duplicate ids and edges to blocks that do not exist; and well-formed files whose shapes, block
types or wiring no longer fit, so that many reach shape inference and code generation.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXAMPLES = sorted(Path(__file__).resolve().parents[1].joinpath("resources", "examples").glob("*.studio.json"))

_ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 1, -(2**63), 2**64, 10**300, 1e308, -1e-308, 0.5, -7.25, "", "x",
    "\udfff", "é" * 3, "A" * 5000, "relu", [], [0, 0], [[[]]], {}, {"a": 1}, [1] * 40, 2**31 - 1,
]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in the JSON tree (the paths of its keys and list indexes)."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _text(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=True, allow_nan=True).encode("utf-8")


class Mutator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.docs = [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES]
        self.raw = [p.read_bytes() for p in EXAMPLES]
        self.paths = [_paths(d) for d in self.docs]

    # ------------------------------------------------------------- byte-level
    def truncate(self, raw: bytes, doc) -> bytes:
        return raw[: self.rng.randrange(len(raw))]

    def flip_bytes(self, raw: bytes, doc) -> bytes:
        data = bytearray(raw)
        for _ in range(self.rng.randint(1, 8)):
            data[self.rng.randrange(len(data))] = self.rng.randrange(256)
        return bytes(data)

    def not_utf8(self, raw: bytes, doc) -> bytes:
        i = raw.find(b'"name": "') + 9
        return raw[:i] + self.rng.choice([b"\xff\xfe", b"\xc3", b"\xed\xa0\x80", b"\x00"]) + raw[i:]

    # ------------------------------------------------------------- tree-level
    def wrong_type(self, raw: bytes, doc, paths) -> bytes:
        return _text(_set(doc, self.rng.choice(paths), self.rng.choice(_ODD_VALUES)))

    def numbers(self, raw: bytes, doc, paths) -> bytes:
        numeric = [p for p in paths if isinstance(_get(doc, p), (int, float)) and not isinstance(_get(doc, p), bool)]
        path = self.rng.choice(numeric or paths)
        value = self.rng.choice([-1, 0, -(10**18), 10**18, 2**70, 10**4000, 1e300, -0.0, 3.5])
        if value == 10**4000:  # json.dumps cannot write it: splice the digits in
            text = _text(_set(doc, path, "@@")).replace(b'"@@"', b"9" * 4400)
            return text
        return _text(_set(doc, path, value))

    def non_finite(self, raw: bytes, doc, paths) -> bytes:
        where = self.rng.choice(["training", "metadata", "position", "param"])
        value = self.rng.choice([float("nan"), float("inf"), float("-inf")])
        if where in ("training", "metadata"):
            doc.setdefault(where, {})["x"] = value
        elif where == "position":
            doc["graph"]["blocks"][0]["position"] = [value, 0]
        else:
            block = self.rng.choice(doc["graph"]["blocks"])
            block.setdefault("params", {})[self.rng.choice(list(block.get("params") or {"p": 0}))] = value
        return _text(doc)

    def long_text(self, raw: bytes, doc, paths) -> bytes:
        strings = [p for p in paths if isinstance(_get(doc, p), str)]
        value = self.rng.choice(["x" * 200_000, "\udfff" * 3, "ä\u202e" * 500, "'; import os #", "\n\r\t"])
        return _text(_set(doc, self.rng.choice(strings), value))

    def deep(self, raw: bytes, doc, paths) -> bytes:
        depth = self.rng.choice([50, 500, 5000, 100_000])
        nested = "[" * depth + "]" * depth
        where = self.rng.choice(["metadata", "training", "params"])
        text = _text({**doc, where: "@@"} if where != "params" else doc)
        if where == "params":
            doc["graph"]["blocks"][-1]["params"] = "@@"
            text = _text(doc)
        return text.replace(b'"@@"', nested.encode())

    def unknown_type(self, raw: bytes, doc, paths) -> bytes:
        block = self.rng.choice(doc["graph"]["blocks"])
        block["type"] = self.rng.choice(["no_such_block", "Linear", "", "custom_module", "x" * 10_000, "hub_model"])
        return _text(doc)

    def duplicate_ids(self, raw: bytes, doc, paths) -> bytes:
        blocks, edges = doc["graph"]["blocks"], doc["graph"]["edges"]
        if self.rng.random() < 0.5 and len(blocks) > 1:
            blocks[1]["id"] = blocks[0]["id"]
        elif edges:
            edges.append(copy.deepcopy(self.rng.choice(edges)))
        if self.rng.random() < 0.3:
            blocks[-1]["name"] = blocks[0]["name"]
        return _text(doc)

    def missing_ends(self, raw: bytes, doc, paths) -> bytes:
        edges = doc["graph"]["edges"]
        if edges:
            edge = self.rng.choice(edges)
            end = self.rng.choice(["from", "to"])
            edge[end] = self.rng.choice([["ghost", "out"], [edge[end][0], "nope"], [edge[end][0]], "b1"])
        if self.rng.random() < 0.5 and doc["graph"]["blocks"]:
            doc["graph"]["blocks"].pop(self.rng.randrange(len(doc["graph"]["blocks"])))
        return _text(doc)

    def rewire(self, raw: bytes, doc, paths) -> bytes:
        """Valid JSON and types, but the wiring is scrambled (loops, wrong ports, dangling)."""
        blocks, edges = doc["graph"]["blocks"], doc["graph"]["edges"]
        ids = [b["id"] for b in blocks]
        for edge in edges:
            if self.rng.random() < 0.3:
                edge["from"][0] = self.rng.choice(ids)
            if self.rng.random() < 0.3:
                edge["to"][0] = self.rng.choice(ids)
        if edges and self.rng.random() < 0.5:
            edges.pop(self.rng.randrange(len(edges)))
        return _text(doc)

    def params(self, raw: bytes, doc, paths) -> bytes:
        """One block's parameter set to an odd but well-typed value."""
        block = self.rng.choice(doc["graph"]["blocks"])
        params = block.setdefault("params", {})
        key = self.rng.choice(list(params) or ["unknown"])
        old = params.get(key)
        if isinstance(old, list):
            value = self.rng.choice([[], [0], [-1], [1] * 9, [10**6] * len(old), [2**40], old[::-1] + old])
        elif isinstance(old, bool):
            value = not old
        elif isinstance(old, int):
            value = self.rng.choice([0, -1, 1, 10**6, 10**9, 2**62, old * 1000])
        elif isinstance(old, float):
            value = self.rng.choice([0.0, -1.0, 1e30, 1e-30, 1.0])
        else:
            value = self.rng.choice(["", "nonsense", "torch.nn:Identity", "os:system", "evil:Evil", "../x.py:X"])
        params[key] = value
        return _text(doc)

    def input_shape(self, raw: bytes, doc, paths) -> bytes:
        """A well-formed but different Input shape: the file loads, inference meets odd sizes."""
        for block in doc["graph"]["blocks"]:
            if block["type"] == "input":
                dims = [self.rng.choice([1, 2, 3, 7, 16, 64, 1000]) for _ in range(self.rng.randint(1, 4))]
                block.setdefault("params", {})["shape"] = dims
        return _text(doc)

    def swap_type(self, raw: bytes, doc, paths) -> bytes:
        """A block becomes another known type with its defaults: wiring and shapes no longer fit."""
        from studio.blocks.registry import all_block_types

        block = self.rng.choice(doc["graph"]["blocks"])
        block["type"] = self.rng.choice([t.id for t in all_block_types() if t.id not in ("hub_model",)])
        block["params"] = {}
        block.pop("version", None)
        return _text(doc)

    # ------------------------------------------------------------------ driver
    BYTE_LEVEL = ("truncate", "flip_bytes", "not_utf8")
    TREE_LEVEL = (
        "wrong_type", "numbers", "non_finite", "long_text", "deep", "unknown_type",
        "duplicate_ids", "missing_ends", "rewire", "params", "input_shape", "swap_type",
    )

    def mutants(self, n: int) -> Iterator[tuple[str, bytes]]:
        kinds = self.BYTE_LEVEL + self.TREE_LEVEL
        for i in range(n):
            k = i % len(self.docs)
            kind = kinds[(i // len(self.docs)) % len(kinds)] if i < len(kinds) * len(self.docs) else self.rng.choice(kinds)
            raw, doc = self.raw[k], copy.deepcopy(self.docs[k])
            fn = getattr(self, kind)
            data = fn(raw, doc) if kind in self.BYTE_LEVEL else fn(raw, doc, self.paths[k])
            if self.rng.random() < 0.15 and kind in self.TREE_LEVEL:  # sometimes two at once
                doc2 = json.loads(data) if _loads_ok(data) else None
                if doc2 is not None:
                    try:  # the first mutation may have left no place for the second
                        data = getattr(self, self.rng.choice(self.TREE_LEVEL))(data, doc2, _paths(doc2))
                    except (KeyError, IndexError, TypeError, AttributeError, ValueError):
                        pass
            yield f"{i}:{EXAMPLES[k].name}:{kind}", data


def _loads_ok(data: bytes) -> bool:
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


MAX_MESSAGE = 400


def short_line(message: str) -> bool:
    return "\n" not in message and len(message) <= MAX_MESSAGE and "Traceback" not in message


def through_the_pipeline(data: bytes) -> str:
    """Load, validate, infer shapes, generate (and compile) the code, write it back: what
    Studio does with a file. Returns "refused" (one short line), "invalid" (problems shown on
    blocks) or "ok"; anything else escapes as an exception, which is the bug."""
    from studio.compiler import analyze, generate
    from studio.graph.project import ProjectError, dumps, loads
    from studio.graph.validation import validate

    try:
        project = loads(data, "fuzz.studio.json")
    except ProjectError as e:
        assert short_line(str(e)), str(e)[:1000]
        return "refused"
    validate(project.graph)
    analysis = analyze(project.graph)
    try:
        for d in analysis.diagnostics:
            assert short_line(d.describe(project.graph)), d.describe(project.graph)[:1000]
        dumps(project)  # what was loaded can be saved again
        if not analysis.ok:
            return "invalid"
        code = generate(project.graph, project.name, analysis=analysis)
        compile(code.source, "<fuzz>", "exec")
        return "ok"
    finally:
        analysis.close()
