"""Export a project: Python source, weights, a torch.export program, TorchScript or ONNX. No Qt.

Every format starts from the one generated module (:func:`studio.compiler.generate` and
:func:`studio.compiler.build_class`), so what is exported is what Studio shows and trains.
Each exporter writes its file atomically (temporary file, then rename), checks it by loading
it back, and returns an :class:`ExportResult` whose notes say what was done (scripted or
traced, which weights, how the file was checked). Problems raise :class:`ExportError` with a
one-line message.

The GUI's Export menu lists :data:`FORMATS` and calls :func:`export_project`. The formats
live in :mod:`studio.interop.export_formats`, below every exporter: the standalone training
script (``script``, :mod:`studio.interop.script`) and the notebook register themselves there,
and this module imports them (one way: neither imports this module).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from studio.graph.files import UnsafeFile, write_target
from studio.graph.project import Project, write_atomic
from studio.interop.export_formats import (  # noqa: F401  (the names this module has always offered)
    FORMATS,
    ExportError,
    ExportFormat,
    ExportResult,
    MissingDependency,
    _atomic,
    _code,
    register_format,
)

ONNX_INSTALL = 'pip install "studio-pytorch[onnx]"'
#: the torch.export-based ONNX exporter's oldest well-supported opset
DEFAULT_OPSET = 18
#: ONNX outputs are compared with PyTorch's by onnx's pure-Python reference evaluator only
#: for models up to this many parameters (it is slow); onnxruntime, when installed, always
REFERENCE_CHECK_MAX_PARAMS = 2_000_000
TOLERANCE = 1e-4
TORCHSCRIPT_DEPRECATED = (
    "note: TorchScript is deprecated in PyTorch; torch.export (.pt2, format pt2) is its successor"
)


def export_project(project: Project, fmt: str, path: str | os.PathLike[str], **options: Any) -> ExportResult:
    """Export ``project`` in format ``fmt`` (a key of :data:`FORMATS`) to ``path``."""
    try:
        spec = FORMATS[fmt]
    except KeyError:
        raise ExportError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})") from None
    try:
        write_target(path)  # '' or a device: one line before anything is built
    except UnsafeFile as e:
        raise ExportError(f"{e}; nothing was written") from None
    try:
        return spec.export(project, path, **options)
    except ExportError:
        raise
    except MemoryError:
        raise ExportError(f"{spec.label} export ran out of memory; nothing was written") from None
    except Exception as e:  # noqa: BLE001 - the model's forward raising, torch's writer failing
        raise ExportError(f"{spec.label} export failed: {_failure(e)}; nothing was written") from None


def _failure(e: BaseException) -> str:
    """One line for an exception torch raised while exporting: a failed write says so."""
    text = _first_line(e)
    if "inline_container" in text or "file write failed" in text:
        return f"the file could not be written (is the disk full?) ({text[:160]})"
    return text[:300]


# --------------------------------------------------------------------------- helpers
def weights_path(run: str | os.PathLike[str]) -> Path:
    """The weights file of a run folder (``RUN/weights.pt``), or ``run`` itself if it is a file."""
    p = Path(run)
    if p.is_dir():
        p = p / "weights.pt"
    if not p.is_file():
        raise ExportError(f"{run}: no weights.pt here (give a training run folder or a .pt file)")
    return p


def build(project: Project, run: str | os.PathLike[str] | None = None):
    """``(model in eval mode, notes)``: the project's module, with a run's weights when given.

    Without a run the weights are freshly initialised, seeded with the project's training
    seed (0 if none) so that two exports are identical.
    """
    import torch

    from studio.compiler import build_class

    code = _code(project)
    seed = project.training.get("seed", 0) if isinstance(project.training, dict) else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed if isinstance(seed, int) else 0)
        try:
            model = build_class(code)()
        except Exception as e:  # noqa: BLE001 - e.g. a Custom module whose class is gone
            raise ExportError(f"building the model failed: {_first_line(e)}") from None
    if run is None:
        note = "weights: freshly initialised (untrained); pass a training run to export trained weights"
    else:
        path = weights_path(run)
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"{path}: cannot read the weights ({_first_line(e)})") from None
        if not isinstance(state, dict):
            raise ExportError(f"{path}: not a state_dict")
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise ExportError(
                f"{path}: the weights do not fit this model (was the project changed after "
                f"that run?): {_first_line(e)}"
            ) from None
        note = f"weights: trained, from {path}"
    return model.eval(), code, note


def output_info(weights: Path) -> dict:
    """What a run's weights.json (beside ``weights.pt``) says the outputs mean: "class_names" and a
    regression target's "target_scale"; {} when there is none or it cannot be read."""
    try:
        info = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def _statistics(info: dict, key: str) -> dict | None:
    value = info.get(key)
    return value if isinstance(value, dict) and "mean" in value and "std" in value else None


