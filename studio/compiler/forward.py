"""Walking one graph in forward order: each value's expression, the variables in use and the
``__init__`` / ``forward`` / ``train`` lines of every block. Used for the model's class and for
the class of every module definition (:mod:`studio.compiler.modulegen`)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

from studio.blocks.registry import (
    BATCH,
    IMPORT_NN,
    IMPORT_TORCH,
    KEEP_DEFAULTS,
    ROLE_INPUT,
    ROLE_OUTPUT,
    EmitContext,
)
from studio.graph.model import Graph
from studio.naming import Namespace

if TYPE_CHECKING:
    from studio.compiler.analysis import Analysis

INDENT = "    "
MAX_LINE = 88
#: the statements written between two yields of :func:`emit_method_steps`
LINES_PER_STEP = 32

T = TypeVar("T")


def finish(steps: Generator[None, None, T]) -> T:
    """Run a generator of steps (:func:`emit_method_steps`, ``codegen.generate_steps``) to its
    end and give what it returns."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


class Forward:
    """What walking the graph in forward order collects: each value's expression, the
    variables in use and the ``__init__`` / ``forward`` / ``train`` lines of every block."""

    def __init__(
        self,
        graph: Graph,
        order: list[str],
        cls: str,
        uses: Any = None,
        keep_defaults: frozenset[str] = frozenset(),
        reserved: frozenset[str] = frozenset(),
    ) -> None:
        self.graph = graph
        self.order = order
        self.cls = cls
        #: writes the lines of a module definition's use (``modulegen.Classes``)
        self.uses = uses
        #: blocks whose emitters write every keyword, torch's defaults included
        self.keep_defaults = keep_defaults
        self.attr_ns = Namespace({cls}, attrs=True)
        self.var_ns = Namespace({cls, "torch", "nn", "self", *reserved})
        # type hints use torch; the base class is nn.Module
        self.imports = {IMPORT_TORCH, IMPORT_NN}
        # the expression holding each (block, output port) value, and the position of its last
        # reader in forward order: a variable can be reused once its last reader has run
        self.value: dict[tuple[str, str], str] = {}
        self.position = {bid: i for i, bid in enumerate(order)}
        self.last_reader: dict[tuple[str, str], float] = {}
        self.n_readers: dict[tuple[str, str], int] = {}
        for e in graph.edges.values():
            role = graph.blocks[e.dst].spec.role
            at = float("inf") if role == ROLE_OUTPUT else self.position[e.dst]
            key = (e.src, e.src_port)
            self.last_reader[key] = max(self.last_reader.get(key, -1.0), at)
            self.n_readers[key] = self.n_readers.get(key, 0) + 1
        self.local_vars: set[str] = set()
        self.birth: dict[str, int] = {}
        self.args: list[tuple[str, str]] = []
        self.init_parts: list[tuple[str, list[str]]] = []
        self.train_parts: list[tuple[str, list[str]]] = []
        self.fwd_parts: list[tuple[str, list[str]]] = []
        self.attrs: dict[str, str] = {}
        #: the blocks that wrote each variable (its maker, then those that overwrote it), and
        #: each combining block (add, concat...) that overwrote one of its inputs' variables
        self.writers: dict[str, list[str]] = {}
        self.merges: list[tuple[str, str, list[str]]] = []
        #: block id -> (the variable its one statement sets, a variable of the same batch size
        #: that statement reads, or None): a statement a chaining block may join (`_chain`)
        self.heads: dict[str, tuple[str, str | None]] = {}
        self.joined: dict[str, str] = {}  # a block joined to another's statement -> that block
        self._named = False

    def bind_inputs(self) -> None:
        """Name the forward() arguments, one per Input block, in the graph's block order."""
        graph = self.graph
        inputs = [graph.blocks[b] for b in self.order if graph.blocks[b].spec.role == ROLE_INPUT]
        inputs.sort(key=lambda b: list(graph.blocks).index(b.id))
        for b in inputs:
            var = self.var_ns.create_name(b.name, obj=b.id)
            self.value[(b.id, "out")] = var
            self.local_vars.add(var)
            self.birth[var] = len(self.birth)
            self.args.append((var, b.id))

    def returns(self) -> list[str]:
        """The expression of each Output block's value, in block order; asking for it ends the
        walk, so the residual branches get their names first (`name_branches`)."""
        if not self._named:
            self.name_branches()
        out = []
        for b in self.graph.blocks.values():
            if b.spec.role == ROLE_OUTPUT:
                e = self.graph.edge_into(b.id, "in")
                out.append(self.value[(e.src, e.src_port)])
        return out

    def name_branches(self) -> None:
        """Name the branches of each residual merge as torchvision writes them: the longest
        chain of layers merged (``out = self.conv1(x) ... out = self.bn2(out)``) is ``out``, a
        shorter one (a downsampling shortcut) ``identity``; a forward argument and a variable
        only one layer wrote keep their names (they say what they hold)."""
        finish(self.name_branch_steps())

    def name_branch_steps(self) -> Generator[None, None, None]:
        """:meth:`name_branches` in steps: a yield after each merge and every few blocks'
        statements renamed."""
        self._named = True
        arguments = {var for var, _ in self.args}
        renames: dict[str, str] = {}
        taken: dict[str, list[tuple[float, float]]] = {}  # a given name -> the spans it names
        for bid, kept, others in self.merges:
            at = self.position[bid]
            length = {v: sum(self.position[w] < at for w in self.writers.get(v, ())) for v in [kept, *others]}
            chains = [v for v in [kept, *others] if v not in arguments and v not in renames and length[v] > 1]
            chains.sort(key=lambda v: -length[v])
            for i, var in enumerate(chains):
                span = self._span(var)
                base = "out" if i == 0 else "identity"
                spans = taken.get(base)
                if spans is None and base in self.var_ns:
                    continue  # a layer or argument of that name: keep the layer's name
                if spans and any(a <= span[1] and span[0] <= b for a, b in spans):
                    continue  # two branches alive at once: they keep their layers' names
                taken.setdefault(base, []).append(span)
                self.var_ns.create_name(base)
                renames[var] = base
            yield
        if renames:
            yield from self._rename(renames)

    def _span(self, var: str) -> tuple[float, float]:
        """From the block that made `var` to its last reader, in forward order."""
        start = self.position[self.writers[var][0]]
        end = max((self.last_reader.get(key, start) for key, v in self.value.items() if v == var), default=start)
        return start, end

    def _rename(self, renames: dict[str, str]) -> Generator[None, None, None]:
        self.value = {key: renames.get(v, v) for key, v in self.value.items()}
        self.local_vars = {renames.get(v, v) for v in self.local_vars}
        parts = []
        for n, (bid, lines) in enumerate(self.fwd_parts, 1):
            parts.append((bid, [rename_names(t, renames) for t in lines]))
            if n % LINES_PER_STEP == 0:
                yield
        self.fwd_parts = parts

    def _reusable(self, bid: str, in_exprs: list[str | None]) -> str | None:
        """An input's variable this block may overwrite (x = self.fc1(x)): when this block is
        its only reader, or when it merges branches and is the variable's last reader
        (x = branch + x); of several, the oldest variable: the main stream, not the branch."""
        block = self.graph.blocks[bid]
        merging = sum(x is not None for x in in_exprs) > 1
        if merging and not callable(block.spec.inputs):
            return None  # named inputs (attention's query, key, value): the result is a new value
        free = [
            expr
            for port, expr in zip(block.input_ports(), in_exprs)
            if expr in self.local_vars
            and (e := self.graph.edge_into(bid, port.name)) is not None
            and self.last_reader.get((e.src, e.src_port)) == self.position[bid]
            and (merging or self.n_readers[(e.src, e.src_port)] == 1)
        ]
        return min(free, key=lambda v: self.birth[v]) if free else None

    def emit_layer(self, bid: str, analysis: Analysis) -> None:
        """Run one layer block's emitter and record its lines and output values."""
        graph = self.graph
        block = graph.blocks[bid]
        spec = block.spec
        params = analysis.params_of(block)
        info = analysis.block_info(bid)
        in_exprs: list[str | None] = []
        for port in block.input_ports():
            e = graph.edge_into(bid, port.name)
            in_exprs.append(self.value[(e.src, e.src_port)] if e is not None else None)
        out_ports = block.output_ports()
        reuse = self._reusable(bid, in_exprs) if len(out_ports) == 1 else None
        if reuse and spec.value_name and spec.value_name not in self.var_ns:
            reuse = self.var_ns.create_name(spec.value_name)  # another kind of value: its own name
        # several outputs: the first is named after the block, the others after their port
        # too (``lstm, (lstm_h_n, lstm_c_n) = self.lstm(x)``)
        outs = [reuse] if reuse else [
            self.var_ns.create_name(block.name if i == 0 else f"{block.name}_{port.name}")
            for i, port in enumerate(out_ports)
        ]
        for v in outs:
            self.birth.setdefault(v, len(self.birth))
        attr = self.attr_ns.create_name(block.name, obj=bid)
        var_ns = self.var_ns
        ctx = EmitContext(
            attr=attr,
            params=params,
            inputs=in_exprs,
            outputs=outs,
            in_shapes=list(info.in_shapes) or [None] * len(in_exprs),
            in_dtypes=[None] * len(in_exprs),
            frozen=block.frozen,
            namer=lambda base: var_ns.create_name(base),
            trust=analysis.trust,
        )
        if spec.definition is not None:
            emitted = self.uses.emit_use(ctx, analysis.use_results[bid])
        else:
            token = KEEP_DEFAULTS.set(bid in self.keep_defaults)
            try:
                emitted = spec.emitter.emit(ctx)
            finally:
                KEEP_DEFAULTS.reset(token)
        self.imports |= emitted.imports
        init_lines = list(emitted.init)
        if block.frozen and init_lines:
            init_lines.append(f"self.{attr}.requires_grad_(False)")
        if init_lines:
            self.attrs[bid] = attr
            self.init_parts.append((bid, init_lines))
        if emitted.output_exprs is not None:
            for port, expr in zip(out_ports, emitted.output_exprs):
                self.value[(bid, port.name)] = expr
        else:
            for port, var in zip(out_ports, outs):
                self.value[(bid, port.name)] = var
                self.local_vars.add(var)
                self.writers.setdefault(var, []).append(bid)
            others = [x for x in in_exprs if x in self.local_vars and x != reuse]
            if reuse is not None and others and callable(spec.inputs):
                self.merges.append((bid, reuse, others))
        if emitted.forward and not (spec.chains and self._chain(bid, in_exprs, outs, emitted.forward, info)):
            self.fwd_parts.append((bid, emitted.forward))
            self._head(bid, in_exprs, outs, emitted.forward, info)
        if emitted.train:
            self.train_parts.append((bid, emitted.train))

    def _head(self, bid: str, in_exprs: list[str | None], outs: list[str], forward: list[str], info) -> None:
        """Remember a one-line statement ``v = self.fc(x)`` (a call, an attribute or an item)
        that a chaining block may join, and a variable it reads whose first size is the
        batch's, as its own is (a joined reshape's ``v.shape[0]`` becomes ``x.shape[0]``)."""
        if len(forward) != 1 or len(outs) != 1 or not forward[0].startswith(f"{outs[0]} = "):
            return
        try:
            value = ast.parse(forward[0]).body[0].value
        except (SyntaxError, AttributeError, IndexError):
            return
        if not isinstance(value, (ast.Call, ast.Attribute, ast.Subscript)):
            return
        batched = _batched(info.out_shapes[:1])
        refs = [x for x, shape in zip(in_exprs, info.in_shapes, strict=False)
                if x in self.local_vars and batched and _batched([shape])]
        self.heads[bid] = (outs[0], refs[0] if refs else None)

    def _chain(self, bid: str, in_exprs: list[str | None], outs: list[str], forward: list[str], info) -> bool:
        """Join a chaining block's ``v = v.transpose(1, 2)`` to the statement just before it
        that made `v` (``v = self.query(x)``), when this block is `v`'s only reader (it
        overwrites `v`) and the line stays short; True when joined. The line belongs to the
        statement's block (a traceback or a cost names the layer, not the reshape)."""
        var = outs[0] if len(outs) == 1 and len(forward) == 1 else None
        if var is None or in_exprs[:1] != [var] or not forward[0].startswith(f"{var} = {var}.") or not self.fwd_parts:
            return False
        head, lines = self.fwd_parts[-1]
        edge = self.graph.edge_into(bid, self.graph.blocks[bid].input_ports()[0].name)
        made = self.joined.get(edge.src, edge.src) if edge is not None else None
        if made != head or head not in self.heads or self.heads[head][0] != var:
            return False
        ref = self.heads[head][1]
        tail = forward[0][len(f"{var} = {var}") :]
        reads = list(re.finditer(rf"(?<![\w.]){re.escape(var)}\b(\.shape\[0\])?", tail))
        if any(m.group(1) is None for m in reads) or (reads and (ref is None or not _batched(info.in_shapes[:1]))):
            return False  # `v` read other than for its batch size: two statements
        tail = re.sub(rf"(?<![\w.]){re.escape(var)}\b(?=\.shape\[0\])", ref or var, tail)
        line = lines[0] + tail
        if len(INDENT * 2 + line) > MAX_LINE:
            return False
        self.fwd_parts[-1] = (head, [line])
        self.heads[head] = (var, ref if _batched(info.out_shapes[:1]) else None)
        self.joined[bid] = head
        return True


