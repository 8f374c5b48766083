"""Module definitions -> their own ``nn.Module`` classes, written once, before their users.

Every use of a definition is analysed with its own input shapes and per-use values
(:class:`~studio.compiler.analysis.UseResult`), so each use (each repeated copy) gives the
definition's code with its own numbers: ``nn.Conv2d(64, 128, 3, stride=2)`` in one use,
``nn.Conv2d(128, 128, 3)`` in another. The class is what they have in common: the lines are
parsed, the literals that differ between uses become ``__init__`` arguments (one argument for
values that always vary together, named after the definition's per-use parameter when one
matches, otherwise after the keyword or torch's own argument name), and each use is written
as a call with its own values: ``BasicBlock(64, 128, stride=2)``. Uses whose code differs in
more than literals get a class each (``BasicBlock``, ``BasicBlock2``). A definition marked
``sequential`` (an imported ``nn.Sequential``) is written as ``nn.Sequential(...)`` of its
blocks' constructors, so its ``state_dict`` keys are ``0.weight``, ``1.weight``...
"""

from __future__ import annotations

import ast
import copy
import functools
import inspect
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from studio import pyast
from studio.blocks.params import ParamError
from studio.blocks.registry import IMPORT_NN, IMPORT_TORCH, EmitContext, Emitted, fmt_value
from studio.compiler.analysis import Analysis, UseResult
from studio.compiler.forward import Forward, Lines, emit_methods
from studio.graph.modules import Definition
from studio.naming import Namespace

_CALL_LINE = re.compile(r"^(\w+) = self\.(\w+)\((\w+)\)$")
_ATTR_LINE = re.compile(r"^self\.(\w+) = (.+)$", re.S)
_SELF_ATTR = re.compile(r"\bself\.(_\d+)\(")
_POSITIONAL = 2  # a use's first arguments are written without their names


@dataclass
class _Body:
    """One use's code of a definition, before the uses are brought together."""

    copy: Analysis
    state: Forward
    returns: list[str]
    init: list[tuple[str, str]]  # (block id, statement)

    def skeleton(self) -> tuple:
        """What must be equal for two uses to share a class: everything but literals."""
        return (
            tuple(_skeleton(text) for _, text in self.init),
            tuple(t for _, lines in self.state.fwd_parts for t in lines),
            tuple(t for _, lines in self.state.train_parts for t in lines),
            tuple(v for v, _ in self.state.args),
            tuple(self.returns),
        )


@dataclass
class _Slot:
    """A literal that differs between the uses of a class: one ``__init__`` argument."""

    hint: str
    values: tuple[Any, ...]
    name: str = ""
    positions: list[tuple[int, tuple]] = field(default_factory=list)


@dataclass
class ClassCode:
    name: str
    lines: list[str]
    #: 1-based line within ``lines`` -> id of the block (in the definition's graph) it runs
    line_blocks: dict[int, str] = field(default_factory=dict)