def deployable(model, run, note: str):
    """``(model, note)`` for a file that stands alone (.pt2, ONNX, TorchScript): rows the run
    standardised as it read them are standardised inside it, and a regression target it learnt
    standardised is scaled back to the data's units, so it takes raw rows and predicts as the run
    reported (`studio.training.runtime.targets`)."""
    info = output_info(weights_path(run)) if run is not None else {}
    rows, scale = _statistics(info, "normalization"), _statistics(info, "target_scale")
    from studio.training.runtime.targets import ScaledOutput, StandardizedInput

    if rows is not None:
        model = StandardizedInput(model, rows["mean"], rows["std"]).eval()
        note = f"{note}; takes raw rows (standardised inside with the training rows' mean and std from weights.json)"
    if scale is not None:
        model = ScaledOutput(model, scale["mean"], scale["std"]).eval()
        note = f"{note}; outputs in the data's units (the target's mean and std from weights.json)"
    return model, note


def example_inputs(project: Project, batch: int = 2, seed: int = 0) -> tuple:
    """One batch of inputs shaped like the project's Input blocks (random floats, zero ids)."""
    import torch

    from studio.compiler import input_specs

    gen = torch.Generator().manual_seed(seed)
    out = []
    for _, shape, dtype in input_specs(project.graph):
        dt = getattr(torch, dtype)
        if dt.is_floating_point:
            out.append(torch.randn((batch, *shape), generator=gen).to(dt))
        else:
            out.append(torch.zeros((batch, *shape), dtype=dt))
    return tuple(out)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """torch.jit and the ONNX exporter warn about their own deprecation, and the torch.export-based
    exporter prints its progress to stdout; the notes say what matters."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def _outputs(value: Any) -> list:
    import torch

    if isinstance(value, torch.Tensor):
        return [value]
    return [t for v in value for t in _outputs(v)]


def _max_diff(a: list, b: list) -> float:
    if len(a) != len(b) or any(tuple(x.shape) != tuple(y.shape) for x, y in zip(a, b)):
        return float("inf")
    return max((float((x.double() - y.double()).abs().max()) for x, y in zip(a, b) if x.numel()), default=0.0)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# --------------------------------------------------------------------------- python
def export_python(project: Project, path: str | os.PathLike[str]) -> ExportResult:
    """The generated model module (``model.py``): plain PyTorch, readable and editable."""
    code = _code(project)
    with _atomic(path) as tmp:
        tmp.write_text(code.source, encoding="utf-8")
    return ExportResult(Path(path), "python", [f"class {code.class_name}"])


# --------------------------------------------------------------------------- weights
def export_weights(
    project: Project, path: str | os.PathLike[str], run: str | os.PathLike[str] | None = None
) -> ExportResult:
    """The model's ``state_dict``, loadable with ``torch.load(path, weights_only=True)``."""
    import torch

    model, code, note = build(project, run)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with _atomic(path) as tmp:
        torch.save(state, tmp)
        back = torch.load(tmp, map_location="cpu", weights_only=True)
        if set(back) != set(state):  # pragma: no cover - torch.save round trip
            raise ExportError(f"{path}: the saved weights do not load back")
    n = sum(v.numel() for v in state.values())
    lines = [note, f"{len(state)} tensors, {n:,} values; load with {code.class_name}().load_state_dict(torch.load(path, weights_only=True))"]
    info = output_info(weights_path(run)) if run is not None else {}
    if info:  # what the inputs and outputs mean travels with the weights, as in the run's folder
        sidecar = Path(path).with_suffix(".json")
        write_atomic(sidecar, json.dumps(info))
        lines.append(f"{sidecar.name}: what the inputs and outputs mean (class names, standardisation)")
        if _statistics(info, "normalization") is not None:
            lines.append("the model expects rows standardised with the mean and std in "
                         f"{sidecar.name}: (x - mean) / std, as the run read them")
    return ExportResult(Path(path), "weights", lines)


