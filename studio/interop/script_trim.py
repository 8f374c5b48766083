"""Only what the project uses: the runtime's source trimmed to one project's settings (interop).

train.py copies the runtime's functions (`studio.training.runtime`) as they are written, then
these source-to-source steps take out what the project cannot reach, the way a reader would
strike it by hand. Each works on the text, so what stays is the runtime's own lines:

- `prune`: an ``if`` whose test the settings decide (``s["precision"] == "none"``, a local set
  once from the settings, a fact about the data such as ``isinstance(data, TensorDataset)``)
  becomes the branch this project takes; a branch that returns ends its block; an assignment
  nothing reads any more goes.
- `fold`: the settings the code still reads by name, and the locals set once from them, become
  literals in place (``plan["grad_clip"]`` -> ``0.0``), but for the command-line options (the
  keys left out of the plan it is given); then `prune` again takes out what that left unread.
- `short_docstrings`: the docstrings are left out (they explain the runtime to its maintainers).
"""

from __future__ import annotations

import ast
import collections
import json
import textwrap

from studio import pyast

SETTINGS_NAMES = ("s", "settings", "plan")  # how the runtime's functions name the settings dict
UNKNOWN = object()
#: a fact's value for a context manager that does nothing (``contextlib.nullcontext()``): a
#: ``with`` over it becomes its body
NO_CONTEXT = object()


