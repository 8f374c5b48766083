"""Export format ``script``: one standalone ``train.py`` that trains the project as Studio does.

An assembler, not a second trainer: the file holds the model class exactly as
:func:`studio.compiler.generate` writes it and the source of the runtime functions
(``studio/training/runtime/``) the settings' declarations name plus all they call, copied with
``inspect.getsource`` and trimmed to this project (`script_trim`: the branches its settings
(:func:`studio.training.plan.run_plan`) do not take left out, the settings it reads written as
literals; ``SETTINGS`` holds only the command-line options' defaults); ``main``
(``runtime.script_main``) drives them. Studio's
trainer calls the same functions, so on CPU the same seed gives the same per-epoch metrics as
``studio train``, and nothing here is Python inside a string. It needs only torch and torchvision.
Under ``torchrun`` it trains with DistributedDataParallel (not meant to match a single-process
run number for number).
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import os
import textwrap
from pathlib import Path

from studio import pyast
from studio.graph.project import Project
from studio.interop import script_trim
from studio.interop.export_formats import (
    ExportError,
    ExportFormat,
    ExportResult,
    _atomic,
    _code,
    register_format,
)
from studio.interop.script_trim import NO_CONTEXT, literal, settings_keys
from studio.naming import file_name


def export_script(project: Project, path: str | os.PathLike[str], tensorboard: bool = False) -> ExportResult:
    """Write ``train.py``: model, data, optimizer, loss, schedule and loop in one file; with
    `tensorboard`, its ``--tensorboard DIR`` option writes TensorBoard logs."""
    source, notes = script_source(project, tensorboard)
    with _atomic(path) as tmp:
        tmp.write_text(source, encoding="utf-8")
    return ExportResult(Path(path), "script", notes)


def script_source(project: Project, tensorboard: bool = False) -> tuple[str, list[str]]:
    """The text of the training script and notes for the user. Raises :class:`ExportError`.
    With `tensorboard` it offers ``--tensorboard DIR``; without, it holds no TensorBoard code."""
    from studio.training.settings import TrainingSettings

    settings = TrainingSettings.from_dict(project.training)
    problems = settings.validate()
    if problems:
        raise ExportError("the training settings have problems: " + " ".join(problems))
    code = _code(project)
    if code.class_name in set(_runtime_pool()) | set(_IMPORTS) | {"SETTINGS"}:  # e.g. a project called "Monitor"
        from studio.compiler import CompileError, generate

        try:
            code = generate(project.graph, f"{project.name} model")
        except CompileError as e:  # pragma: no cover - _code compiled it already
            raise ExportError(f"the model has problems: {e}") from None
    model_imports, model_body = _split_module(code.source)
    base_dir = project.path.parent if project.path else Path.cwd()
    from studio.training.plan import run_plan

    out_name = file_name(project.name)
    plan = {**run_plan(settings, base_dir), "out": str(Path("runs") / out_name), "tensorboard": tensorboard}
    for key in ("data", "val_data"):  # train.py reads them from its --data folder (#20 item 8)
        spec = plan.get(key)
        if spec and "path" in spec and Path(spec["path"]).is_relative_to(base_dir.absolute()):
            plan[key] = {**spec, "path": Path(spec["path"]).relative_to(base_dir.absolute()).as_posix()}
    text = _script_text(settings, plan, code.class_name, project.name, model_imports, model_body)
    return formatted(text), []


def formatted(text: str) -> str:
    """`text` as ``ruff format`` writes it at line length 100, when ruff is installed (the
    optional extra ``format``); else as it is, unwrapped. The runtime is written for its
    maintainers' screens; a learner reads train.py at the width PyTorch's own examples use."""
    try:
        from ruff.__main__ import find_ruff_bin

        ruff = find_ruff_bin()
    except (ImportError, FileNotFoundError):
        return text
    import subprocess

    try:
        done = subprocess.run([ruff, "format", "--isolated", "--line-length", "100", "-"], input=text,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return text
    return done.stdout if done.returncode == 0 and done.stdout else text


def _split_module(source: str) -> tuple[list[str], str]:
    """(import lines, the text from the first statement after them) of a generated module."""
    tree = pyast.parse(source)
    lines = source.splitlines()
    imports: list[str] = []
    body_start = None
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if body_start is not None:
                raise ExportError("the generated module has an import after its class")
            imports.append("\n".join(lines[node.lineno - 1 : node.end_lineno]))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and body_start is None and not imports:
            continue  # the module docstring
        elif body_start is None:
            decorators = getattr(node, "decorator_list", [])
            body_start = min([node.lineno] + [d.lineno for d in decorators])
    if body_start is None:  # pragma: no cover - generate always writes a class
        raise ExportError("the generated module has no class")
    return imports, "\n".join(lines[body_start - 1 :]).rstrip() + "\n"


def _sorted_imports(lines: list[str]) -> str:
    """Import lines in isort's order (what ruff expects): the standard library, then the rest;
    in each, ``import x`` lines, then ``from x import y`` lines, by module name."""
    import sys

    def module(line: str) -> str:
        node = pyast.parse(line).body[0]
        return node.module if isinstance(node, ast.ImportFrom) else node.names[0].name

    sections: list[list[str]] = [[], []]
    for line in lines:
        top = (module(line) or "").split(".")[0]
        sections[0 if top in sys.stdlib_module_names else 1].append(line)
    blocks = []
    for section in sections:
        key = [(line.lstrip().startswith("from "), module(line).lower(), line) for line in section]
        if key:
            blocks.append("\n".join(line for *_, line in sorted(key)))
    return "\n\n".join(blocks) + "\n"


def _from_import(module: str, names) -> str:
    """``from module import a, b``, wrapped one name a line (isort's style) when too long."""
    names = sorted(names)
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= 88:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def _bound_names(import_line: str) -> set[str]:
    node = pyast.parse(import_line).body[0]
    names = set()
    for alias in node.names:
        names.add(alias.asname or alias.name.split(".")[0])
    return names


def _comment_text(text: str) -> str:
    return " ".join(str(text).split())


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def _literal(value, indent: int = 0) -> str:
    """`value` as Python source a reader can edit: dicts one key a line when long."""
    if isinstance(value, dict):
        inline = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
        if len(inline) + indent <= 80 or not value:
            return inline
        pad = "    " * (indent // 4 + 1)
        items = "".join(f"{pad}{_literal(k)}: {_literal(v, len(pad))},\n" for k, v in value.items())
        return "{\n" + items + pad[:-4] + "}"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        items = ", ".join(_literal(v, indent) for v in value)
        return f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    return repr(value)


# -- the runtime: which functions the script copies ---------------------------------------------

_RUNTIME = ("tables", "splits", "balance", "tabular", "tokens", "augment", "data", "parquet", "generated",
            "text", "metrics", "targets", "schedules", "loop", "fit", "board", "threads", "script_main")
_IMPORTS = {  # name the copied code uses -> the import that binds it
    "argparse": "import argparse", "contextlib": "import contextlib", "csv": "import csv",
    "functools": "import functools",
    "hashlib": "import hashlib", "json": "import json", "math": "import math", "os": "import os",
    "shutil": "import shutil", "sys": "import sys", "time": "import time",
    "Path": "from pathlib import Path", "torch": "import torch", "dist": "import torch.distributed as dist",
    "nn": "from torch import nn", "np": "import numpy as np", "warnings": "import warnings",
    "NamedTuple": "from typing import NamedTuple",
}
_DATA_NAMES = ("BatchSampler", "DataLoader", "Dataset", "DistributedSampler", "Sampler", "Subset", "TensorDataset")


@functools.cache
def _runtime_pool() -> dict[str, tuple[int, int, str]]:
    """name -> (module position, line, source) of each top-level function and class of the runtime."""
    pool = {}
    for position, name in enumerate(_RUNTIME):
        module = importlib.import_module(f"studio.training.runtime.{name}")
        source = inspect.getsource(module)
        lines = source.splitlines(keepends=True)  # once: get_source_segment splits per node
        for node in pyast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):  # whole lines but the last's end
                last = lines[node.end_lineno - 1].encode()[: node.end_col_offset].decode()
                first = min([node.lineno] + [d.lineno for d in node.decorator_list])  # @torch.no_grad()
                text = "".join(lines[first - 1 : node.end_lineno - 1]) + last
                pool[node.name] = (position, node.lineno, text)
    return pool


def _names(source: str) -> set[str]:
    return {n.id for n in ast.walk(pyast.parse(source)) if isinstance(n, ast.Name)}


def runtime_sources(roots, overrides=None, plan=None, facts=None, keep=()) -> list[str]:
    """The source of the runtime functions `roots` name and of all they call, in the runtime's
    order; `overrides` (name -> source) stand in for the runtime's own text of those names, and
    with a `plan` the branches it does not take are left out and the settings it reads, but for
    the `keep` keys, are written as literals (`script_trim`); a parameter every call passes the
    same literal (or leaves at its default) is then known inside the function too."""
    pool = dict(_runtime_pool())
    for name, source in (overrides or {}).items():
        pool[name] = (*pool[name][:2], source)
    if plan is not None:
        original, facts = dict(pool), facts or {}
        # trimming only removes calls, so what the untrimmed roots reach is all that can be written
        pool = {name: (*pool[name][:2], _trimmed(pool[name][2], plan, facts, keep)) for name in _reached(pool, roots)}
        for _ in range(4):  # a parameter known can make another known
            reached = _reached(pool, roots)
            changed = False
            for name, known_params in script_trim.call_facts({n: pool[n][2] for n in reached}, facts).items():
                source = _trimmed(original[name][2], plan, {**facts, **known_params}, keep)
                changed |= source != pool[name][2]
                pool[name] = (*pool[name][:2], source)
            if not changed:
                break
    seen = _reached(pool, roots)
    return [pool[name][2] for name in sorted(seen, key=lambda n: pool[n][:2])]


def _reached(pool: dict, roots) -> set[str]:
    """The names in `pool` that `roots` name, and all those call."""
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in pool:
            continue
        seen.add(name)
        todo += _names(pool[name][2]) & set(pool)
    return seen


def _trimmed(source: str, plan: dict, facts: dict, keep) -> str:
    """`source` pruned and folded for `plan` (kept per process: an export trims the same
    functions with the same settings many times, and the settings a function's text does not
    name cannot change it)."""
    named = sorted((k, v) for k, v in plan.items() if k in source)
    key = repr((source, named, sorted(facts.items()), tuple(keep)))
    if (text := _TRIMMED.get(key)) is None:
        if len(_TRIMMED) > 4096:  # a long session's exports: start again rather than grow
            _TRIMMED.clear()
        text = _TRIMMED[key] = _trim(source, plan, facts, keep)
    return text


_TRIMMED: dict[str, str] = {}


def _trim(source: str, plan: dict, facts: dict, keep) -> str:
    decided = {key: value for key, value in plan.items() if key not in keep}  # options stay read
    source = script_trim.prune(script_trim.fold(script_trim.prune(source, decided, facts), decided, facts),
                               decided, facts)
    return script_trim.short_docstrings(source).rstrip()


def _script_imports(sources: list[str]) -> list[str]:
    used = set().union(*(_names(src) for src in sources))
    lines = [line for name, line in _IMPORTS.items() if name in used]
    data = [n for n in _DATA_NAMES if n in used]
    return lines + ([_from_import("torch.utils.data", data)] if data else [])


#: what generated model code holds when building it may download weights (torchvision's
#: ``weights=``, ``torch.hub.load``, timm's ``pretrained=True``)
_DOWNLOADS = ("weights=", "torch.hub.", "pretrained=True")
_OPTIONS = ("epochs", "batch_size", "seed", "device", "out")  # SETTINGS: the options' defaults


# -- the five steps, literally -------------------------------------------------------------------


def _call(function: str, args: list[str], keywords: dict) -> str:
    """The text of one call, e.g. ``torch.optim.Adam(model.parameters(), lr=0.001)``."""
    return f"{function}({', '.join([*args, *(f'{k}={_literal(v)}' for k, v in keywords.items())])})"


def _non_default(cls, keywords: dict) -> dict:
    """`keywords` without those equal to `cls`'s own defaults (what a tutorial leaves out)."""
    try:
        defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    except (TypeError, ValueError):  # pragma: no cover - torch's classes have signatures
        return dict(keywords)
    return {k: v for k, v in keywords.items() if k not in defaults or defaults[k] != v or k == "lr"}


def _five_steps(main: str, plan: dict, cls: str) -> str:
    """`main`'s source with the model, optimizer and loss written out for this project: the
    runtime's ``model_class()``, ``make_optimizer(...)`` and ``make_loss(...)`` become
    ``SpiralClassifier()``, ``torch.optim.Adam(model.parameters(), lr=0.001)`` and
    ``nn.CrossEntropyLoss()``, as the PyTorch tutorial writes them."""
    import torch
    from torch import nn

    opt, loss = plan["optimizer"], plan["loss"]
    implementation = (opt["implementations"] or [{}])[0]
    optimizer_class = getattr(torch.optim, opt["name"])
    keywords = {**_non_default(optimizer_class, opt["arguments"]), **implementation}
    loss_class = getattr(nn, loss["name"], None)
    texts = {
        "model_class": f"{cls}()",
        "make_optimizer": _call(f"torch.optim.{opt['name']}", ["model.parameters()"], keywords),
        "make_loss": _call(f"nn.{loss['name']}" if loss_class else loss["name"], [],
                           _non_default(loss_class, loss["arguments"]) if loss_class else loss["arguments"]),
    }
    edits = []
    for node in ast.walk(pyast.parse(main)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in texts:
            edits.append((node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, texts[node.func.id]))
    lines = main.splitlines(keepends=True)
    for line, col, end_line, end_col, text in sorted(edits, reverse=True):
        head, tail = lines[line - 1][:col], lines[end_line - 1][end_col:]
        lines[line - 1 : end_line] = [head + text + tail]
    return "".join(lines)


#: the comment lines that open the parts of train.py (the notebook cuts its cells there)
RULES = {
    "settings": "# ---------------------------------------------------------------- the data (SETTINGS)\n",
    "model": "# ---------------------------------------------------------------- the model, as Studio wrote it\n",
    "main": "# ---------------------------------------------------------------- training: the five steps\n",
    "runtime": "# ---------------------------------------------------------------- Studio's training functions\n",
}


# -- the file -----------------------------------------------------------------------------------


def _script_text(settings, plan: dict, cls: str, project_name: str, model_imports: list[str], model_body: str) -> str:
    from studio.training.kinds import get_dataset
    from studio.training.plan import runtime_functions

    fn = runtime_functions(settings)
    kind = settings.data.get("kind")
    roots = ["main", fn.metric, fn.rate, fn.read, *([fn.read_val] if fn.read_val else []), plan["loss"]["name"]]
    specs = [settings.data, *([settings.val_data] if settings.val_data else [])]
    for spec in specs:
        roots += get_dataset(spec.get("kind")).generator  # found by name at run time
    generate = get_dataset(kind).generate
    roots += [generate] if generate else []
    from torch import nn

    loss_class = [] if hasattr(nn, plan["loss"]["name"]) else [plan["loss"]["name"]]  # e.g. TokenCrossEntropy
    files = tuple(key for key in ("data", "val_data") if "path" in (plan.get(key) or {}))  # read from --data
    downloads = any(mark in model_body for mark in _DOWNLOADS)
    shared = any(get_dataset(spec.get("kind")).family != "generated" for spec in specs)
    first = any(get_dataset(spec.get("kind")).family != "generated" and get_dataset(spec.get("kind")).read_first
                for spec in specs)  # under torchrun the first process reads (downloads, caches) alone
    plan = {**plan, "files": files, "text": bool(generate), "downloads": downloads, "shared_data": first}
    facts = {"rate.__name__": fn.rate}
    if not shared and (n_val := _split_checked(plan)):  # generated data: a bad split is refused now
        facts["n_val == 0 or n_val == len(data)"] = False  # not in train.py, and its size is known
        facts["round(len(data) * fraction)"] = n_val
    if plan["precision"] == "none":  # the loop's `with autocast:` is its body; no fp16 scaler
        facts.update({"autocast": NO_CONTEXT, "hooks.autocast": NO_CONTEXT, "scaler": None})
    if plan.get("val_data") or plan["val_split"] > 0:  # load_data returns validation data or stops
        facts.update({"val_data is None": False, "validation is not None": True})
    if not plan["tensorboard"]:
        facts.update({"self.log": None, "hooks.log": None})
    if not plan["plateau"]:  # no reduce-on-plateau record
        facts["self.plateau"] = None
    facts["hooks.on_epoch_start(epoch)"] = False  # train.py's hooks never stop a run before an epoch
    if not plan.get("early_stopping"):
        facts["status == 'early_stopped'"] = False
    from studio.training.kinds import get_loss

    if not shared and get_loss(settings.loss.name).target == "class":  # generated class indices
        facts["target.dtype.is_floating_point"] = False  # (class_hits: no class probabilities)
    read = [plan.get("data") or {}, plan.get("val_data") or {}]  # the specs the readers take
    kinds = [get_dataset(spec.get("kind")).facts_for(read[i], plan) for i, spec in enumerate(specs)]
    facts.update({k: v for k, v in kinds[0].items() if all(k in o and o[k] == v for o in kinds)})
    options = [{expr: read[i][option] for expr, option in get_dataset(spec.get("kind")).spec_facts
                if option in read[i]} for i, spec in enumerate(specs)]
    facts.update({k: v for k, v in options[0].items() if all(k in o and o[k] == v for o in options)})
    data_keys = tuple(k for k in ("data", "val_data") if files and plan.get(k))  # the specs --data moves
    keep = _OPTIONS + data_keys
    functions = {"model_class": cls, "metric": fn.metric, "read": fn.read, "read_val": fn.read_val,
                 "generate": generate, "rate": fn.rate}

    def assemble(main_plan, main_facts, main_keep):
        """(main, the other functions, their imports, the settings they still read by name, the
        data specs without the options written as literals); main trimmed with `main_plan`,
        `main_facts` and `main_keep`."""
        # main reads the options from the command line and the rest as literals (argparse's defaults)
        main = _trimmed(_five_steps(_runtime_pool()["main"][2], main_plan, cls), main_plan, main_facts, main_keep)
        sources = runtime_sources(roots + loss_class, {"main": _named(main, functions)}, plan, facts, keep)
        loop = next(s for s in sources if s.startswith("def fit("))
        if "rate" not in _names(loop):  # a constant rate: the loop never sets it
            main = _named(main, {**functions, "rate": None})
            sources = runtime_sources([r for r in roots if r != fn.rate] + loss_class, {"main": main}, plan, facts,
                                      keep)
        sources = script_trim.inline_single_calls(script_trim.unused_methods(sources), keep=generators)
        sources = script_trim.inline_single_calls(script_trim.fold_known_specs(sources), keep=generators)
        sources = [script_trim.prune(source, {}) for source in script_trim.unused_parameters(sources)]
        main = next(s for s in sources if s.startswith("def main("))
        sources.remove(main)
        used = set().union(*(settings_keys(src) for src in [main, *sources])) | set(data_keys)
        kept = {key: value for key, value in plan.items() if key in used and key not in _OPTIONS}
        read_back = "\n".join(ast.unparse(pyast.parse(src)) for src in [main, *sources])
        for key, spec in zip(("data", "val_data"), specs, strict=False):  # options written as literals
            folded = {option for _, option in get_dataset(spec.get("kind")).spec_facts
                      if f"spec[{option!r}]" not in read_back and f"spec.get({option!r}" not in read_back}
            if key in kept and key in data_keys:
                kept[key] = {k: v for k, v in kept[key].items() if k not in folded}
        return main, sources, kept

    generators = [get_dataset(spec.get("kind")).generator[-1:] for spec in specs]  # e.g. spirals: stays named
    generators = [name for names in generators for name in names]
    generators += [fn.read] if generate else []  # a text reader stays a function (tests call it)
    literals = {key: {option for _, option in get_dataset(spec.get("kind")).spec_facts}
                for key, spec in zip(("data", "val_data"), specs, strict=False)}
    done = None
    if data_keys and all(key in files and set(plan[key]) <= {"path"} | literals[key] for key in data_keys):
        # specs whose options the readers may read as literals: when they do, the specs hold
        # only their paths, which main writes (spec = {"path": ...}) and reads from --data; no
        # SETTINGS. main's s[key] is its own then, never folded to the spec
        own = {f"s[{key!r}]": script_trim.UNKNOWN for key in data_keys}
        paths = {key: {"path": plan[key]["path"]} for key in data_keys}
        main, sources, kept = assemble({**plan, **paths}, {**facts, **own}, ())
        if kept == paths:
            done, kept = (main, sources), {}
    if done is None:
        main, sources, kept = assemble(plan, facts, data_keys)
    else:
        main, sources = done
    imports = _script_imports([main, *sources])
    if not kept:  # nothing reads SETTINGS but main's own options: no SETTINGS
        alone = main.replace("def main(settings)", "def main()", 1).replace("{**settings, ", "{", 1)
        main = alone if "settings" not in _names(alone) else main
    plan = kept
    with_settings = "settings" in _names(main)  # main reads them, or passes them on
    bound = set(_runtime_pool()) | {"SETTINGS"} | set().union(*(_bound_names(ln) for ln in imports))
    taken, extra = {ln.strip() for ln in imports}, []
    for line in model_imports:
        if line.strip() in taken:
            continue
        clash = _bound_names(line) & (bound | {cls})
        if clash:
            raise ExportError(f"the model's import {line.strip()!r} binds {', '.join(sorted(clash))}, a name the training script uses")
        extra.append(line)
        taken.add(line.strip())
    parts = [
        _header(cls, project_name),
        _sorted_imports(imports + extra),
        *([RULES["settings"] + f"SETTINGS = {literal(plan)}\n"] if with_settings else []),
        RULES["model"] + model_body,
        RULES["main"] + main,
        RULES["runtime"] + "\n\n\n".join(sources),
        _entry_point("SETTINGS" if with_settings else "", sources),
    ]
    head, imports_text, *rest = (p.rstrip("\n") + "\n" for p in parts)
    return head + "\n" + imports_text + "\n" + "\n\n".join(rest)


def _entry_point(argument: str, sources: list[str]) -> str:
    """``if __name__ == "__main__": main(...)``; where the script reads files (its runtime has
    `DataProblem`), a file it cannot read ends it with the reader's one sentence (the file, row,
    column), not a traceback, as ``studio train`` ends."""
    call = f"main({argument})"
    if not any(source.startswith("class DataProblem(") for source in sources):
        return f'if __name__ == "__main__":\n    {call}\n'
    return (f'if __name__ == "__main__":\n    try:\n        {call}\n'
            "    except DataProblem as e:  # data it cannot read: the reader's message, no traceback\n"
            "        sys.exit(str(e))\n")


def _split_checked(plan: dict) -> int:
    """The number of samples generated data's random split holds out when it leaves samples on
    both sides (train.py then needs no check), else 0 (no split of generated data); raises
    :class:`ExportError` with the runtime's own message where it would leave none on one side.
    A generated set holds spec["arguments"]["n"] samples, so a stand-in of that length is split
    (the runtime's `split`), not the data: export never generates a large set."""
    import torch
    from torch.utils.data import TensorDataset

    from studio.training.runtime.data import split
    from studio.training.runtime.tables import DataProblem

    n = (plan.get("data") or {}).get("arguments", {}).get("n")
    if plan.get("val_data") or plan["val_split"] <= 0 or not isinstance(n, int):
        return 0
    try:
        _, val = split(TensorDataset(torch.empty(n, 0)), plan["val_split"], plan["split_seed"])
    except DataProblem as e:
        raise ExportError(str(e)) from None
    return len(val)


def _named(main: str, functions: dict) -> str:
    """`main` with its parameters that name a function (`read`, `metric`...) written as that
    function's name (``read_generated``), and only the parameters left that it still reads."""
    main = main.replace('f"Train {model_class.__name__}', f'"Train {functions["model_class"]}')  # a literal
    tree = pyast.parse(main)
    function = tree.body[0]
    edits = [(n.lineno, n.col_offset, n.end_lineno, n.end_col_offset, str(functions[n.id]))
             for n in ast.walk(function) if isinstance(n, ast.Name) and n.id in functions]
    lines = main.splitlines(keepends=True)
    for line, col, end_line, end_col, text in sorted(edits, reverse=True):
        lines[line - 1 : end_line] = [lines[line - 1][:col] + text + lines[end_line - 1][end_col:]]
    body = "".join(lines)
    read = {n.id for n in ast.walk(pyast.parse(body)) if isinstance(n, ast.Name)}
    params = [a.arg for a in function.args.args if a.arg not in functions and a.arg in read]
    head = lines[function.lineno - 1 : function.body[0].lineno - 1]
    signature = f"def main({', '.join(params)}):\n"
    return signature + body.split("\n", len(head))[-1] if head else body


def _header(cls: str, project_name: str) -> str:
    from studio import __version__

    text = (f"Trains {cls} as the Studio project '{_comment_text(project_name)}' (Studio {__version__}) does; "
            "the same seed gives the same weights. Runs under torchrun (DDP: --batch-size is per process).")
    return "".join(f"# {line}\n" for line in textwrap.wrap(text, 98, break_on_hyphens=False))


register_format(ExportFormat(
    "script", "Training script", ".py",
    "A standalone train.py: the model, the data, the optimizer and the loop (torchrun-ready).",
    export_script,
))