class Classes:
    """The classes of all definitions the model uses, and each use's constructor call."""

    def __init__(self, analysis: Analysis, reserved: set[str]) -> None:
        self.classes: list[ClassCode] = []
        self.imports: set[str] = set()
        self._ctor: dict[int, str] = {}  # id(copy analysis) -> constructor expression
        self._class_ns = Namespace(set(reserved))
        self._signatures: dict[str, list[str]] = {}
        copies: dict[str, list[Analysis]] = {}
        _collect(analysis, copies, set())
        self._counts: dict[int, int] = {}
        _count(analysis, self._counts)
        library = analysis.graph.library
        for defn in library.dependency_order():
            if copies.get(defn.name):
                self._write(defn, copies[defn.name])

    # ------------------------------------------------------------------ uses
    def emit_use(self, c: EmitContext, result: UseResult) -> Emitted:
        """The lines of one use: ``self.layer1 = BasicBlock(64, 64)`` and its call; a repeated
        use is an ``nn.Sequential`` (one input) or an ``nn.ModuleList`` looped over."""
        emitted = self._use_lines(c, result)
        path = str(c.params.get("weights", "") or "").strip()
        if path and not c.inference:  # weights_only: a file is read as tensors, never run
            emitted.init.append(
                f"{c.self_attr}.load_state_dict(torch.load({path!r}, map_location='cpu', weights_only=True))"
            )
            emitted.imports.add(IMPORT_TORCH)
        return emitted

    def _use_lines(self, c: EmitContext, result: UseResult) -> Emitted:
        exprs = [self._ctor[id(copy)] for copy in result.copies]
        args = ", ".join(x for x in c.inputs if x is not None)
        outs = ", ".join(c.outputs)
        if len(exprs) == 1:
            return Emitted(
                init=[f"{c.self_attr} = {exprs[0]}"], forward=[f"{outs} = {c.self_attr}({args})"]
            )
        if len(set(exprs)) == 1:
            items = f"[{exprs[0]} for _ in range({len(exprs)})]"
            if len(exprs[0]) > 40:  # a long constructor: one per line reads (and wraps) better
                items = f"[{', '.join(exprs)}]"
        else:
            items = f"[{', '.join(exprs)}]"
        if len(c.inputs) == 1:
            container = (
                f"nn.Sequential(*{items})"
                if "for _" in items
                else f"nn.Sequential({', '.join(exprs)})"
            )
            return Emitted(
                init=[f"{c.self_attr} = {container}"],
                forward=[f"{outs} = {c.self_attr}({args})"],
                imports={IMPORT_NN},
            )
        layer = c.temp("layer")
        first, rest = c.inputs[0], [x for x in c.inputs[1:] if x is not None]
        lines = [] if c.out == first else [f"{c.out} = {first}"]
        lines += [
            f"for {layer} in {c.self_attr}:",
            f"    {c.out} = {layer}({', '.join([c.out, *rest])})",
        ]
        return Emitted(
            init=[f"{c.self_attr} = nn.ModuleList({items})"], forward=lines, imports={IMPORT_NN}
        )

    # --------------------------------------------------------------- classes
    def _write(self, defn: Definition, copies: list[Analysis]) -> None:
        keep: frozenset[str] = frozenset()
        groups = _group([self._body(defn, c, keep) for c in copies])
        differing = _differing_blocks(groups) if len(groups) > 1 else frozenset()
        if differing:
            retried = _group([self._body(defn, c, differing) for c in copies])
            if len(retried) < len(groups):
                keep, groups = differing, retried
        for group in groups:
            if defn.sequential and (self._write_sequential(group) or self._write_list(defn, group)):
                continue
            self._write_class(defn, group, self._probes(defn, group, keep))

    def _probes(self, defn: Definition, group: list[_Body], keep: frozenset[str]) -> list[_Body]:
        """For each per-use parameter all uses agree on, the code with a nearby value, so the
        literals it sets (and those that follow from it, like the next layer's in_channels)
        still become the class's argument. Only where the nearby value gives a valid model."""
        out: list[_Body] = []
        first = group[0].copy
        if defn.used_definitions():  # their classes are written already, for the real values
            return out
        for name in defn.params:
            if len({repr(b.copy.values.get(name)) for b in group}) > 1:
                continue
            decl = defn.param_decl(name)
            for candidate in _nearby(first.values.get(name, decl.default)):
                try:
                    candidate = decl.coerce(candidate, name)
                except ParamError:
                    continue
                probe = first.with_values({**first.values, name: candidate})
                if probe.errors:
                    continue
                body = self._body(defn, probe, keep)
                if body.skeleton() == group[0].skeleton():
                    out.append(body)
                    break
        return out

    def _body(self, defn: Definition, copy: Analysis, keep: frozenset[str]) -> _Body:
        graph = defn.graph
        order, _ = graph.topological_order()
        state = Forward(graph, order, defn.name, uses=self, keep_defaults=keep)
        state.bind_inputs()
        for bid in order:
            if graph.blocks[bid].spec.role == "layer":
                state.emit_layer(bid, copy)
        init = [(bid, text) for bid, lines in state.init_parts for text in lines]
        return _Body(copy, state, state.returns(), init)

    def _write_sequential(self, group: list[_Body]) -> bool:
        """``nn.Sequential(a, b, ...)`` for each use, when every block is one module called
        on the previous one's output."""
        exprs = []
        for body in group:
            children = []
            by_block = {bid: lines for bid, lines in body.state.init_parts}
            last = body.state.args[0][0] if len(body.state.args) == 1 else None
            for bid, lines in body.state.fwd_parts:
                m = _CALL_LINE.match(lines[0]) if len(lines) == 1 else None
                init = by_block.get(bid, [])
                if m is None or len(init) != 1 or not init[0].startswith(f"self.{m.group(2)} = "):
                    return False
                if m.group(3) != last or m.group(2) != f"_{len(children)}":
                    return False  # not a chain, or a child left out: _write_list
                last = m.group(1)
                children.append(init[0].split(" = ", 1)[1])
            if len(children) != len(body.state.fwd_parts) or not children:
                return False
            exprs.append(f"nn.Sequential({', '.join(children)})")
        for body, expr in zip(group, exprs):
            self._ctor[id(body.copy)] = expr
            self.imports |= body.state.imports
        self.imports.add(IMPORT_NN)
        return True

    def _write_list(self, defn: Definition, group: list[_Body]) -> bool:
        """An ``nn.ModuleList`` whose children are each called once on their own input
        (hrnet's ``transition1``): a subclass holding the children as ``0``, ``1``... (the
        original keys) with a ``forward`` that calls ``self[0]``, ``self[1]``...; one use only."""
        if len(group) != 1:
            return False
        body = group[0]
        by_block = {bid: lines for bid, lines in body.state.init_parts}
        children, index = [], {}
        for bid, _ in body.state.fwd_parts:
            init = by_block.get(bid, [])
            if not init:
                continue  # an operation between two children (edgenext's sp + spx[i])
            m = _ATTR_LINE.match(init[0]) if len(init) == 1 else None
            k = int(m.group(1)[1:]) if m and re.fullmatch(r"_\d+", m.group(1)) else -1
            if k < len(children):
                return False
            children += ["nn.Identity()"] * (k - len(children))  # a child never called
            index[m.group(1)] = k
            children.append(m.group(2))
        if not children:
            return False
        parts = []
        for bid, lines in body.state.fwd_parts:
            calls = [_SELF_ATTR.sub(lambda m: f"self[{index[m.group(1)]}](", t) for t in lines]
            parts.append((bid, calls))
        name = self._class_ns.create_name(defn.name)
        self._ctor[id(body.copy)] = f"{name}()"
        self.imports |= body.state.imports | {IMPORT_NN}
        state = copy.copy(body.state)
        state.fwd_parts = parts
        state.train_parts = []
        emit = Lines()
        emit(f"class {name}(nn.ModuleList):")
        emit(f'"""{_doc(defn, self._counts.get(id(body.copy), 1))}"""', indent=1)
        emit("")
        emit("def __init__(self) -> None:", indent=1)
        emit("super().__init__(", indent=2)
        emit("[", indent=3)
        for child in children:
            emit(f"{child},", indent=4)
        emit("]", indent=3)
        emit(")", indent=2)
        emit("")
        sig = "".join(f", {var}: torch.Tensor" for var, _ in state.args)
        n = len(body.returns)
        ret = "torch.Tensor" if n == 1 else f"tuple[{', '.join(['torch.Tensor'] * n)}]"
        emit(f"def forward(self{sig}) -> {ret}:", indent=1)
        emit.parts(parts, indent=2)
        emit(f"return {', '.join(body.returns)}", indent=2)
        self.classes.append(ClassCode(name, emit.lines, emit.line_blocks))
        return True

    def _write_class(self, defn: Definition, group: list[_Body], probes: list[_Body]) -> None:
        name = self._class_ns.create_name(defn.name)
        bodies = group + probes
        # a line every use writes alike has no literal to turn into an argument: not parsed
        # (a large index buffer written as a literal takes seconds to parse once per use)
        same = [len({b.init[i][1] for b in bodies}) == 1 for i in range(len(group[0].init))]
        trees = [
            [None if same[i] else _parse(t) for i, (_, t) in enumerate(b.init)] for b in bodies
        ]
        slots = _slots(trees, [dict(b.copy.values) for b in group + probes], defn, self._signatures)
        first = group[0]
        init_lines = []
        for i, (bid, text) in enumerate(first.init):
            mine = [s for s in slots for (line, _) in s.positions if line == i]
            init_lines.append(
                (bid, _substitute(trees[0][i], slots, i) if mine and trees[0][i] else text)
            )
        params = slots
        self._signatures[name] = [s.name for s in params]
        for body in group:
            values = [s.values[group.index(body)] for s in params]
            self._ctor[id(body.copy)] = _call(name, [s.name for s in params], values)
        state = first.state
        self.imports |= state.imports
        emit = Lines()
        emit(f"class {name}(nn.Module):")
        emit(f'"""{_doc(defn, sum(self._counts.get(id(b.copy), 1) for b in group))}"""', indent=1)
        emit("")
        args = "".join(f", {s.name}{_hint(s.values)}" for s in params)
        emit_methods(emit, name, state, first.returns, init_lines, args)
        self.classes.append(ClassCode(name, emit.lines, emit.line_blocks))