def _settings_key(node: ast.expr):
    """The key of a settings read (``s["key"]``, ``plan.get("key"[, default])``), else None."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
            and node.value.id in SETTINGS_NAMES and isinstance(node.slice, ast.Constant)):
        return node.slice.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name) and node.func.value.id in SETTINGS_NAMES
            and node.args and isinstance(node.args[0], ast.Constant) and not node.keywords):
        return node.args[0].value
    return None


def known(node: ast.expr, plan: dict, facts: dict | None = None):
    """The value of an expression that reads only the settings, constants, `facts` (expression
    text -> value) and the names `facts` holds, else UNKNOWN."""
    facts = facts or {}
    text = ast.unparse(node)
    if text in facts:
        return facts[text]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Dict, ast.List, ast.Tuple)):
        try:
            return pyast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError):
            return UNKNOWN
    key = _settings_key(node)
    if key is None and isinstance(node, ast.Subscript):  # an item of a known dict or list
        container, index = known(node.value, plan, facts), known(node.slice, plan, facts)
        try:
            return UNKNOWN if UNKNOWN in (container, index) else container[index]
        except (TypeError, KeyError, IndexError):
            return UNKNOWN
    if key is not None:
        if isinstance(node, ast.Subscript):
            return plan[key] if key in plan else UNKNOWN
        default = known(node.args[1], plan, facts) if len(node.args) > 1 else None
        return plan.get(key, default) if key in plan or default is not UNKNOWN else UNKNOWN
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and len(node.args) in (1, 2) and not node.keywords):  # a known dict's .get
        mapping, name = known(node.func.value, plan, facts), known(node.args[0], plan, facts)
        default = known(node.args[1], plan, facts) if len(node.args) > 1 else None
        if isinstance(mapping, dict) and UNKNOWN not in (name, default):
            return mapping.get(name, default)
        return UNKNOWN
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "isinstance"
            and len(node.args) == 2 and ast.unparse(node.args[1]) == "torch.Tensor"):
        value = known(node.args[0], plan, facts)  # a known plain value is never a tensor
        return UNKNOWN if value is UNKNOWN else False
    if isinstance(node, ast.IfExp):  # `a if test else b` with a known test: the branch it takes
        test = known(node.test, plan, facts)
        return UNKNOWN if test is UNKNOWN else known(node.body if test else node.orelse, plan, facts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        value = known(node.operand, plan, facts)
        return UNKNOWN if value is UNKNOWN else not value
    if isinstance(node, ast.BoolOp):
        values = [known(v, plan, facts) for v in node.values]
        if isinstance(node.op, ast.And):
            for v in values:
                if v is UNKNOWN:
                    return UNKNOWN
                if not v:
                    return v
            return values[-1]
        for v in values:
            if v is UNKNOWN:
                return UNKNOWN
            if v:
                return v
        return values[-1]
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        left, right = known(node.left, plan, facts), known(node.comparators[0], plan, facts)
        if UNKNOWN in (left, right):
            return UNKNOWN
        ops = {ast.Eq: lambda: left == right, ast.NotEq: lambda: left != right, ast.Gt: lambda: left > right,
               ast.Lt: lambda: left < right, ast.Is: lambda: left is right, ast.IsNot: lambda: left is not right,
               ast.In: lambda: left in right, ast.NotIn: lambda: left not in right}
        op = type(node.ops[0])
        return ops[op]() if op in ops else UNKNOWN
    return UNKNOWN


def _decided(node: ast.expr, facts: dict) -> bool:
    """Whether `node` reads the settings or a fact (not only literals, which code may change)."""
    return any(_settings_key(n) is not None or (isinstance(n, ast.expr) and ast.unparse(n) in facts)
               for n in ast.walk(node))


def _once_set(function: ast.AST, plan: dict, facts: dict) -> dict:
    """Facts for the plain names `function` sets exactly once, from a value the settings decide."""
    stores: dict[str, int] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stores[node.id] = stores.get(node.id, 0) + 1
        elif isinstance(node, ast.arg):
            stores[node.arg] = stores.get(node.arg, 0) + 2  # a parameter: not a constant
    local = dict(facts)
    for node in ast.walk(function):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        pairs = [(node.targets[0], node.value)]
        if (isinstance(node.targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple)
                and len(node.targets[0].elts) == len(node.value.elts)):  # a, b = x, y
            pairs = list(zip(node.targets[0].elts, node.value.elts, strict=True))
        for target, expr in pairs:
            if isinstance(target, ast.Name) and stores.get(target.id) == 1:
                value = known(expr, plan, local)
                if value is not UNKNOWN and _decided(expr, local):
                    local[target.id] = value
    return local


def _terminal(statements: list[ast.stmt]) -> bool:
    return bool(statements) and isinstance(statements[-1], (ast.Return, ast.Raise))


def _blocks(tree: ast.AST):
    """(the function around it or None, statement list) of every block in `tree`."""
    def visit(node, function):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                yield function, block
        for child in ast.iter_child_nodes(node):
            yield from visit(child, function)

    yield from visit(tree, None)


def _around(lines: list[str], node: ast.AST) -> tuple[str, str]:
    """(the text before `node` on its first line, the text after it on its last): ast counts
    columns in UTF-8 bytes, so a folded vocabulary such as "café" does not shift them."""
    return (lines[node.lineno - 1].encode()[: node.col_offset].decode(),
            lines[node.end_lineno - 1].encode()[node.end_col_offset :].decode())


def _replace(lines: list[str], first: int, last: int, text: str) -> str:
    return "".join(lines[: first - 1]) + text + "".join(lines[last:])


def _constant_operand(source: str, tree: ast.AST, facts: dict | None = None) -> str | None:
    """`source` with one ``True and x`` (``False or x``), left by folding, written ``x`` (and
    ``"abc" or x`` written ``"abc"``), or one
    ``a if test else b`` whose test is known (a constant, or one of the `facts`) written as the
    branch it takes."""
    facts = {k: v for k, v in (facts or {}).items() if not k.isidentifier()}
    for node in ast.walk(tree):
        if isinstance(node, ast.IfExp) and (test := known(node.test, {}, facts)) is not UNKNOWN:  # `a if True else b`
            taken = node.body if test else node.orelse
            text = ast.get_source_segment(source, taken)
            if text is None:
                continue
            lines = source.splitlines(keepends=True)
            head, tail = _around(lines, node)
            enclosed = head.endswith("(") and tail.startswith(")")  # (a if t else b)
            parent = next((p for p in ast.walk(tree) if node in getattr(p, "values", ())), None)
            if enclosed and isinstance(parent, ast.BoolOp) and isinstance(taken, ast.Compare):
                head, tail = head[:-1], tail[1:]  # `x or (a < b if True else c)` -> `x or a < b`
            elif not enclosed and not isinstance(taken, (ast.Constant, ast.Name, ast.Call, ast.Attribute,
                                                         ast.Subscript)):
                text = f"({text})"
            return "".join(lines[: node.lineno - 1]) + head + text + tail + "".join(lines[node.end_lineno :])
        if not isinstance(node, ast.BoolOp):
            continue
        neutral = isinstance(node.op, ast.And)  # `True and x` is x; `False or x` is x
        # only an operand before the last goes: `x or 0` is 0 when x is falsy, not x
        # a constant that decides it ends it: `"abc" or x` is "abc", `x and False and y` is `x and False`
        ends = [i for i, v in enumerate(node.values) if isinstance(v, ast.Constant) and bool(v.value) is not neutral]
        values = node.values[: ends[0] + 1] if ends else node.values
        last = values[-1]
        kept = [v for v in values if v is last or not (isinstance(v, ast.Constant) and bool(v.value) is neutral)]
        if len(kept) == len(node.values) or not kept:
            continue
        joiner = " and " if neutral else " or "
        text = joiner.join(f"({s})" if isinstance(v, ast.BoolOp) else s
                           for v in kept if (s := ast.get_source_segment(source, v)) is not None)
        lines = source.splitlines(keepends=True)
        head, tail = _around(lines, node)
        return "".join(lines[: node.lineno - 1]) + head + text + tail + "".join(lines[node.end_lineno :])
    return None


def _one_step(source: str, plan: dict, facts: dict) -> str | None:
    """`source` with one ``if`` decided or one dead assignment removed; None when none is left."""
    tree = pyast.parse(source)
    simpler = _constant_operand(source, tree, facts)
    if simpler is not None:
        try:
            pyast.parse(simpler)
            return simpler
        except SyntaxError:
            pass
    lines = source.splitlines(keepends=True)
    once: dict[int, dict] = {}  # a function's facts, found once for all its blocks
    names: dict[int, tuple[set[str], collections.Counter]] = {}  # and the names it reads, uses
    for function, block in _blocks(tree):
        if function is None:
            local = facts
        elif (local := once.get(id(function))) is None:
            local = once[id(function)] = _once_set(function, plan, facts)
        if function is not None and id(function) not in names:
            found = [n for n in ast.walk(function) if isinstance(n, ast.Name)]
            loads = {n.id for n in found if isinstance(n.ctx, ast.Load)}
            names[id(function)] = loads, collections.Counter(n.id for n in found)
        loads, uses = names.get(id(function), (set(), collections.Counter()))
        for index, node in enumerate(block):
            if isinstance(node, ast.If):
                value = known(node.test, plan, local)
                if value is UNKNOWN:
                    continue
                taken = node.body if value else node.orelse
                kept = ""
                if taken:
                    body = textwrap.dedent("".join(lines[taken[0].lineno - 1 : taken[-1].end_lineno]))
                    kept = textwrap.indent(body, " " * node.col_offset)
                last = node.end_lineno
                if _terminal(taken) and index + 1 < len(block):
                    last = block[-1].end_lineno  # what follows a return is never run
                candidate = _replace(lines, node.lineno, last, kept)
            elif (isinstance(node, ast.With) and len(node.items) == 1 and node.items[0].optional_vars is None
                  and known(node.items[0].context_expr, plan, local) is NO_CONTEXT):
                body = textwrap.dedent("".join(lines[node.body[0].lineno - 1 : node.body[-1].end_lineno]))
                candidate = _replace(lines, node.lineno, node.end_lineno, textwrap.indent(body, " " * node.col_offset))
            elif function is not None and (text := _unread_items(node, loads, source)) is not None:
                text = " " * node.col_offset + text + "\n" if text else ""
                candidate = _replace(lines, node.lineno, node.end_lineno, text)
            elif function is not None and _returned_next(node, block[index + 1 : index + 2], uses):
                value = ast.get_source_segment(source, node.value)  # x = f(); return x -> return f()
                candidate = _replace(lines, node.lineno, block[index + 1].end_lineno,
                                     " " * node.col_offset + f"return {value}\n")
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Name)
                  and isinstance(node.targets[0], ast.Name) and node.targets[0].id == node.value.id):
                candidate = _replace(lines, node.lineno, node.end_lineno, "")  # x = x, left by folding
            elif (function is not None and _overwritten(node, block[index + 1 : index + 2])):
                candidate = _replace(lines, node.lineno, node.end_lineno, "")  # x = None; x = f()
            elif (function is not None and isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)
                  and (node.targets[0].id in local or not any(isinstance(n, ast.Call) for n in ast.walk(node.value)))
                  and node.targets[0].id not in loads):
                candidate = _replace(lines, node.lineno, node.end_lineno, "")  # nothing reads it now
            else:
                continue
            try:
                pyast.parse(candidate)
            except SyntaxError:  # the branch was a block's only statement: keep the if
                continue
            return candidate
    return None


def _unread_items(node: ast.stmt, read: set[str], source: str) -> str | None:
    """``a, b = x, y`` without the names nothing in the function reads (`read`: the names it
    reads; their values call nothing), as text; None when there is none to take out. From one
    value that unpacks (``batches, steps = f()``), the names nothing reads become ``_``."""
    if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple)
            and not isinstance(node.value, ast.Tuple) and node.lineno == node.end_lineno
            and all(isinstance(t, ast.Name) for t in node.targets[0].elts)):
        names = [t.id if t.id in read or t.id == "_" else "_" for t in node.targets[0].elts]
        if names == [t.id for t in node.targets[0].elts] or set(names) == {"_"}:
            return None
        return ", ".join(names) + " = " + ast.get_source_segment(source, node.value)
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple)
            and isinstance(node.value, ast.Tuple) and len(node.targets[0].elts) == len(node.value.elts)
            and node.lineno == node.end_lineno):
        return None
    pairs = list(zip(node.targets[0].elts, node.value.elts, strict=True))
    kept = [(t, v) for t, v in pairs if not (isinstance(t, ast.Name) and t.id not in read
                                              and not any(isinstance(n, ast.Call) for n in ast.walk(v)))]
    if len(kept) == len(pairs):
        return None
    if not kept:
        return ""
    return (", ".join(ast.get_source_segment(source, t) for t, _ in kept) + " = "
            + ", ".join(ast.get_source_segment(source, v) for _, v in kept))


def _returned_next(node: ast.stmt, following: list[ast.stmt], uses: collections.Counter) -> bool:
    """Whether `node` sets a name that the next statement returns and nothing else reads
    (`uses`: how often the function names each)."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and following and isinstance(following[0], ast.Return) and isinstance(following[0].value, ast.Name)
            and following[0].value.id == node.targets[0].id):
        return False
    return uses[node.targets[0].id] == 2


