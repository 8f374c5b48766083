"""Import every torchvision classification model through torch.fx and check it is faithful.

For each model of ``torchvision.models.list_models(module=torchvision.models)``: what
``studio import torchvision:NAME`` does (trace, build the graph, generate the class, load the
original's weights into it), then the same parameter count and, in eval mode, outputs equal to
the original's within 1e-5 on a random batch of 2.

    python benchmarks/import_all.py [NAME ...]
    python benchmarks/import_all.py --zoo timm|transformers|tutorials [NAME ...]

Prints one line per model (OK/FAIL, seconds, the reason) and, last,
``imported=<n>/<total> identical=<n> slowest=<name>:<seconds>``.

``--zoo`` imports the models people load from elsewhere (tests/interop/zoo: 25 timm families, five
Hugging Face transformers from tiny configs, ten models as the PyTorch tutorials write them),
each with its weights perturbed, in eval mode. "identical": the same parameter count and outputs
within 1e-5 with the original weights; "strict": the original ``state_dict`` loads unchanged with
``strict=True`` into the exported class and gives those outputs, at every example size. Last line:
``zoo=<name> imported=N/M identical=N strict=N two_sizes=N slowest=<model>:<s>``, the seconds
being the import's own (each line also shows them with the benchmark's checks: the strict load
and the runs at batch 1 and 3). ``two_sizes``: the strict ones whose export also gives the
original's outputs at a second input size (timm: 32 pixels from the first); where the original
itself refuses that size, the line says so and the model is not counted. timm and transformers are optional: without them the zoo is skipped
with a note.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: largest output difference that counts as identical
ATOL = 1e-5
#: models that need their full image size (fixed position embeddings, window partitions)
FULL_SIZE = ("vit_", "swin_", "maxvit_")
#: GoogLeNet's and Inception's auxiliary heads run only in training mode, so an import (traced
#: in eval mode) cannot see them; they are left out of the original too, so the counts compare
KWARGS = {"googlenet": {"aux_logits": False}, "inception_v3": {"aux_logits": False}}


def image_size(name: str) -> int:
    """The smallest convenient input for ``name``: 64 pixels where the model allows."""
    if name.startswith(FULL_SIZE):
        return 224
    if name.startswith("inception"):
        return 96  # its stem needs at least 75
    return 64


def check_model(name: str) -> tuple[bool, bool, str]:
    """``(imported, identical, detail)`` for one torchvision model."""
    import torch

    from studio.interop.fx_import import ModelImportError, import_module
    from studio.interop.sources import load_model

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = load_model(f"torchvision:{name}", KWARGS.get(name))
    size = image_size(name)
    try:
        result = import_module(
            loaded.module,
            [((3, size, size), "float32")],
            name=name,
            source=loaded.source,
            kwargs=loaded.kwargs,
        )
    except ModelImportError as e:
        return False, False, str(e)
    same_count = result.params == result.original_params
    diff = result.max_difference
    identical = same_count and diff is not None and diff <= ATOL
    detail = f"{len(result.project.graph.blocks)} blocks, {result.original_params:,} parameters, max difference {diff:.1e}"
    if not same_count:
        detail += f", but {result.params:,} parameters imported"
    return True, identical, detail


def main(names: list[str]) -> int:
    if names[:1] == ["--zoo"] and len(names) > 1:
        return zoo_main(names[1], names[2:])
    import torch
    import torchvision

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    names = names or torchvision.models.list_models(module=torchvision.models)
    imported = identical = 0
    slowest = ("-", 0.0)
    for name in names:
        start = time.perf_counter()
        try:
            ok, same, detail = check_model(name)
        except Exception as e:  # noqa: BLE001 - a benchmark reports every failure and goes on
            ok, same, detail = False, False, f"{type(e).__name__}: {e}"
        seconds = time.perf_counter() - start
        imported += ok
        identical += same
        if seconds > slowest[1]:
            slowest = (name, seconds)
        status = "OK" if same else "FAIL"
        print(f"{status:4} {name:22} {seconds:7.1f}s  {detail.splitlines()[0][:300]}", flush=True)
    print(
        f"imported={imported}/{len(names)} identical={identical} slowest={slowest[0]}:{slowest[1]:.1f}"
    )
    return 0 if identical == len(names) else 1


# --------------------------------------------------------------------------- --zoo
def zoo_entries(zoo: str) -> dict | None:
    """``name -> (make, more sizes)``: ``make(batch)`` returns ``(model, example_args)``."""
    import importlib.util

    if zoo == "tutorials":
        from tests.interop.zoo.tutorials import SECOND, TUTORIALS

        def maker(cls, example):
            return lambda batch=2: (cls(), example(batch))

        return {
            n: (maker(c, e), [SECOND[n]] if n in SECOND else []) for n, (c, e) in TUTORIALS.items()
        }
    if importlib.util.find_spec(zoo) is None:
        return None
    from tests.interop.zoo import libraries

    if zoo == "timm":
        return {n: (libraries.timm_make(n), [libraries.timm_second(n)]) for n in libraries.TIMM}
    if zoo == "transformers":
        return {n: (f, [lambda b=2, f=f: f(b, 7)[1]]) for n, f in libraries.TRANSFORMERS.items()}
    raise SystemExit(f"--zoo takes timm, transformers or tutorials, not {zoo!r}")


def perturb(model) -> None:
    """Move every weight away from its initial value, so a dropped scale or bias shows."""
    import torch

    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point():
                p.add_(torch.randn(p.shape, generator=gen) * 0.02)
        for name, b in model.named_buffers():
            if b.is_floating_point() and name.endswith(("running_var", "running_mean")):
                b.mul_(1 + torch.rand(b.shape, generator=gen) * 0.5).add_(0.01)


def check_zoo_model(make, more_sizes) -> tuple[bool, bool, bool, str]:
    """``(imported, identical, strict, detail)`` for one zoo model; the import's own seconds
    (what a user waits for: trace, blocks, hierarchy, the import's check) in ``_IMPORT_SECONDS``.
    A size the original itself refuses is skipped with its reason; how many sizes the export
    ran at, as the original does, in ``_SIZES``."""
    import torch

    from studio.compiler import build_class, generate
    from studio.interop import fx_import

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model, args = make(2)
    perturb(model)
    model.eval()
    start = time.perf_counter()
    try:
        if hasattr(fx_import, "import_example"):
            result = fx_import.import_example(model, args, name=type(model).__name__)
        else:
            inputs = [(tuple(a.shape[1:]), str(a.dtype).removeprefix("torch.")) for a in args]
            result = fx_import.import_module(model, inputs, name=type(model).__name__)
    except fx_import.ModelImportError as e:
        return False, False, False, str(e)
    finally:
        _IMPORT_SECONDS[0] = time.perf_counter() - start
    diff = result.max_difference
    identical = result.params == result.original_params and diff is not None and diff <= ATOL
    detail = f"{len(result.project.graph.blocks)} blocks, max difference {diff:.1e}"
    if result.params != result.original_params:
        detail += f", {result.params:,} parameters imported of {result.original_params:,}"
    code = generate(result.project.graph, result.project.name)
    export = build_class(code)().eval()
    try:
        export.load_state_dict(model.state_dict(), strict=True)
    except RuntimeError as e:
        return (
            True,
            identical,
            False,
            detail + f"; strict load fails: {str(e).splitlines()[1][:120]}",
        )
    strict = True
    _SIZES[0] = 0
    for example in [lambda b=2: args, *more_sizes]:
        for batch in (1, 3):
            x = example(batch)
            with torch.no_grad():
                torch.manual_seed(0)
                try:
                    want = fx_import._flat(model(*x))[:1]
                except Exception as e:  # noqa: BLE001 - the original runs at one size only
                    detail += f"; the original refuses {_shapes(x)} ({str(e).splitlines()[0][:80]})"
                    break
                torch.manual_seed(0)
                try:
                    got = fx_import._flat(export(*[a for a in x if a is not None]))[:1]
                except Exception as e:  # noqa: BLE001
                    return (
                        True,
                        identical,
                        False,
                        detail + f"; the export fails at {_shapes(x)}: {e}"[:300],
                    )
            if want[0].shape != got[0].shape or float((want[0] - got[0]).abs().max()) > ATOL:
                return True, identical, False, detail + f"; other outputs at {_shapes(x)}"
        else:
            _SIZES[0] += 1
    return True, identical, strict, detail


#: the last zoo model's import time (check_zoo_model's own checks after it are not counted)
_IMPORT_SECONDS = [0.0]
#: how many example sizes the last zoo model's export ran at with the original's outputs
_SIZES = [0]


def _shapes(args) -> str:
    return ", ".join("x".join(map(str, a.shape)) for a in args if a is not None)


def zoo_main(zoo: str, names: list[str]) -> int:
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    entries = zoo_entries(zoo)
    if entries is None:
        print(f"zoo={zoo} skipped: {zoo} is not installed (pip install studio[zoo])")
        return 0
    names = names or list(entries)
    imported = identical = strict = sized = 0
    slowest = ("-", 0.0)
    for name in names:
        start = time.perf_counter()
        _SIZES[0] = 0
        try:
            ok, same, loads, detail = check_zoo_model(*entries[name])
        except Exception as e:  # noqa: BLE001 - a benchmark reports every failure and goes on
            ok, same, loads, detail = False, False, False, f"{type(e).__name__}: {e}"
        seconds = time.perf_counter() - start
        imported += ok
        identical += same
        strict += same and loads
        sized += same and loads and _SIZES[0] >= 2
        took = _IMPORT_SECONDS[0]
        if took > slowest[1]:
            slowest = (name, took)
        status = "OK" if same and loads else "FAIL"
        line = f"{status:4} {name:30} import {took:6.1f}s (with checks {seconds:6.1f}s)"
        line += f" sizes={_SIZES[0]}"
        print(f"{line}  {detail.splitlines()[0][:300]}", flush=True)
    print(
        f"zoo={zoo} imported={imported}/{len(names)} identical={identical} strict={strict} "
        f"two_sizes={sized} slowest={slowest[0]}:{slowest[1]:.1f}"
    )
    return 0 if strict == len(names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