def _batched(shapes) -> bool:
    """Whether the first shape's first size is the batch (N)."""
    return bool(shapes) and bool(shapes[0]) and shapes[0][0] == BATCH


class Lines:
    """The source being assembled, with the block each line came from."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.line_blocks: dict[int, str] = {}

    def __call__(self, text: str, block_id: str | None = None, indent: int = 0) -> None:
        for piece in _wrap(double_quoted(text), indent):
            self.lines.append(piece)
            if block_id is not None:
                self.line_blocks[len(self.lines)] = block_id

    def parts(self, parts: list[tuple[str, list[str]]], indent: int) -> None:
        """Each block's statements."""
        finish(self.part_steps(parts, indent))

    def part_steps(
        self, parts: list[tuple[str, list[str]]], indent: int
    ) -> Generator[None, None, None]:
        """:meth:`parts`, a step (yield) every few statements."""
        n = 0
        for bid, texts in parts:
            for text in texts:
                self(text, bid, indent=indent)
                n += 1
                if n % LINES_PER_STEP == 0:
                    yield


def emit_methods(
    emit: Lines,
    cls: str,
    state: Forward,
    returns: list[str],
    init: list[tuple[str, str]],
    init_args: str = "",
) -> None:
    """:func:`emit_method_steps` at once."""
    finish(emit_method_steps(emit, cls, state, returns, init, init_args))