def _overwritten(node: ast.stmt, following: list[ast.stmt]) -> bool:
    """Whether `node` sets a name, without calling anything, that the next statement sets again
    without reading it."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
            and not any(isinstance(n, ast.Call) for n in ast.walk(node.value))):
        return False
    name = node.targets[0].id
    if not following or not isinstance(following[0], ast.Assign):
        return False
    stores = {n.id for target in following[0].targets for n in ast.walk(target)
              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    reads = {n.id for n in ast.walk(following[0].value) if isinstance(n, ast.Name)}
    return name in stores and name not in reads


def prune(source: str, plan: dict, facts: dict | None = None) -> str:
    """`source` with each ``if`` the settings decide replaced by the branch this project takes:
    a project without standardising holds no standardising code."""
    while True:
        step = _one_step(source, plan, facts or {})
        if step is None:
            return source
        source = step


def literal(value) -> str:
    """`value` as Python source on one line (`ruff format` wraps what is long)."""
    if isinstance(value, pyast.Code):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(literal(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def fold(source: str, plan: dict, facts: dict | None = None) -> str:
    """`source` with each expression that reads only the settings (and the locals set once from
    them) written as its value: ``plan["grad_clip"]`` -> ``0.0``, ``s["workers"] > 0`` -> ``False``.
    Keys missing from `plan` (the command-line options) stay as they are read."""
    tree = pyast.parse(source)
    edits = []

    expressions = {k: v for k, v in (facts or {}).items() if not k.isidentifier() and _literal_value(v)}

    def reads(node, local):
        return [n for n in ast.walk(node) if _settings_key(n) is not None
                or (isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in local)
                or (isinstance(n, (ast.Call, ast.Subscript)) and ast.unparse(n) in expressions)]

    def visit(node, local):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stored = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
            stored |= {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            outer = {k: v for k, v in local.items() if k not in stored}  # a nested function's outer names
            local = outer | {k: v for k, v in _once_set(node, plan, facts or {}).items()
                             if (k in expressions or k.isidentifier() and k not in (facts or {}))
                             and _literal_value(v)}
        if isinstance(node, ast.expr) and not isinstance(node, ast.Constant):
            value = known(node, plan, local) if reads(node, local) else UNKNOWN
            if (value is not UNKNOWN and _literal_value(value) and (_scalar(value) or not isinstance(node, ast.Name))
                    and not (isinstance(node, (ast.Subscript, ast.Name)) and not isinstance(node.ctx, ast.Load))):
                edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, literal(value)))
                return
        if isinstance(node, ast.JoinedStr):  # a literal's quotes do not fit inside an f-string:
            text = _known_text(node, plan, {**(facts or {}), **local})  # all of it known, or none
            if text is not None:
                edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, literal(text)))
            return
        for child in ast.iter_child_nodes(node):
            visit(child, local)

    visit(tree, dict(expressions))
    lines = source.splitlines(keepends=True)
    for line, col, end_line, end_col, text in sorted(edits, reverse=True):  # columns in UTF-8 bytes
        head, tail = lines[line - 1].encode()[:col].decode(), lines[end_line - 1].encode()[end_col:].decode()
        lines[line - 1 : end_line] = [head + text + tail]
    return "".join(lines)


def _known_text(node: ast.JoinedStr, plan: dict, facts: dict) -> str | None:
    """The text of an f-string whose every field is a known text or whole number, written plainly
    (``f"train_{name}"`` -> ``"train_accuracy"``), else None."""
    parts = []
    for value in node.values:
        if isinstance(value, ast.Constant):
            parts.append(str(value.value))
            continue
        if not isinstance(value, ast.FormattedValue) or value.conversion != -1 or value.format_spec:
            return None
        field = known(value.value, plan, facts)
        if isinstance(field, bool) or not isinstance(field, (str, int)):
            return None
        parts.append(str(field))
    return "".join(parts)


def _scalar(value) -> bool:
    """A value written in place of a name: one number, short text, True/False or None (a dict,
    a list or a long text, such as a vocabulary, stays under its name, written once where the name
    is set)."""
    return value is None or isinstance(value, (bool, int, float)) or isinstance(value, str) and len(value) <= 40


def _literal_value(value) -> bool:
    """Whether `value` can be written as a literal (numbers, text, None, lists and dicts of them)."""
    if isinstance(value, (dict, list, tuple)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        return all(_literal_value(k) and _literal_value(v) for k, v in items)
    return value is None or isinstance(value, (bool, int, float, str))


def short_docstrings(source: str, keep_one_line: bool = False) -> str:
    """Each function's and class's docstring left out (a class left empty keeps ``pass``), or
    with `keep_one_line` all but those on one line: the runtime's explanations are for its
    maintainers, and train.py's comments say what a learner needs (#21: the spiral MLP's
    script at most 200 lines)."""
    tree = pyast.parse(source)
    edits = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        first = node.body[0]
        if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            continue
        if keep_one_line and first.lineno == first.end_lineno:
            continue
        line = f"{' ' * first.col_offset}pass\n" if len(node.body) == 1 else ""
        edits.append((first.lineno, first.end_lineno, line))
    lines = source.splitlines(keepends=True)
    for start, end, text in sorted(edits, reverse=True):
        if not text and end < len(lines) and not lines[end].strip():
            end += 1  # the blank line after a docstring goes with it
        lines[start - 1 : end] = [text] if text else []
    return "".join(lines)


def call_facts(sources: dict[str, str], facts: dict | None = None) -> dict[str, dict]:
    """name -> {parameter: value} for each function in `sources` (name -> source) whose every
    call there passes the same literal for a parameter, or leaves it at a literal default; a
    function also used other than by a call (passed as a value) is left out. An argument may also
    be one of the `facts` that is not a plain name (``spec['tokenizer']``)."""
    facts = {k: v for k, v in (facts or {}).items() if not k.isidentifier()}
    trees = {name: pyast.parse(source) for name, source in sources.items()}
    calls: dict[str, list[ast.Call]] = {}
    escaped = set()
    for tree in trees.values():
        called = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                calls.setdefault(node.func.id, []).append(node)
                called.add(id(node.func))
            elif (isinstance(node, ast.Call) and ast.unparse(node.func) == "functools.partial" and node.args
                  and isinstance(node.args[0], ast.Name) and node.args[0].id in trees):
                bound = ast.Call(node.args[0], node.args[1:], node.keywords)  # partial(f, a, b): f(a, b)
                function = trees[node.args[0].id].body[0]
                if isinstance(function, ast.FunctionDef) and len(bound.args) + len(bound.keywords) == len(function.args.args):
                    calls.setdefault(node.args[0].id, []).append(bound)  # every parameter given
                    called.add(id(node.args[0]))
        escaped |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in called}
    out = {}
    for name, tree in trees.items():
        function = tree.body[0] if tree.body else None
        if not isinstance(function, ast.FunctionDef) or name in escaped or not calls.get(name):
            continue
        stored = {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        params = {k: v for k, v in _call_values(function.args, calls[name], facts).items() if k not in stored}
        if params:
            out[name] = params
    return out


def _call_values(args: ast.arguments, calls: list[ast.Call], facts: dict | None = None) -> dict:
    """{parameter: value} for the parameters every call in `calls` gives the same literal."""
    if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
        return {}
    names = [a.arg for a in args.args]
    defaults = dict(zip(names[len(names) - len(args.defaults):], args.defaults, strict=True))
    values: dict[str, list] = {name: [] for name in names}
    for call in calls:
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return {}
        given = dict(zip(names, call.args, strict=False)) | {k.arg: k.value for k in call.keywords}
        for name in names:
            node = given.get(name, defaults.get(name))
            values[name].append(known(node, {}, facts) if node is not None else UNKNOWN)
    out = {}
    for name, seen in values.items():
        if seen and all(v is not UNKNOWN and _literal_value(v) for v in seen) and all(v == seen[0] and type(v) is type(seen[0]) for v in seen):
            out[name] = seen[0]
    return out


def unused_methods(sources: list[str]) -> list[str]:
    """`sources` without the methods and class attributes of their plain classes (no base
    class: nothing outside reads them) that no source names as an attribute, e.g. a hook that
    folding left uncalled or mixed precision's context in an fp32 script."""
    trees = [pyast.parse(source) for source in sources]
    named = {n.attr for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    strings = {n.value for tree in trees for n in ast.walk(tree)  # getattr(hooks, "log", None)
               if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    named |= strings
    loaded = {n.attr for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Attribute)
              and isinstance(n.ctx, ast.Load)}
    kept = []
    for source, tree in zip(sources, trees, strict=True):
        lines = source.splitlines(keepends=True)
        for cls in reversed([n for n in tree.body if isinstance(n, ast.ClassDef) and not n.bases]):
            unused = [n for n in cls.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("__")
                      and n.name not in named]
            unused += [n for n in cls.body if isinstance(n, ast.Assign) and len(n.targets) == 1  # class attributes
                       and not {t.id for t in ast.walk(n.targets[0]) if isinstance(t, ast.Name)} & named
                       and all(isinstance(t, (ast.Name, ast.Tuple)) for t in ast.walk(n.targets[0])
                               if not isinstance(t, ast.expr_context))]
            init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
            unused += [n for n in (init.body if init else []) if isinstance(n, ast.Assign) and len(n.targets) == 1
                       and isinstance(n.targets[0], ast.Attribute) and ast.unparse(n.targets[0].value) == "self"
                       and n.targets[0].attr not in loaded and n.targets[0].attr not in strings
                       and not any(isinstance(x, ast.Call) for x in ast.walk(n.value))]  # self.x = None
            for node in (init.body if init else []):  # self.a, self.b = a, b: the items nothing reads
                if node not in unused and (text := _unread_attributes(node, loaded | strings, source)):
                    lines[node.lineno - 1 : node.end_lineno] = [text]
            for node in sorted(unused, key=lambda n: n.lineno, reverse=True):
                owner = cls.body if node in cls.body else init.body
                if len(owner) <= 1:
                    continue
                owner.remove(node)
                first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
                while owner is cls.body and first > 1 and not lines[first - 2].strip():  # and the blank above
                    first -= 1
                lines[first - 1 : node.end_lineno] = []
        kept.append("".join(lines))
    return kept


def _unread_attributes(node: ast.stmt, read: set[str], source: str) -> str | None:
    """The line of ``self.a, self.b = a, b`` without the items whose attribute nothing reads
    (a value with a call stays), or None when it keeps them all or would keep none."""
    if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Tuple)
            and isinstance(node.value, ast.Tuple) and len(node.targets[0].elts) == len(node.value.elts)
            and node.lineno == node.end_lineno):
        return None
    pairs = list(zip(node.targets[0].elts, node.value.elts, strict=True))
    kept = [(t, v) for t, v in pairs if not (
        isinstance(t, ast.Attribute) and ast.unparse(t.value) == "self" and t.attr not in read
        and not any(isinstance(x, ast.Call) for x in ast.walk(v)))]
    if len(kept) in (0, len(pairs)):
        return None
    indent = " " * node.col_offset
    targets = ", ".join(ast.get_source_segment(source, t) for t, _ in kept)
    values = ", ".join(ast.get_source_segment(source, v) for _, v in kept)
    return f"{indent}{targets} = {values}\n"


