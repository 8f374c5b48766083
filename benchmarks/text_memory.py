"""Peak memory of training on a large text file, as a multiple of its int64 token tensor.

Writes a ``--mb`` MB (200) ASCII text file (words from a small alphabet, so one token a byte)
to a temporary folder, then in a fresh child process does what ``studio train`` does with it:
the check (the data's signature), reading the data (a 10% validation tail), and training a
small Embedding -> Linear model (char tokenizer, block 64, stride 32, batch 64) for ``--steps``
optimizer steps (an epoch of 200 MB is hours on a CPU; the data's memory is all taken by the
first step). The figure is the most memory the child held (its peak resident set) above what it
held after importing torch and Studio, divided by the token tensor as int64 (8 bytes a token),
the size the issue measures against.

Last line: ``tokens=<int> token_tensor_mb=<float> peak_mb=<float> peak_x_tokens=<float>``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK, STRIDE, BATCH = 64, 32, 64


def write_text(path: Path, mb: int) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    letters = np.frombuffer(b"etaoinshrdlucmfwyp   \n", dtype=np.uint8)
    with open(path, "wb") as f:
        for _ in range(mb):
            f.write(letters[rng.integers(0, len(letters), 1_000_000)].tobytes())


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, steps: int) -> None:
    """Check, read and train in this fresh process; prints ``tokens peak_mb_above_imports``."""
    import torch

    from studio.compiler import analyze, build_model
    from studio.graph.model import Graph
    from studio.training import Trainer, TrainingSettings, load_data
    from studio.training.callbacks import BaseCallback
    from studio.training.fit_check import check_training

    torch.set_num_threads(1)
    base = _peak_mb()
    training = {
        "data": {
            "kind": "text",
            "path": path,
            "tokenizer": "char",
            "block_size": BLOCK,
            "stride": STRIDE,
        },
        "loss": {"name": "next_token"},
        "epochs": 1,
        "batch_size": BATCH,
        "val_split": 0.1,
        "optimizer": {"name": "adamw", "lr": 0.003},
        "device": "cpu",
    }
    vocab = len(set(Path(path).read_bytes()[:1_000_000]))
    g = Graph()
    blocks = [
        g.add_block("input", name="tokens", params={"shape": [BLOCK], "dtype": "int64"}),
        g.add_block(
            "embedding", name="embed", params={"num_embeddings": vocab, "embedding_dim": 24}
        ),
        g.add_block("linear", name="head", params={"out_features": vocab}),
        g.add_block("output", name="logits"),
    ]
    for a, b in zip(blocks, blocks[1:]):
        g.connect(a.id, "out", b.id, "in")
    problems = check_training(g, analyze(g), training)
    assert not problems, [p.message for p in problems]
    settings = TrainingSettings.from_dict(training)
    data = load_data(settings)
    tokens = len(data.train.tokens) + len(data.val.tokens)

    class Stop(BaseCallback):
        def on_step_end(self, report) -> None:
            if report.step >= steps:
                trainer.stop()

    trainer = Trainer(build_model(g), data, settings, callbacks=[Stop()], max_threads=1)
    result = trainer.fit()
    assert result.status in ("stopped", "completed"), result.message
    print(f"{tokens} {_peak_mb() - base:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the text file in MB (200)")
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps to train (20)")
    parser.add_argument("--child", nargs=2, metavar=("PATH", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.txt"
        write_text(path, args.mb)
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path), str(args.steps)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    if out.returncode:
        raise SystemExit(f"the training child failed:\n{out.stderr}")
    tokens, peak = out.stdout.split()[-2:]
    tensor_mb = int(tokens) * 8 / 2**20
    print(f"text file: {args.mb} MB; trained {args.steps} steps after the check and the data read")
    print(
        f"tokens={tokens} token_tensor_mb={tensor_mb:.1f} peak_mb={float(peak):.1f} "
        f"peak_x_tokens={float(peak) / tensor_mb:.2f}"
    )


if __name__ == "__main__":
    main()