def _collect(analysis: Analysis, copies: dict[str, list[Analysis]], seen: set[int]) -> None:
    """Every analysed copy of every definition, nested ones too, in the order they are met
    (uses with the same inputs and values share one analysed copy)."""
    for result in analysis.use_results.values():
        for inner in result.copies:
            if id(inner) in seen:
                continue
            seen.add(id(inner))
            copies.setdefault(inner.graph.owner.name, []).append(inner)
            _collect(inner, copies, seen)


def _count(analysis: Analysis, counts: dict[int, int]) -> None:
    """How many module instances each analysed copy stands for in the whole model."""
    for result in analysis.use_results.values():
        for inner in result.copies:
            counts[id(inner)] = counts.get(id(inner), 0) + 1
            _count(inner, counts)


def _group(bodies: list[_Body]) -> list[list[_Body]]:
    groups: dict[tuple, list[_Body]] = {}
    for b in bodies:
        groups.setdefault(b.skeleton(), []).append(b)
    return list(groups.values())


def _differing_blocks(groups: list[list[_Body]]) -> frozenset[str]:
    """Blocks whose ``__init__`` lines differ in more than literals between groups (often a
    keyword left out where it equals torch's default)."""
    out: set[str] = set()
    keys = [dict((bid, _skeleton(t)) for bid, t in g[0].init) for g in groups]
    for bid in set().union(*keys):
        if len({k.get(bid) for k in keys}) > 1:
            out.add(bid)
    return frozenset(out)