def unused_parameters(sources: list[str]) -> list[str]:
    """`sources` without the parameters their functions (and plain classes' ``__init__``) no
    longer read, and without the arguments the calls give them, when each use of the function
    is a plain call (or a ``functools.partial`` that binds it) whose argument there has no call
    in it: what trimming left unread, e.g. ``evaluate(..., float_targets=False)`` in a script
    with integer targets. Every call loses the same position, so the rest stay aligned."""
    while True:
        step = _unused_parameter_step(sources)
        if step is None:
            return sources
        sources = step


def _unused_parameter_step(sources: list[str]) -> list[str] | None:
    trees = [pyast.parse(source) for source in sources]
    functions = {}  # name -> (index, FunctionDef whose parameters the calls give, skip self)
    for i, tree in enumerate(trees):
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.decorator_list:
                functions[node.name] = (i, node, 0)
            elif isinstance(node, ast.ClassDef) and not node.bases and not node.decorator_list:
                init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
                if init is not None:
                    functions[node.name] = (i, init, 1)
    calls: dict[str, list] = {}  # name -> [(index, Call, offset of the first parameter's argument)]
    plain = set()
    for i, tree in enumerate(trees):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
                calls.setdefault(node.func.id, []).append((i, node, 0))
                plain.add(id(node.func))
            elif (isinstance(node, ast.Call) and ast.unparse(node.func) == "functools.partial" and node.args
                  and isinstance(node.args[0], ast.Name) and node.args[0].id in functions):
                calls.setdefault(node.args[0].id, []).append((i, node, 1))
                plain.add(id(node.args[0]))
    escaped = {n.id for tree in trees for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in plain}
    for name, (i_def, function, skip) in functions.items():
        args = function.args
        if name in escaped or args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            continue
        names = [a.arg for a in args.args][skip:]
        read = {n.id for n in ast.walk(function) if isinstance(n, ast.Name)}
        for position, param in enumerate(names):
            if param in read:
                continue
            edits = []  # (source index, node to cut out of its call)
            for i_call, call, offset in calls.get(name, []):
                given = call.args[offset:]
                if (any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords)
                        or (offset and position >= len(given) and param not in {k.arg for k in call.keywords})):
                    edits = None  # a partial leaving it to its caller: the positions there would shift
                    break
                if position < len(given):  # every call loses the same position: the rest stay aligned
                    edits.append((i_call, given[position]))
                edits += [(i_call, k) for k in call.keywords if k.arg == param]
            if edits is None or any(isinstance(x, ast.Call) for _, node in edits for x in ast.walk(node)):
                continue
            out = list(sources)
            for i_call, node in sorted(edits, key=lambda e: (e[0], e[1].lineno, e[1].col_offset), reverse=True):
                out[i_call] = _cut_argument(out[i_call], node)
            out[i_def] = _cut_argument(out[i_def], _parameter_node(out[i_def], name, param))
            try:
                for text in out:
                    pyast.parse(text)
            except SyntaxError:
                continue
            return out
    return None


