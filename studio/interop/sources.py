"""Where an imported model comes from: ``torchvision:NAME``, ``pkg.mod:Callable`` or
``path/to/file.py:ClassName``, with keyword arguments read as literals (never ``eval``).

No Qt. Loading a file runs its code: callers (the CLI, the GUI) say so before calling
:func:`load_model` (see :func:`runs_user_file`).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import pyast
from studio.blocks.text import short_repr

#: the Input shape used for torchvision's image classifiers when none is given
TORCHVISION_INPUT = (3, 224, 224)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64")


class SourceError(Exception):
    """The spec, its arguments or the model cannot be loaded; ``str()`` is one line."""


@dataclass
class LoadedModel:
    module: Any  # nn.Module
    #: how a Custom module block would create it again: ``pkg.mod:Callable`` or ``/abs/file.py:Class``
    source: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    name: str = "Imported model"
    #: Input shapes (without batch) and dtypes to use when the caller gives none
    default_inputs: list[tuple[tuple[int, ...], str]] | None = None
    #: the arguments to call it with, where the callable returned ``(model, example_args)``
    example_args: tuple | None = None


@dataclass(frozen=True)
class Spec:
    kind: str  # "torchvision" | "module" | "file"
    where: str  # model name, dotted module, or file path
    attr: str  # callable / class name ("" for torchvision)

    def __str__(self) -> str:
        if self.kind == "torchvision":
            return f"torchvision:{self.where}"
        return f"{self.where}:{self.attr}" if self.attr else self.where


def parse_spec(text: str) -> Spec:
    """Split ``torchvision:resnet18``, ``pkg.mod:Callable`` or ``dir/file.py:Class``; a bare
    ``dir/file.py`` leaves the class to :func:`model_class`, which reads the file (not run)."""
    text = text.strip()
    if text.endswith(".py"):  # no class named (C:\\models\\net.py has a colon, but no class)
        return Spec("file", text, "")
    where, sep, attr = text.rpartition(":")
    if not sep or not where or not attr:
        raise SourceError(
            f"{short_repr(text)}: give torchvision:NAME, package.module:Callable or path/to/file.py[:ClassName]"
        )
    if where == "torchvision":
        return Spec("torchvision", attr, "")
    if not _IDENT.match(attr):
        raise SourceError(f"{short_repr(text)}: {short_repr(attr)} is not a Python name")
    if where.endswith(".py") or "/" in where or "\\" in where:
        return Spec("file", where, attr)
    if not all(_IDENT.match(p) for p in where.split(".")):
        raise SourceError(f"{short_repr(text)}: {short_repr(where)} is neither a module name nor a .py file")
    return Spec("module", where, attr)


def runs_user_file(spec: Spec) -> Path | None:
    """The file (or module outside the allow-list of :mod:`studio.trust`) whose code loading
    ``spec`` runs, to ask the user first; None when nothing outside Studio's own packages runs."""
    from studio.trust import allowed_without_consent

    if spec.kind == "file":
        return Path(spec.where)
    if spec.kind == "module" and not allowed_without_consent(spec.where):
        return Path(spec.where)
    return None


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """``"num_classes=10, dropout=0.2"`` (or a dict literal) -> a dict. Literals only."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = pyast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise SourceError(f"--kwargs: {short_repr(text)} is not a literal dict") from None
        if not isinstance(value, dict) or not all(isinstance(k, str) and _IDENT.match(k) for k in value):
            raise SourceError("--kwargs: give name=value pairs, like num_classes=10")
        return value
    try:
        call = pyast.parse(f"f({text})", mode="eval").body
    except SyntaxError:
        raise SourceError(f"--kwargs: {short_repr(text)} is not name=value pairs like num_classes=10") from None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise SourceError("--kwargs: give name=value pairs, like num_classes=10")
    out: dict[str, Any] = {}
    for kw in call.keywords:
        try:
            out[kw.arg] = pyast.literal_eval(kw.value)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            raise SourceError(
                f"--kwargs: the value of {kw.arg} must be a literal (number, text, True/False, "
                "None, tuple, list or dict)"
            ) from None
    return out


#: values in one sample of an import's example input (50M: 200 MB as float32 per sample)
MAX_INPUT_VALUES = 50_000_000


def parse_input_shape(text: str) -> tuple[tuple[int, ...], str]:
    """``"3,224,224"`` or ``"16:int64"`` -> ``((3, 224, 224), "float32")``."""
    shape_text, _, dtype = text.strip().partition(":")
    dtype = dtype.strip() or "float32"
    if dtype not in _DTYPES:
        raise SourceError(f"--input-shape {short_repr(text)}: the dtype must be one of {', '.join(_DTYPES)}")
    parts = [p for p in re.split(r"[,x×\s]+", shape_text.strip().strip("()[]")) if p]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise SourceError(
            f"--input-shape {short_repr(text)}: give sizes without the batch, like 3,224,224"
        ) from None
    if not shape or any(s < 1 for s in shape) or len(shape) > 8:
        raise SourceError(f"--input-shape {short_repr(text)}: give 1 to 8 positive sizes, like 3,224,224")
    values = math.prod(shape)
    if values > MAX_INPUT_VALUES:  # the import runs a batch of 2 through the model, twice
        raise SourceError(
            f"--input-shape {short_repr(text)}: {values:,} values per sample is too large to trace "
            f"(at most {MAX_INPUT_VALUES:,}, e.g. 3,1024,1024 x 16)"
        )
    return shape, dtype


def load_model(spec: Spec | str, kwargs: dict[str, Any] | None = None) -> LoadedModel:
    """Create the module ``spec`` names. Runs the code of a file spec."""
    from torch import nn

    spec = parse_spec(spec) if isinstance(spec, str) else spec
    kwargs = dict(kwargs or {})
    default_inputs = None
    if spec.kind == "torchvision":
        fn, source = _torchvision(spec.where, kwargs)
        name = spec.where
        default_inputs = [(TORCHVISION_INPUT, "float32")]
    elif spec.kind == "module":
        from studio.trust import UntrustedCode, import_module, trust

        if runs_user_file(spec) is not None:
            trust(spec.where)  # the caller asked the user (see runs_user_file)
        try:
            mod = import_module(spec.where)
        except UntrustedCode as e:
            raise SourceError(str(e)) from None
        except Exception as e:  # noqa: BLE001 - any failure of the user's module is one line
            raise SourceError(f"cannot import {spec.where}: {_first_line(e)}") from None
        fn = _attr(mod, spec)
        source, name = f"{spec.where}:{spec.attr}", spec.attr
    else:
        path = Path(spec.where).expanduser().resolve()
        from studio.trust import trust

        if not spec.attr:  # read (not run) to find the class, before any of its code runs
            spec = Spec("file", spec.where, model_class(path))
        trust(str(path))  # the user chose to import this file: its blocks may run it
        mod = _load_file(path)
        fn = _attr(mod, spec)
        source, name = f"{path}:{spec.attr}", spec.attr
    try:
        module = fn(**kwargs)
    except Exception as e:  # noqa: BLE001
        raise SourceError(f"{spec}: creating the model failed: {_first_line(e)}") from None
    example_args = None
    if isinstance(module, tuple) and len(module) == 2 and isinstance(module[0], nn.Module):
        module, example_args = module  # make() -> (model, example_args)
        example_args = tuple(example_args) if isinstance(example_args, (tuple, list)) else (example_args,)
    if not isinstance(module, nn.Module):
        raise SourceError(f"{spec} gave a {type(module).__name__}, not a torch.nn.Module")
    if default_inputs is None:
        default_inputs = studio_input_specs(type(module))
    if default_inputs is None and example_args is not None:
        default_inputs = [
            (tuple(a.shape[1:]), str(a.dtype).removeprefix("torch."))
            for a in example_args
            if hasattr(a, "shape") and hasattr(a, "dtype")
        ]
    return LoadedModel(module, source, kwargs, name, default_inputs, example_args)


def _torchvision(name: str, kwargs: dict[str, Any]):
    import torchvision.models as tvm

    if kwargs.get("weights") is not None or kwargs.get("pretrained"):
        raise SourceError(
            "Studio imports torchvision models without pretrained weights (nothing is "
            "downloaded); leave out weights=/pretrained="
        )
    kwargs.pop("pretrained", None)
    kwargs["weights"] = None
    names = set(tvm.list_models())
    if name not in names:
        close = sorted(n for n in names if name.lower()[:4] in n)[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise SourceError(f"torchvision has no model called {short_repr(name)}{hint}")
    return getattr(tvm, name, None) or (lambda **kw: tvm.get_model(name, **kw)), f"torchvision.models:{name}"


#: the largest Python file read to find its model class (its code is not run for this)
_MAX_SOURCE = 8 << 20


def model_classes(path: Path) -> list[str]:
    """The top-level classes of a Python file that look like models (they define ``forward`` or
    derive from a ``…Module``), read without running the file: first those no other of them
    uses (a network rather than its blocks), each group in the file's order."""
    top, used = _model_classes(path)
    return top + used


