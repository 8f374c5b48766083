"""Intra-op threads and the optimizer's implementation, measured where they are chosen
(studio/training/runtime/threads.py, studio/training/optim.py), idle and under load.

Fresh child processes, one per thread count, each interleaving: training steps of a small MLP
(20 -> 64 -> 64 -> 3, batch 64: the size people start with) and of a wide one (256 -> 1024 ->
1024 -> 10, batch 128), with Adam as ``foreach``, ``fused`` and the ``for-loop``; and Try it's
work, 100 tokens sampled one at a time from a small character transformer. ``--busy N`` starts N
processes that spin on the CPU for the whole measurement (as ``stress --cpu N`` does).

Prints samples/s (training) and tokens/s (generation) per configuration; last line:
``small_1t=<samples/s> small_2t=... wide_1t=... wide_2t=... fused_over_foreach=<ratio>
tokens_1t=... tokens_2t=... busy=<N>`` (fused_over_foreach: step time of fused / foreach,
small MLP, one thread).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECONDS = 1.5  # per configuration


def _spin() -> None:
    while True:
        pass


def _steps(model, x, y, optimizer, seconds: float) -> float:
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(5):  # warm-up
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()
        n += 1
    return n * len(x) / (time.perf_counter() - t0)


def child(threads: int) -> None:
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {}
    shapes = {"small": ((20, 64, 64, 3), 64), "wide": ((256, 1024, 1024, 10), 128)}
    for name, (dims, batch) in shapes.items():
        layers = []
        for a, b in zip(dims, dims[1:]):
            layers += [nn.Linear(a, b), nn.ReLU()]
        model = nn.Sequential(*layers[:-1])
        x, y = torch.randn(batch, dims[0]), torch.randint(0, dims[-1], (batch,))
        for impl in ("foreach", "fused", "for-loop"):
            kw = {"foreach": {"foreach": True}, "fused": {"fused": True}, "for-loop": {"foreach": False}}[impl]
            opt = torch.optim.Adam(model.parameters(), lr=1e-3, **kw)
            out[f"{name}:{impl}"] = _steps(model, x, y, opt, SECONDS)
    layer = nn.TransformerEncoderLayer(64, 4, 128, batch_first=True)
    gen = nn.Sequential(nn.Embedding(60, 64), nn.TransformerEncoder(layer, 2), nn.Linear(64, 60)).eval()
    ids = torch.zeros(1, 1, dtype=torch.long)
    t0 = time.perf_counter()
    with torch.no_grad():
        for _ in range(100):
            logits = gen(ids[:, -64:])[:, -1]
            ids = torch.cat([ids, torch.multinomial(logits.softmax(-1), 1)], 1)
    out["tokens"] = 100 / (time.perf_counter() - t0)
    print(" ".join(f"{k}={v:.1f}" for k, v in out.items()))


def run_child(threads: int) -> dict:
    text = subprocess.run([sys.executable, __file__, "--child", str(threads)], capture_output=True, text=True,
                          timeout=600, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if text.returncode:
        raise SystemExit(text.stderr[-2000:])
    return {k: float(v) for k, v in (kv.split("=") for kv in text.stdout.split())}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--busy", type=int, default=0, help="processes spinning on the CPU meanwhile")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for p in spinners:
        p.start()
    try:
        counts = [int(t) for t in args.threads.split(",")]
        results = {t: run_child(t) for t in counts}
    finally:
        for p in spinners:
            p.terminate()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, {args.busy} busy processes added")
    for t, r in results.items():
        print(f"{t} thread(s): " + ", ".join(f"{k} {v:,.0f}" for k, v in r.items()))
    one = results[counts[0]]
    parts = [f"{m}_{t}t={results[t][f'{m}:foreach']:.0f}" for m in ("small", "wide") for t in counts]
    parts.append(f"fused_over_foreach={one['small:foreach'] / one['small:fused']:.2f}")
    parts += [f"tokens_{t}t={results[t]['tokens']:.1f}" for t in counts]
    print(" ".join(parts) + f" busy={args.busy}")


if __name__ == "__main__":
    main()