# --------------------------------------------------------------------------- torchscript
def export_torchscript(
    project: Project,
    path: str | os.PathLike[str],
    run: str | os.PathLike[str] | None = None,
    method: str = "auto",
) -> ExportResult:
    """A TorchScript archive (``torch.jit.load`` runs it without Studio or the source).

    ``method``: ``"script"``, ``"trace"`` or ``"auto"`` (script, falling back to trace with an
    example batch built from the Input blocks' shapes).
    """
    import torch

    if method not in ("auto", "script", "trace"):
        raise ExportError(f"unknown TorchScript method {method!r} (auto, script or trace)")
    model, _, note = build(project, run)
    model, note = deployable(model, run, note)
    example = example_inputs(project)
    notes = [note]
    scripted = None
    with _quiet():
        if method in ("auto", "script"):
            try:
                scripted = torch.jit.script(model)
                notes.append("compiled with torch.jit.script")
            except Exception as e:  # noqa: BLE001
                if method == "script":
                    raise ExportError(f"torch.jit.script failed: {_first_line(e)}") from None
                reason = _first_line(e)
        if scripted is None:
            try:
                scripted = torch.jit.trace(model, example)
            except Exception as e:  # noqa: BLE001
                raise ExportError(f"torch.jit.trace failed: {_first_line(e)}") from None
            shapes = ", ".join("N×" + "×".join(str(d) for d in x.shape[1:]) for x in example)
            how = f"traced with torch.jit.trace on an example input {shapes}"
            notes.append(how + (f" (torch.jit.script failed: {reason})" if method == "auto" else ""))
        with _atomic(path) as tmp:  # checked before it takes the name: a failing model leaves nothing
            torch.jit.save(scripted, str(tmp))
            loaded = torch.jit.load(str(tmp), map_location="cpu")
            notes.append(_check_loaded(project, model, loaded, path, "TorchScript module"))
    notes.append(TORCHSCRIPT_DEPRECATED)
    return ExportResult(Path(path), "torchscript", notes)


def _check_loaded(project: Project, model, loaded, path, what: str) -> str:
    """Runs the loaded file and the model on a batch of 3 (not the export's 2); the note, or
    :class:`ExportError` when the outputs differ."""
    import torch

    check = example_inputs(project, batch=3, seed=1)
    with torch.no_grad():
        diff = _max_diff(_outputs(model(*check)), _outputs(loaded(*check)))
    if diff > TOLERANCE:
        raise ExportError(f"{path}: the {what}'s outputs differ from the model's ({diff:.1e})")
    return f"checked: loaded back, outputs match the model at batch size 3 (max difference {diff:.1e})"


# --------------------------------------------------------------------------- torch.export
def _dynamic_batch(example: tuple) -> tuple:
    """``dynamic_shapes`` for torch.export: dimension 0 of every input is one symbol, "batch"."""
    import torch

    batch = torch.export.Dim("batch")
    return tuple({0: batch} for _ in example)


def export_program(
    project: Project, path: str | os.PathLike[str], run: str | os.PathLike[str] | None = None
) -> ExportResult:
    """A ``torch.export`` program (``.pt2``): PyTorch's successor to TorchScript, loaded with
    ``torch.export.load(path).module()`` without Studio or the source; the batch size is free."""
    import torch

    model, _, note = build(project, run)
    model, note = deployable(model, run, note)
    example = example_inputs(project)
    with _quiet():
        try:
            program = torch.export.export(model, example, dynamic_shapes=_dynamic_batch(example))
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"torch.export failed: {_first_line(e)}") from None
        with _atomic(path) as tmp:  # checked before it takes the name: a failing model leaves nothing
            torch.export.save(program, str(tmp))
            loaded = torch.export.load(str(tmp)).module()
            check = _check_loaded(project, model, loaded, path, "exported program")
    return ExportResult(Path(path), "pt2", [
        note, "exported with torch.export, batch size free", check,
        "load with torch.export.load(path).module()",
    ])


# --------------------------------------------------------------------------- onnx
def _require_onnx() -> None:
    for package in ("onnx",):
        if importlib.util.find_spec(package) is None:
            raise MissingDependency(f"ONNX export needs the {package} package: {ONNX_INSTALL}")


def onnx_opsets() -> tuple[int, int]:
    """The ONNX opsets torch.onnx can write: (oldest, newest)."""
    try:
        from torch.onnx import _constants

        return int(_constants.ONNX_MIN_OPSET), int(_constants.ONNX_MAX_OPSET)
    except (ImportError, AttributeError, TypeError, ValueError):  # a torch that moved them
        return 7, DEFAULT_OPSET + 5


def onnx_names(project: Project, code=None) -> tuple[list[str], list[str]]:
    """ONNX input and output names: the Input blocks' argument names, the Output blocks' names."""
    from studio.blocks.registry import ROLE_OUTPUT
    from studio.naming import Namespace

    code = code or _code(project)
    inputs = [var for var, _ in code.inputs]
    ns = Namespace(set(inputs))
    outputs = [ns.create_name(b.name) for b in project.graph.blocks.values() if b.spec.role == ROLE_OUTPUT]
    return inputs, outputs


