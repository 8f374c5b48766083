"""An imported GPT-2 trains in Studio on the shipped tales, as a user would do it: ``studio
import file.py:make`` (a tiny config whose vocabulary is the tales' characters), the text data
chosen with windows of 64 (the Input set to that length, the fix Studio offers), then ``studio
train`` headless, and the exported train.py trains the same way with nothing from Studio."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

# found, not imported: importing it costs every xdist worker 1-2 s at collection
pytestmark = pytest.mark.skipif(importlib.util.find_spec("transformers") is None, reason="needs transformers")

ROOT = Path(__file__).resolve().parents[2]
TALES = ROOT / "resources" / "data" / "tiny_tales.txt"
MAKE = """
import torch
from transformers import GPT2Config, GPT2LMHeadModel

def make():
    config = GPT2Config(n_layer=2, n_head=2, n_embd=32, vocab_size={vocab}, n_positions=64,
                        use_cache=False)
    return GPT2LMHeadModel(config), (torch.randint(0, {vocab}, (2, 12)),)
"""


def _studio(*args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "studio", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def _last(metrics: Path) -> dict[str, float]:
    rows = list(csv.DictReader(metrics.open()))
    return {k: float(v) for k, v in rows[-1].items() if v not in ("", None)}


def _in_process(*args: str) -> None:
    """A subcommand that trains nothing, run in the test's process (a new one would only import
    torch again): the same `studio.cli.main` the command runs."""
    from studio.cli import main

    assert main(list(args)) == 0


def test_an_imported_gpt2_trains_on_the_shipped_tales_headless_and_as_train_py(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # as `python -m studio` in tmp_path has it
    text = TALES.read_text(encoding="utf-8")[:20_000]  # the tales' first pages: a bounded run
    (tmp_path / "tales.txt").write_text(text, encoding="utf-8")
    vocab = len(set(text))
    (tmp_path / "gpt2_make.py").write_text(MAKE.format(vocab=vocab))
    _in_process("import", "gpt2_make.py:make", "-o", "gpt2.studio.json", "-y")
    project = tmp_path / "gpt2.studio.json"
    data = json.loads(project.read_text())
    inputs = [b for b in data["graph"]["blocks"] if b["type"] == "input"]
    assert [b["params"]["shape"] for b in inputs] == [[12]]
    inputs[0]["params"]["shape"] = [64]
    data["training"] = {
        "data": {
            "kind": "text",
            "path": "tales.txt",
            "tokenizer": "char",
            "block_size": 64,
            "stride": 32,
        },
        "loss": {"name": "next_token"},
        "optimizer": {"name": "adamw", "lr": 0.003},
        "epochs": 2,
        "batch_size": 32,
        "seed": 0,
    }
    project.write_text(json.dumps(data))

    _studio("train", "gpt2.studio.json", "--out", "run", cwd=tmp_path)
    studio_run = _last(tmp_path / "run" / "metrics.csv")
    assert math.isfinite(studio_run["train_loss"])
    assert studio_run["val_loss"] < math.log(vocab)  # below guessing: it learned the text

    _in_process("export", "gpt2.studio.json", "--format", "script", "-o", "train.py")
    script = (tmp_path / "train.py").read_text()
    assert "transformers" not in script and "import studio" not in script
    done = subprocess.run(
        [sys.executable, "train.py", "--data", str(tmp_path), "--out", "script_run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    script_run = _last(tmp_path / "script_run" / "metrics.csv")
    assert script_run["val_loss"] < math.log(vocab)
    # the same seed, data and functions: train.py repeats Studio's run
    assert script_run["val_loss"] == pytest.approx(studio_run["val_loss"], rel=0.02)