def _model_classes(path: Path) -> tuple[list[str], list[str]]:
    try:
        if path.stat().st_size > _MAX_SOURCE:
            raise SourceError(f"{path}: larger than {_MAX_SOURCE >> 20} MB, not a model file")
        tree = pyast.parse(path.read_text(encoding="utf-8-sig"), filename=str(path))
    except OSError as e:
        raise SourceError(f"{path}: cannot be read ({e.strerror or e})") from None
    except (SyntaxError, ValueError, UnicodeDecodeError) as e:
        raise SourceError(f"{path}: not Python code ({_first_line(e)})") from None
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and _looks_like_model(n)]
    names = [n.name for n in found]
    used = {
        ref.id
        for node in found
        for ref in ast.walk(node)
        if isinstance(ref, ast.Name) and ref.id in names and ref.id != node.name
    }
    return [n for n in names if n not in used], [n for n in names if n in used]


def _looks_like_model(node: ast.ClassDef) -> bool:
    bases = [ast.unparse(b).rpartition(".")[2] for b in node.bases]
    defines = {n.name for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return "forward" in defines or any(b.endswith("Module") for b in bases)


def model_class(path: Path) -> str:
    """The model class of a file named without ``:Class``: the only class that looks like a
    model, or the only one of them no other uses; else a message that lists them."""
    top, used = _model_classes(path)
    if len(top) == 1:
        return top[0]
    names = top + used
    if not names:
        raise SourceError(f"{path} defines no model class (a class with a forward method)")
    raise SourceError(f"{path} defines {', '.join(names)}: name one, as in {path}:{names[0]}")


def _attr(mod, spec: Spec):
    fn = getattr(mod, spec.attr, None)
    if fn is None or not callable(fn):
        raise SourceError(f"{spec.where} has no class or function called {short_repr(spec.attr)}")
    return fn


def _load_file(path: Path):
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    name = "studio_user_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SourceError(f"{path}: cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up here
    folder = str(path.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)  # so the file can import its neighbours
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001
        sys.modules.pop(name, None)
        raise SourceError(f"{path}: running the file failed: {_first_line(e)}") from None
    finally:
        if added:
            sys.path.remove(folder)
    return module


_DOC_INPUT = re.compile(r"^\s*(\w+): N((?:×\d+)*) \((\w+)\)\s*$")
#: the one-line form: ``Maps points (N×2, float32) to logits (N×2); N is the batch size.``
_DOC_LINE = re.compile(r"^Maps (.+?) to (.+); N is the batch size\.$")
_DOC_LINE_INPUT = re.compile(r"(\w+) \(N((?:×\d+)*), (\w+)\)")
_DOC_LINE_OUTPUT = re.compile(r"(\w+) \([^()]*\)")


def _doc_line(cls: type) -> tuple[str, str] | None:
    """(inputs, outputs) of a one-line docstring Studio generated, else None."""
    m = _DOC_LINE.match((cls.__doc__ or "").strip())
    return (m.group(1), m.group(2)) if m else None


def _input_spec(dims_text: str, dtype: str) -> tuple[tuple[int, ...], str] | None:
    dims = tuple(int(d) for d in dims_text.split("×") if d)
    return (dims, dtype if dtype in _DTYPES else "float32") if dims else None


def studio_input_specs(cls: type) -> list[tuple[tuple[int, ...], str]] | None:
    """Input shapes read from the docstring of a model Studio generated (its one line, else its
    ``Inputs:`` section)."""
    doc = cls.__doc__ or ""
    if (line := _doc_line(cls)) is not None:
        specs = [_input_spec(dims, dtype) for _, dims, dtype in _DOC_LINE_INPUT.findall(line[0])]
        return None if not specs or None in specs else specs
    if "Inputs:" not in doc:
        return None
    out = []
    for line in doc.split("Inputs:", 1)[1].splitlines()[1:]:
        m = _DOC_INPUT.match(line)
        if not m:
            break
        spec = _input_spec(m.group(2), m.group(3))
        if spec is None:
            return None
        out.append(spec)
    return out or None


_DOC_OUTPUT = re.compile(r"^\s*(\w+): ")


def studio_output_names(cls: type) -> list[str] | None:
    """Output names read from the docstring of a model Studio generated (its one line, else its
    ``Returns:`` section)."""
    doc = cls.__doc__ or ""
    if (line := _doc_line(cls)) is not None:
        return _DOC_LINE_OUTPUT.findall(line[1]) or None
    if "Returns:" not in doc:
        return None
    names = []
    for line in doc.split("Returns:", 1)[1].splitlines()[1:]:
        m = _DOC_OUTPUT.match(line)
        if not m or not line.startswith(" " * 8):
            break
        names.append(m.group(1))
    return names or None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    line = text.splitlines()[0] if text else ""
    return f"{type(e).__name__}: {line}" if line else type(e).__name__
