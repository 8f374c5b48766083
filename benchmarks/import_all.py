"""Import every torchvision classification model through torch.fx and check it is faithful.

For each model of ``torchvision.models.list_models(module=torchvision.models)``: what
``studio import torchvision:NAME`` does (trace, build the graph, generate the class, load the
original's weights into it), then the same parameter count and, in eval mode, outputs equal to
the original's within 1e-5 on a random batch of 2.

    python benchmarks/import_all.py [NAME ...]

Prints one line per model (OK/FAIL, seconds, the reason) and, last,
``imported=<n>/<total> identical=<n> slowest=<name>:<seconds>``.
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
            loaded.module, [((3, size, size), "float32")], name=name, source=loaded.source, kwargs=loaded.kwargs
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
    print(f"imported={imported}/{len(names)} identical={identical} slowest={slowest[0]}:{slowest[1]:.1f}")
    return 0 if identical == len(names) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