def export_onnx(
    project: Project,
    path: str | os.PathLike[str],
    run: str | os.PathLike[str] | None = None,
    opset: int = DEFAULT_OPSET,
    check: bool = True,
) -> ExportResult:
    """An ONNX model with a dynamic batch axis, named inputs and outputs, checked by loading it
    back (``onnx.checker``) and, where possible, by running it and comparing outputs."""
    _require_onnx()
    import torch

    low, high = onnx_opsets()
    if isinstance(opset, bool) or not isinstance(opset, int) or not low <= opset <= high:
        raise ExportError(f"opset {opset} is not one this torch can write; choose {low} to {high} (default {DEFAULT_OPSET})")
    model, code, note = build(project, run)
    model, note = deployable(model, run, note)
    in_names, out_names = onnx_names(project, code)
    example = example_inputs(project)
    axes = {n: {0: "batch"} for n in in_names + out_names}
    notes = [note]
    with _atomic(path) as tmp, _quiet():
        try:
            torch.onnx.export(
                model, example, str(tmp), dynamo=True, opset_version=opset, external_data=False,
                input_names=in_names, output_names=out_names, dynamic_shapes=_dynamic_batch(example),
            )  # external_data=False: one file (else the weights go to a .data file named after tmp)
            notes.append(f"exported by torch.onnx (the torch.export-based exporter), opset {opset}")
        except Exception as e:  # noqa: BLE001 - the older exporter still takes some models
            first = _first_line(e)
            try:
                torch.onnx.export(
                    model, example, str(tmp), dynamo=False, opset_version=opset,
                    input_names=in_names, output_names=out_names, dynamic_axes=axes,
                )
            except Exception as e2:  # noqa: BLE001
                raise ExportError(f"ONNX export failed: {first} (and with the older exporter: {_first_line(e2)})") from None
            notes.append(
                f"exported by the older TorchScript-based ONNX exporter (deprecated), opset {opset}, "
                f"because the torch.export-based one failed: {first}"
            )
        if check:
            notes += _check_onnx(tmp, model, project, in_names, out_names)
    return ExportResult(Path(path), "onnx", notes)


def _check_onnx(path: Path, model, project: Project, in_names: list[str], out_names: list[str]) -> list[str]:
    import numpy as np
    import onnx
    import torch

    proto = onnx.load(str(path))
    try:
        onnx.checker.check_model(proto)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"the ONNX file does not pass onnx.checker: {_first_line(e)}") from None
    got_in = [i.name for i in proto.graph.input if i.name in in_names]
    if got_in != in_names or [o.name for o in proto.graph.output] != out_names:
        raise ExportError("the ONNX file's inputs or outputs are not named as expected")
    notes = ["checked: onnx.checker accepts it"]
    batch = example_inputs(project, batch=3, seed=1)  # another batch size than the export's
    feeds = {n: x.numpy() for n, x in zip(in_names, batch)}
    with torch.no_grad():
        want = [t.numpy() for t in _outputs(model(*batch))]
    if importlib.util.find_spec("onnxruntime") is not None:
        import onnxruntime as ort

        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(out_names, feeds)
        runner = "onnxruntime"
    elif sum(p.numel() for p in model.parameters()) <= REFERENCE_CHECK_MAX_PARAMS:
        from onnx.reference import ReferenceEvaluator

        got = ReferenceEvaluator(proto).run(out_names, feeds)
        runner = "onnx's reference evaluator"
    else:
        return notes + ["outputs not compared (install onnxruntime to compare them)"]
    diff = _max_diff([torch.from_numpy(np.asarray(g)) for g in got], [torch.from_numpy(w) for w in want])
    if diff > TOLERANCE:
        raise ExportError(f"the ONNX model's outputs differ from PyTorch's ({diff:.1e}, run with {runner})")
    notes.append(f"checked: run with {runner} at batch size 3, outputs match (max difference {diff:.1e})")
    return notes


register_format(ExportFormat("python", "Python module", ".py", "The generated model class (model.py).", export_python))
register_format(ExportFormat("weights", "Weights", ".pt", "The state_dict, for torch.load(weights_only=True).", export_weights, True))
register_format(ExportFormat("pt2", "torch.export program", ".pt2", "A torch.export program for torch.export.load (TorchScript's successor).", export_program, True))
register_format(ExportFormat("torchscript", "TorchScript", ".pt", "A scripted (or traced) module for torch.jit.load (deprecated by PyTorch).", export_torchscript, True))
register_format(ExportFormat("onnx", "ONNX", ".onnx", "An ONNX graph with a dynamic batch axis.", export_onnx, True))
# "script" (a standalone train.py): registered by its module, listed after "python"
from studio.interop import notebook as _notebook  # noqa: E402, F401  (registers "notebook")
from studio.interop import script as _script  # noqa: E402, F401  (registers "script")