def _parameter_node(source: str, name: str, param: str) -> ast.AST:
    """The node of `param` (with its default) in the signature of `name` in `source`."""
    for node in ast.walk(pyast.parse(source)):
        owner = node
        if isinstance(node, ast.ClassDef) and node.name == name:
            owner = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
        elif not (isinstance(node, ast.FunctionDef) and node.name == name):
            continue
        args = owner.args
        index = [a.arg for a in args.args].index(param)
        first_default = len(args.args) - len(args.defaults)
        arg = args.args[index]
        if index >= first_default:  # `dtype=None`: the name through its default
            default = args.defaults[index - first_default]
            return ast.Tuple([arg, default], lineno=arg.lineno, col_offset=arg.col_offset,
                             end_lineno=default.end_lineno, end_col_offset=default.end_col_offset)
        return arg
    raise LookupError(param)


def _cut_argument(source: str, node: ast.AST) -> str:
    """`source` without the argument or parameter `node` (from its start to its end) and the
    comma and space before it (or after it, when it is the first)."""
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()))
    data = source.encode()
    start = offsets[node.lineno - 1] + node.col_offset
    end = offsets[node.end_lineno - 1] + node.end_col_offset
    before = data[:start].rstrip()
    if before.endswith(b","):
        return (before[:-1] + data[end:]).decode()
    after = data[end:].lstrip()
    if after.startswith(b","):
        after = after[1:].lstrip()
    return (data[:start] + after).decode()