# ------------------------------------------------------------------- literals
def _parse(text: str) -> ast.stmt | None:
    try:
        tree = pyast.parse(text)
    except SyntaxError:
        return None
    return tree.body[0] if len(tree.body) == 1 else None


def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant)
    if isinstance(node, (ast.Tuple, ast.List)):
        return all(_is_literal(e) for e in node.elts)
    return False


@functools.lru_cache(maxsize=4096)
def _skeleton(text: str) -> str:
    """The line with every literal blanked (its AST dumped): two uses share a class where their
    lines' skeletons agree. Lines that differ only in their numbers and plain strings (each
    use's ``nn.Conv2d(64, 128, 3)``) share one parse: :func:`_literal_blind` gives them one
    key, and the first line met with a key is parsed for all (resnet50's 16 blocks in a new
    process: 6 ms of parsing and dumping 240 lines, against 1 ms for their 25 keys)."""
    key = _literal_blind(text)
    known = _SKELETONS.get(key) if key is not None else None
    if known is not None:
        return known
    tree = _parse(text)
    if tree is None:
        return text  # its own skeleton: never keyed, a line that parses may share its key
    skeleton = ast.dump(_Blank().visit(tree))
    if key is not None:
        if len(_SKELETONS) >= _KEYS_KEPT:
            _SKELETONS.clear()
        _SKELETONS[key] = skeleton
    return skeleton