def emit_method_steps(
    emit: Lines,
    cls: str,
    state: Forward,
    returns: list[str],
    init: list[tuple[str, str]],
    init_args: str = "",
) -> Generator[None, None, None]:
    """A class's ``__init__`` (``init``: (block id, statement)), ``forward`` and, when a block
    needs it, ``train``: the same for the model's class and every definition's; a step (yield)
    every few statements."""
    emit(f"def __init__(self{init_args}) -> None:", indent=1)
    emit("super().__init__()", indent=2)
    for n, (bid, text) in enumerate(init, 1):
        emit(text, bid, indent=2)
        if n % LINES_PER_STEP == 0:
            yield
    emit("")
    sig = "".join(f", {var}: torch.Tensor" for var, _ in state.args)
    ret = "torch.Tensor" if len(returns) == 1 else f"tuple[{', '.join(['torch.Tensor'] * len(returns))}]"
    if len(returns) > 2:  # three tensors or more: the signature would pass 88 characters
        ret = "tuple[torch.Tensor, ...]"
    emit(f"def forward(self{sig}) -> {ret}:", indent=1)
    yield from emit.part_steps(state.fwd_parts, indent=2)
    emit(f"return {', '.join(returns)}", indent=2)
    if state.train_parts:
        emit("")
        emit(f'def train(self, mode: bool = True) -> "{cls}":', indent=1)
        emit("super().train(mode)", indent=2)
        yield from emit.part_steps(state.train_parts, indent=2)
        emit("return self", indent=2)