def settings_keys(source: str) -> set:
    """The settings keys `source` still reads by name."""
    return {k for n in ast.walk(pyast.parse(source)) if (k := _settings_key(n)) is not None}


def inline_single_calls(sources: list[str], max_lines: int = 8, keep=()) -> list[str]:
    """`sources` with each short function that one statement calls, and nothing else names,
    written in place of that call (``order = epoch_order(n, True, generator)`` becomes
    ``order = torch.randperm(n, generator=generator)``), as a reader would fold a one-use
    helper into the code that uses it; the rest, and the functions `keep` names, stay as they are."""
    while True:
        step = _inline_step(sources, max_lines, keep)
        if step is None:
            return sources
        sources = step


def _inline_step(sources: list[str], max_lines: int, keep=()) -> list[str] | None:
    trees = [pyast.parse(source) for source in sources]
    defs = {tree.body[0].name: i for i, tree in enumerate(trees)
            if len(tree.body) == 1 and isinstance(tree.body[0], ast.FunctionDef) and not tree.body[0].decorator_list}
    uses: dict[str, list] = {}
    strings = set()
    for i, tree in enumerate(trees):
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and n.id in defs:
                uses.setdefault(n.id, []).append((i, n))
            elif isinstance(n, ast.Constant) and isinstance(n.value, str):
                strings.add(n.value)  # found by name (globals()[...]): stays a function
    for name, i_def in defs.items():
        found = uses.get(name, [])
        if len(found) != 1 or found[0][0] == i_def or name in strings or name in keep:
            continue
        i_call, name_node = found[0]
        text = _inlined(sources[i_def], trees[i_def].body[0], sources[i_call], trees[i_call], name_node, max_lines)
        if text is not None:
            out = list(sources)
            out[i_call] = text
            del out[i_def]
            return out
    return None


def _stored(node: ast.AST) -> set[str]:
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return names | {n.name for n in ast.walk(node) if isinstance(n, ast.ExceptHandler) and n.name}


def _comprehension_only(node: ast.AST) -> set[str]:
    """The names `node` binds only as a comprehension's variable (its own scope: no clash)."""
    targets = [n for c in ast.walk(node) if isinstance(c, ast.comprehension)
               for n in ast.walk(c.target) if isinstance(n, ast.Name)]
    ids = {id(n) for n in targets}
    outside = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
               and id(n) not in ids}
    return {n.id for n in targets} - outside