class _Blank(ast.NodeTransformer):
    def visit(self, node):
        if isinstance(node, ast.expr) and _is_literal(node):
            return ast.Name("_", ast.Load())
        return super().visit(node)


#: :func:`_literal_blind` key -> the skeleton of the first line met with it that parsed
_SKELETONS: dict[str, str] = {}
_KEYS_KEPT = 4096
#: a plain string (no prefix, escape or line break), or a decimal number
_LITERAL = re.compile(
    r"""(?<![\w.])(?:'[^'\\\n]*'|"[^"\\\n]*"|"""
    r"(?:0(?:_?0)*|[1-9](?:_?\d)*)(?:\.\d(?:_?\d)*)?(?:[eE][-+]?\d(?:_?\d)*)?)"
)
#: what shows that a literal was not taken whole, or is of another kind: a digit not inside a
#: name, a quote or backslash left, a comment, a mark followed by a letter, digit or dot
#: (``1.e5`` is one number, ``1.5.e5`` an attribute of one)
_LEFT_OVER = re.compile(r"""(?<!\w)\d|['"#\\]|\0[\w.]""")


def _literal_blind(text: str) -> str | None:
    """``text`` with each number and plain string replaced by one mark, or None where that
    cannot show the line's structure. Lines with one key differ only in the values of those
    literals, each a whole token (the tokenizer ends a number or a string where the pattern
    does), so they parse to trees that differ only in those constants: one skeleton."""
    if "\0" in text:
        return None
    key = _LITERAL.sub("\0", text)
    if _LEFT_OVER.search(key):
        return None
    return key


def _walk(node: ast.AST, own: dict[str, list[str]] | None, path: tuple = (), hint: str = "value"):
    """(path, node, hint) for every literal in ``node``; the hint names the argument (``own``
    None: no hints, each is "value")."""
    if isinstance(node, ast.expr) and _is_literal(node):
        yield path, node, hint
        return
    if isinstance(node, ast.Call):
        func = node.func
        for i, a in enumerate(node.args):
            named = _positional_name(func, i, own) if own is not None else "value"
            yield from _walk(a, own, (*path, "args", i), named)
        for j, k in enumerate(node.keywords):
            yield from _walk(k.value, own, (*path, "kw", j), k.arg or "value")
        yield from _walk(func, own, (*path, "func"), hint)
        return
    for fname, value in ast.iter_fields(node):
        if isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, ast.AST):
                    yield from _walk(v, own, (*path, fname, i), hint)
        elif isinstance(value, ast.AST):
            yield from _walk(value, own, (*path, fname), hint)


_TORCH_SIGNATURES: dict[str, list[str]] = {}


def _positional_name(func: ast.expr, i: int, own: dict[str, list[str]]) -> str:
    """The name of the i-th positional argument of ``func``: torch's (``nn.Conv2d`` 1 ->
    ``out_channels``) or that of a class written before."""
    text = ast.unparse(func)
    names = own.get(text)
    if names is None:
        names = _TORCH_SIGNATURES.get(text)
    if names is None:
        names = []
        if text.startswith(("nn.", "torch.", "F.")):
            try:
                obj = eval(text, {"torch": torch, "nn": nn, "F": torch.nn.functional})  # noqa: S307 - emitted names only
                names = [
                    p.name
                    for p in inspect.signature(obj).parameters.values()
                    if p.name != "self" and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                ]
            except (AttributeError, NameError, TypeError, ValueError, SyntaxError):
                names = []
        _TORCH_SIGNATURES[text] = names
    return names[i] if i < len(names) else "value"


