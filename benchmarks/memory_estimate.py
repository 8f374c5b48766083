"""The memory estimate (``studio.compiler.memory``, from ``meta`` tensors) against reality.

For each model and batch size, the activation bytes the estimate predicts are compared with
the bytes autograd really saves for backward in a real CPU forward of the same generated
model in training mode: every tensor a ``saved_tensors_hooks`` pack hook receives, one count
per storage (views share one), parameters and buffers left out. The ratio estimate/measured
is printed per run; the last line gives the worst (furthest from 1) and the median.

Models: torchvision's resnet18, resnet50, vit_b_16 and mobilenet_v3_small imported as
projects (what ``studio import torchvision:NAME`` writes), the Tiny GPT and every example
project. Batch 1, 8 and 32; resnet50 and vit_b_16 skip batch 32 (gigabytes of real
activations and a minute of CPU each on a shared 2-core machine; the estimate is linear in the
batch, which 1 and 8 already check). ``--quick`` runs batch 1 and 8 of the examples only.

    python benchmarks/memory_estimate.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from studio.compiler import build_model, generate  # noqa: E402
from studio.compiler.memory import estimate_memory  # noqa: E402
from studio.graph.project import load_project  # noqa: E402
from studio.units import fmt_bytes  # noqa: E402

TORCHVISION = ["resnet18", "resnet50", "vit_b_16", "mobilenet_v3_small"]
LARGE = {"resnet50", "vit_b_16"}  # batch 32 skipped (see the docstring)


def measured_saved_bytes(model: torch.nn.Module, inputs: list[torch.Tensor]) -> int:
    """Bytes of the distinct storages autograd saves in a real forward (parameters excluded)."""
    skip = {p.untyped_storage().data_ptr() for p in model.parameters()}
    skip |= {b.untyped_storage().data_ptr() for b in model.buffers()}
    seen: dict[int, int] = {}
    keep = []

    def pack(t: torch.Tensor):
        s = t.untyped_storage()
        ptr = s.data_ptr()
        if ptr not in skip and ptr not in seen:
            seen[ptr] = s.nbytes()
            keep.append(t)
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(*inputs)
    keep.clear()
    del out
    return sum(seen.values())


def real_inputs(graph, batch: int) -> list[torch.Tensor]:
    from studio.compiler import input_specs

    xs = []
    for _, shape, dtype in input_specs(graph):
        dt = getattr(torch, dtype)
        if dt.is_floating_point:
            xs.append(torch.randn((batch, *shape), dtype=dt))
        else:
            xs.append(torch.randint(0, 2, (batch, *shape), dtype=dt))
    return xs


def projects(quick: bool):
    for path in sorted((ROOT / "resources" / "examples").glob("*.studio.json")):
        graph = load_project(path).graph
        for block in graph.blocks.values():  # random weights: no download (the same memory)
            if "weights" in block.params and block.spec.params["weights"].kind == "choice":
                graph.set_params(block.id, {"weights": "none"})
        yield path.name.removesuffix(".studio.json"), graph, set()
    if quick:
        return
    from studio.interop.fx_import import import_spec

    for name in TORCHVISION:
        result = import_spec(f"torchvision:{name}", verify=False)
        yield name, result.project.graph, {32} if name in LARGE else set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the examples at batch 1 and 8 only")
    args = parser.parse_args()
    batches = (1, 8) if args.quick else (1, 8, 32)
    torch.manual_seed(0)
    start = time.perf_counter()
    ratios: list[float] = []
    models = 0
    print(
        f"{'model':<22}{'batch':>6}{'estimate':>12}{'measured':>12}{'ratio':>8}{'est s':>7}{'real s':>7}"
    )
    for name, graph, skip in projects(args.quick):
        models += 1
        code = generate(graph, "Model")
        model = build_model(graph)
        for batch in batches:
            if batch in skip:
                print(f"{name:<22}{batch:>6}  skipped (see the docstring)")
                continue
            t0 = time.perf_counter()
            est = estimate_memory(graph, batch, code=code).activations
            t1 = time.perf_counter()
            real = measured_saved_bytes(model, real_inputs(graph, batch))
            t2 = time.perf_counter()
            ratio = est / real if real else (1.0 if not est else float("inf"))
            ratios.append(ratio)
            print(
                f"{name:<22}{batch:>6}{fmt_bytes(est):>12}{fmt_bytes(real):>12}{ratio:>8.3f}"
                f"{t1 - t0:>7.1f}{t2 - t1:>7.1f}",
                flush=True,
            )
        del model
    worst = max(ratios, key=lambda r: abs(r - 1.0))
    print(f"wall time {time.perf_counter() - start:.0f} s")
    print(f"models={models} worst_ratio={worst:.4f} median_ratio={statistics.median(ratios):.4f}")


if __name__ == "__main__":
    main()