def _inlined(def_source, function, call_source, call_tree, name_node, max_lines) -> str | None:
    """`call_source` with the one call of `function` replaced by its body, or None when that
    cannot be done plainly (a return before the end, names that would clash, a long body...)."""
    args, body = function.args, function.body
    if (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs
            or function.end_lineno - body[0].lineno + 1 > max_lines
            or any(isinstance(n, (ast.Yield, ast.YieldFrom, ast.Global, ast.Nonlocal, ast.Lambda, ast.FunctionDef,
                                  ast.ClassDef, ast.AsyncFunctionDef)) for n in ast.walk(ast.Module(body, [])))
            or any(isinstance(n, ast.Return) for stmt in body[:-1] for n in ast.walk(stmt))
            or any(isinstance(n, ast.Raise) or (isinstance(n, ast.Name) and n.id == "globals")
                   for n in ast.walk(ast.Module(body, [])))):  # a check, or a lookup by name, keeps its name
        return None
    statement, scope = None, None
    for inner, block in _blocks(call_tree):
        for stmt in block:
            if isinstance(stmt, (ast.Assign, ast.Return, ast.Expr)) and isinstance(stmt.value, ast.Call) \
                    and stmt.value.func is name_node and (not isinstance(stmt, ast.Assign) or len(stmt.targets) == 1):
                statement, scope = stmt, inner
    if statement is None or scope is None:
        return None
    top = call_tree.body[0]
    scope = top if isinstance(top, ast.FunctionDef) else scope  # a closure shares its function's names
    call = statement.value
    returns = isinstance(body[-1], ast.Return) and body[-1].value is not None
    if not returns and not isinstance(statement, ast.Expr):
        return None
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        return None
    names = [a.arg for a in args.args]
    if len(call.args) > len(names):
        return None
    given = {**dict(zip(names, [(a, call_source) for a in call.args], strict=False)),
             **{k.arg: (k.value, call_source) for k in call.keywords}}
    defaults = dict(zip(names[len(names) - len(args.defaults):], args.defaults, strict=True))
    own = _comprehension_only(ast.Module(body, [])) - set(names)  # `t` in `[f(t) for t in x]`
    stored = _stored(ast.Module(body, [])) - own
    loads = [n for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
             and n.id not in own]
    edits: dict[tuple, str] = {}
    complex_seen, bound = False, []
    parents = {id(child): node for node in ast.walk(ast.Module(body, [])) for child in ast.iter_child_nodes(node)}
    for p in names:
        if p in given:
            arg, text_of = given[p]
        elif p in defaults:
            arg, text_of = defaults[p], def_source
        else:
            return None
        uses = [n for n in loads if n.id == p]
        own = (isinstance(arg, ast.Name) and arg.id == p and isinstance(statement, ast.Assign)
               and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == p)
        if p in stored and not own:  # `ids = f(ids)`: f's `ids = ...` may change the caller's ids
            return None
        arg_names = {n.id for n in ast.walk(arg) if isinstance(n, ast.Name)}
        if arg_names & stored and not own:
            return None
        if not uses:
            if any(isinstance(n, ast.Call) for n in ast.walk(arg)):
                return None
            continue
        text = ast.get_source_segment(text_of, arg)
        simple = isinstance(arg, (ast.Name, ast.Constant)) or (
            isinstance(arg, ast.Attribute) and all(isinstance(n, (ast.Attribute, ast.Name, ast.Load)) for n in ast.walk(arg)))
        if not simple:
            header = body[0]
            first = [n for n in ast.walk(header) if n not in
                     {x for s in getattr(header, "body", []) + getattr(header, "orelse", []) for x in ast.walk(s)}]
            if len(uses) > 1 or uses[0] not in first or complex_seen:
                bound.append((p, text))  # `path = self.out / "checkpoint.pt"`, as the call bound it
                continue
            complex_seen = True  # one argument evaluated later than the others at most
        if not simple and not isinstance(arg, (ast.Call, ast.Subscript, ast.List, ast.Tuple, ast.Dict)):
            parent = parents.get(id(uses[0]))
            bare = isinstance(parent, (ast.keyword, ast.List, ast.Tuple, ast.Set, ast.Assign, ast.Return,
                                       ast.Expr, ast.withitem, ast.Dict)) or (
                isinstance(parent, ast.Call) and uses[0] in parent.args)
            text = text if bare else f"({text})"  # `a + b` in place of a name, where it needs them
        for n in uses:
            edits[(n.lineno, n.col_offset, n.end_lineno, n.end_col_offset)] = text
    # the returned locals take the caller's names: `train, val = ...; return train, val` -> `a, b = ...`
    renames, last_dropped = {}, False
    if returns and isinstance(statement, ast.Assign):
        target, value = statement.targets[0], body[-1].value
        pairs = [(target, value)]
        if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple) and len(target.elts) == len(value.elts):
            pairs = list(zip(target.elts, value.elts, strict=True))
        if all(isinstance(t, ast.Name) and isinstance(v, ast.Name) and v.id in stored for t, v in pairs) \
                and len({v.id for _, v in pairs}) == len(pairs):
            every = {n.id for n in ast.walk(ast.Module(body, [])) if isinstance(n, ast.Name)}
            every |= {n.id for arg, _ in given.values() for n in ast.walk(arg) if isinstance(n, ast.Name)}
            if not ({t.id for t, _ in pairs} - {v.id for _, v in pairs}) & every:  # the arguments' too
                renames, last_dropped = {v.id: t.id for t, v in pairs}, True
    caller_names = {n.id for n in ast.walk(scope) if isinstance(n, ast.Name)} | {a.arg for a in ast.walk(scope) if isinstance(a, ast.arg)}
    caller_stored = _stored(scope) | {a.arg for a in ast.walk(scope) if isinstance(a, ast.arg)}
    if ((stored - set(renames)) | {p for p, _ in bound}) & caller_names:
        return None
    if {n.id for n in loads if n.id not in stored and n.id not in names} & caller_stored:
        return None  # a global the function reads is a local where it is called
    for n in ast.walk(ast.Module(body, [])):
        if isinstance(n, ast.Name) and n.id in renames:
            edits[(n.lineno, n.col_offset, n.end_lineno, n.end_col_offset)] = renames[n.id]
    lines = def_source.splitlines(keepends=True)
    for (line, col, end_line, end_col), text in sorted(edits.items(), reverse=True):
        lines[line - 1 : end_line] = [lines[line - 1].encode()[:col].decode() + text
                                   + lines[end_line - 1].encode()[end_col:].decode()]  # bytes
    edited = pyast.parse("".join(lines)).body[0]
    new_body = edited.body
    kept = new_body[:-1] if returns else new_body
    text = textwrap.dedent("".join(lines[kept[0].lineno - 1 : kept[-1].end_lineno])) if kept else ""
    text = "".join(f"{p} = {value}\n" for p, value in bound) + text
    source_lines = "".join(lines)
    if returns and not last_dropped:
        value = ast.get_source_segment(source_lines, new_body[-1].value)
        if isinstance(statement, ast.Assign):
            text += f"{ast.get_source_segment(call_source, statement.targets[0])} = {value}\n"
        elif isinstance(statement, ast.Return):
            text += f"return {value}\n"
        elif any(isinstance(n, ast.Call) for n in ast.walk(new_body[-1].value)):
            text += value + "\n"
    if not text.strip():
        return None
    text = text.rstrip("\n") + "\n"
    caller_lines = call_source.splitlines(keepends=True)
    result = _replace(caller_lines, statement.lineno, statement.end_lineno,
                      textwrap.indent(text, " " * statement.col_offset))
    try:
        pyast.parse(result)
    except SyntaxError:
        return None
    return result