def _literal_value(node: ast.expr) -> Any:
    """:func:`ast.literal_eval` of a literal (:func:`_is_literal`), a number or string directly."""
    if isinstance(node, ast.Constant):
        return node.value
    return pyast.literal_eval(node)


def _slots(
    trees: list[list], values: list[dict], defn: Definition, own: dict[str, list[str]]
) -> list[_Slot]:
    """The literals that differ between the uses, one slot per argument position."""
    slots: list[_Slot] = []
    by_values: dict[tuple[str, ...], _Slot] = {}  # keyed on repr: a literal list is unhashable
    for line in range(len(trees[0])):
        if trees[0][line] is None:
            continue
        # the first use's hints name the slots (the others' would be the same names)
        walks = [list(_walk(t[line], own if n == 0 else None)) for n, t in enumerate(trees)]
        for k, (path, _, hint) in enumerate(walks[0]):
            vals = tuple(_literal_value(w[k][1]) for w in walks)
            if len({repr(v) for v in vals}) == 1:
                continue
            key = tuple(repr(v) for v in vals)
            slot = by_values.get(key)
            if slot is None:
                slot = by_values[key] = _Slot(hint, vals)
                slots.append(slot)
            slot.positions.append((line, path))
    names = Namespace({"self", "torch", "nn", "F", *own})
    declared = {name: tuple(v.get(name) for v in values) for name in defn.params}
    for slot in slots:
        match = next((n for n, vec in declared.items() if vec == slot.values), None)
        slot.name = names.create_name(match or slot.hint)
    return slots


def _substitute(tree: ast.stmt, slots: list[_Slot], line: int) -> str:
    """The line's text with its slots' literals replaced by their names, written into ``tree``
    itself (parsed for this class alone, read no more after this)."""
    targets = {path: s.name for s in slots for (ln, path) in s.positions if ln == line}

    def replace(node: ast.AST, path: tuple) -> ast.AST:
        if path in targets:
            return ast.Name(targets[path], ast.Load())
        if isinstance(node, ast.Call):
            node.args = [replace(a, (*path, "args", i)) for i, a in enumerate(node.args)]
            for j, k in enumerate(node.keywords):
                k.value = replace(k.value, (*path, "kw", j))
            node.func = replace(node.func, (*path, "func"))
            return node
        for fname, value in ast.iter_fields(node):
            if isinstance(value, list):
                setattr(
                    node,
                    fname,
                    [
                        replace(v, (*path, fname, i)) if isinstance(v, ast.AST) else v
                        for i, v in enumerate(value)
                    ],
                )
            elif isinstance(value, ast.AST):
                setattr(node, fname, replace(value, (*path, fname)))
        return node

    return ast.unparse(replace(tree, ()))


def _nearby(value: Any) -> list[Any]:
    """Values next to ``value`` to probe with (None: nothing sensible)."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [value * 0.5 if value else 0.5]
    if (
        isinstance(value, tuple)
        and value
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        return [tuple(v + 1 for v in value)]
    return []


def _call(cls: str, names: list[str], values: list[Any]) -> str:
    parts = [
        fmt_value(v) if i < _POSITIONAL else f"{n}={fmt_value(v)}"
        for i, (n, v) in enumerate(zip(names, values))
    ]
    return f"{cls}({', '.join(parts)})"


def _hint(values: tuple) -> str:
    kinds = {type(v) for v in values}
    if len(kinds) != 1:
        return ""
    kind = kinds.pop()
    if kind in (int, float, bool, str):
        return f": {kind.__name__}"
    if kind is tuple and all(isinstance(x, int) for v in values for x in v):
        return ": tuple[int, ...]"
    return ""


def _doc(defn: Definition, n: int) -> str:
    uses = "once" if n == 1 else f"{n} times"
    text = f"{defn.name}: a module defined in Studio, used {uses} in this model."
    if len(text) > 78:  # the class's docstring line stays within 88 characters
        text = f"{defn.name}: defined in Studio, used {uses}."
    return text