#: a statement :func:`rename_names` reads without the tokenizer: one line of names, numbers,
#: brackets and operators (no string, comment or line continuation)
_PLAIN = re.compile(r"[\w \t.,:;()\[\]{}=+\-*/%<>@&|^~!]*")
_NAME = re.compile(r"(?<![\w.])[^\W\d]\w*")  # not inside a number (1.e5) nor after a dot
#: a number whose dot a letter follows (``1.e5``, or ``1.fc1``, which is not Python): the
#: tokenizer reads where the number ends
_NUMBER_DOT = re.compile(r"(?<![\w.])\d[\d_]*\.[^\W\d]")


def rename_names(text: str, renames: dict[str, str]) -> str:
    """`text` (one statement) with each variable in `renames` renamed: names, not attributes
    (``self.conv1``) nor keywords (``f(conv1=...)``). A plain statement (the usual one) is read
    with a regular expression, anything else with ``tokenize`` (ten times slower: 0.3 s of a
    2,000-block class); the two agree (tests/compiler/test_rename_names.py)."""
    if not any(name in text for name in renames):
        return text
    opened = sum(text.count(c) for c in "([{")
    plain = _PLAIN.fullmatch(text) and not _NUMBER_DOT.search(text)
    if not plain or opened != sum(text.count(c) for c in ")]}"):
        return _rename_tokens(text, renames)
    out, depth, last = [], 0, 0  # depth: of the brackets open before ``last``
    for m in _NAME.finditer(text):
        name = m.group()
        if name not in renames:
            continue  # kept as it is, with the text around it
        before_text = text[last : m.start()]
        depth += sum(before_text.count(c) for c in "([{") - sum(before_text.count(c) for c in ")]}")
        out.append(before_text)
        last = m.end()
        head, tail = text[: m.start()].rstrip(), text[m.end() :].lstrip()
        attribute = head.endswith(".") and not head.endswith("...")
        keyword = depth > 0 and tail.startswith("=") and not tail.startswith("==")
        keyword = keyword and head.endswith(("(", ","))
        out.append(name if attribute or keyword else renames[name])
    out.append(text[last:])
    return "".join(out)