def fold_known_specs(sources: list[str]) -> list[str]:
    """`sources` with each function that finds a function by name in a literal dict every call
    passes it (a generated data set's spec) reading that dict's items as literals:
    ``globals()[spec["kind"]](**spec["arguments"])`` becomes ``spirals(n=1000, noise=0.2)``, as
    one writes the call by hand; the dict itself, no longer read, then goes when the function is
    written where it is called. Other functions keep reading their dicts by name."""
    named = {tree.body[0].name: i for i, tree in enumerate(pyast.parse(s) for s in sources)
             if tree.body and isinstance(tree.body[0], ast.FunctionDef)}
    out = list(sources)
    for name, params in call_facts({n: sources[i] for n, i in named.items()}).items():
        specs = {k: v for k, v in params.items() if isinstance(v, dict)}
        if specs and "globals()[" in out[named[name]]:
            out[named[name]] = _spec_read(out[named[name]], specs)
    return out


def _spec_read(source: str, specs: dict) -> str:
    """`source` with reads of the `specs` (parameter -> dict) written as their values."""
    while True:
        tree, edits = pyast.parse(source), []
        for node in ast.walk(tree):
            text = None
            key = _spec_key(node, specs)
            if key is not UNKNOWN and _literal_value(key):
                text = literal(key)
            elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call)
                  and isinstance(node.value.func, ast.Name) and node.value.func.id == "globals"
                  and isinstance(node.slice, ast.Constant) and str(node.slice.value).isidentifier()):
                text = node.slice.value  # globals()["spirals"] -> spirals
            elif isinstance(node, ast.Call) and any(
                    k.arg is None and isinstance(k.value, ast.Dict)
                    and all(isinstance(x, ast.Constant) and str(x.value).isidentifier() for x in k.value.keys)
                    for k in node.keywords):
                keywords = []
                for k in node.keywords:
                    if k.arg is None and isinstance(k.value, ast.Dict):
                        keywords += [f"{x.value}={ast.get_source_segment(source, v)}"
                                     for x, v in zip(k.value.keys, k.value.values, strict=True)]
                    else:
                        keywords.append(ast.get_source_segment(source, k))
                args = [ast.get_source_segment(source, a) for a in node.args]
                text = f"{ast.get_source_segment(source, node.func)}({', '.join(args + keywords)})"
            if text is not None:
                edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text))
                break
        if not edits:
            return source
        lines = source.splitlines(keepends=True)
        line, col, end_line, end_col, text = edits[0]
        lines[line - 1 : end_line] = [lines[line - 1].encode()[:col].decode() + text
                                   + lines[end_line - 1].encode()[end_col:].decode()]  # bytes
        source = "".join(lines)


def _spec_key(node: ast.AST, specs: dict):
    """The value of ``spec["key"]`` or ``spec.get("key"[, default])`` for a known `spec`."""
    if (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id in specs
            and isinstance(node.ctx, ast.Load) and isinstance(node.slice, ast.Constant)):
        return specs[node.value.id].get(node.slice.value, UNKNOWN)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name) and node.func.value.id in specs
            and node.args and isinstance(node.args[0], ast.Constant) and len(node.args) <= 2 and not node.keywords):
        default = node.args[1].value if len(node.args) == 2 and isinstance(node.args[1], ast.Constant) else (
            None if len(node.args) == 1 else UNKNOWN)
        return UNKNOWN if default is UNKNOWN else specs[node.func.value.id].get(node.args[0].value, default)
    return UNKNOWN