def _rename_tokens(text: str, renames: dict[str, str]) -> str:
    """:func:`rename_names` read with ``tokenize`` (strings, comments, several lines)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return text
    depth, depths = 0, []  # bracket depth at each token: a keyword argument is inside a call
    for tok in tokens:
        if tok.type == tokenize.OP and tok.string in ")]}":
            depth -= 1
        depths.append(depth)
        if tok.type == tokenize.OP and tok.string in "([{":
            depth += 1
    out = text
    for i in range(len(tokens) - 1, -1, -1):
        tok = tokens[i]
        if tok.type != tokenize.NAME or tok.string not in renames or tok.start[0] != 1:
            continue
        before = tokens[i - 1].string if i else ""
        after = tokens[i + 1].string if i + 1 < len(tokens) else ""
        keyword = depths[i] > 0 and after == "=" and before in ("(", ",")
        if before == "." or keyword:  # an attribute (self.conv1) or f(conv1=...), not a variable
            continue
        out = out[: tok.start[1]] + renames[tok.string] + out[tok.end[1] :]
    return out


def double_quoted(text: str) -> str:
    """`text` with each single-quoted string literal in double quotes, as ``ruff format`` and
    black write them (a literal holding a double quote or a backslash stays as it is)."""
    if "'" not in text:
        return text
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):  # a docstring's first line, say
        return text
    out = text
    for tok in reversed(tokens):
        if tok.type != tokenize.STRING or tok.start[0] != 1 or tok.end[0] != 1:
            continue
        body = tok.string.lstrip("rbfuRBFU")
        prefix = tok.string[: len(tok.string) - len(body)]
        if body.startswith("'") and not body.startswith("'''") and '"' not in body and "\\" not in body:
            quoted = prefix + '"' + body[1:-1] + '"'
            out = out[: tok.start[1]] + quoted + out[tok.end[1] :]
    return out


def _wrap(text: str, indent: int, end: str = "") -> list[str]:
    """Indent ``text`` (then ``end``); split a long ``x = f(a, b, ...)`` call (or ``def f(...)
    -> T:``) over several lines, black-style; an argument still too long is split the same way."""
    pad = INDENT * indent
    line = pad + text + end if text else ""
    if len(line) > MAX_LINE and _enclosed(text):
        # a list or tuple argument (densenet's torch.cat([x_1, ..., x_22], dim=1)): one item a line
        items = _split_top_level(text[1:-1])
        if len(items) > 1:
            return [pad + text[0], *(ln for p in items for ln in _wrap(p, indent + 1, ",")), pad + text[-1] + end]
    if len(line) <= MAX_LINE or "(" not in text:
        return [line]
    head, _, rest = text.partition("(")
    if text.endswith(")"):
        inner, tail = rest[:-1], ")"
    elif text.startswith("def ") and text.endswith(":") and ") -> " in rest:
        inner, _, returns = rest.rpartition(") -> ")
        tail = f") -> {returns}"
    else:
        return [line]
    parts = _split_top_level(inner)
    if len(parts) < 2 and len(pad + head) > MAX_LINE:
        return [line]
    out = [f"{pad}{head}("]
    for p in parts:
        out += _wrap(p, indent + 1, ",")
    return out + [f"{pad}{tail}{end}"]


def _enclosed(text: str) -> bool:
    """True for ``[...]`` or ``(...)`` whose first bracket closes at its end (not ``(a) + (b)``)."""
    if text[:1] not in ("[", "(") or text[-1:] != {"[": "]", "(": ")"}[text[0]]:
        return False
    return all(depth > 0 or i == len(text) - 1 for i, ch, depth in _code_chars(text) if ch in ")]}")


def _split_top_level(text: str) -> list[str]:
    """`text` split at its commas outside brackets and strings, each part stripped."""
    parts, start = [], 0
    for i, ch, depth in _code_chars(text):
        if ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def _code_chars(text: str):
    """(index, character, bracket depth after it) of each character of `text` outside its string
    literals (a backslash escapes the next character inside one)."""
    depth, quote, i = 0, None, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        else:
            depth += (ch in "([{") - (ch in ")]}")
            yield i, ch, depth
        i += 1
