"""Text end to end: the check before Train, a tiny Studio graph trained on the shipped text, and
train.py exported from a text project."""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main as studio
from studio.compiler import analyze, build_model
from studio.graph.commands import History
from studio.graph.model import Graph
from studio.graph.project import Project, save_project
from studio.training import Trainer, TrainingSettings, load_data
from studio.training.fit_check import check_training, describe_signature, read_signature
from tests.helpers import chain

TALES = Path(__file__).resolve().parents[2] / "resources" / "data" / "tiny_tales.txt"
VOCAB = len(set(TALES.read_text(encoding="utf-8")))


def text_model(block=32, vocab=VOCAB, head=None, dtype="int64") -> Graph:
    g = Graph()
    x = g.add_block("input", name="tokens", params={"shape": [block], "dtype": dtype})
    e = g.add_block("embedding", name="embed", params={"num_embeddings": vocab, "embedding_dim": 24})
    h = g.add_block("linear", name="head", params={"out_features": head or vocab})
    o = g.add_block("output", name="logits")
    chain(g, x, e, h, o)
    return g


def training(block=32, loss="next_token", **over) -> dict:
    return {"data": {"kind": "text", "path": str(TALES), "block_size": block, "stride": block},
            "loss": {"name": loss}, "epochs": 3, "batch_size": 32, "val_split": 0.1,
            "optimizer": {"name": "adam", "lr": 0.01}, **over}


def problems(g, t):
    return check_training(g, analyze(g), t)


def fix(g, problem):
    History(g).push(problem.fix.make(g))


def test_a_fitting_text_model_passes_the_check_and_the_data_reads_as_tokens():
    g = text_model()
    assert problems(g, training()) == []
    sig = read_signature(training()["data"], None)
    assert describe_signature(sig).endswith(f"samples of 32, the next token of {VOCAB} at each position")


def test_an_embedding_smaller_than_the_vocabulary_is_named_and_fixed_in_one_click():
    g = text_model(vocab=20, head=VOCAB)
    [p] = problems(g, training())
    assert p.message == (
        f"The data's vocabulary has {VOCAB} tokens, but embed has rows for only 20 (num_embeddings), so token "
        f"ids from 20 up cannot be looked up. Set its vocabulary size to {VOCAB}."
    )
    assert p.fix.text == f"Set embed to {VOCAB} tokens"
    fix(g, p)
    assert g.block_by_name("embed").params["num_embeddings"] == VOCAB
    assert problems(g, training()) == []


def test_a_head_of_the_wrong_width_is_named_and_fixed_in_one_click():
    g = text_model(head=10)
    [p] = problems(g, training())
    assert f"The data's vocabulary has {VOCAB} tokens, but the model gives 10 scores per position" in p.message
    assert f"Set head's out features to {VOCAB}." in p.message
    fix(g, p)
    assert problems(g, training()) == []


def test_the_byte_tokenizer_asks_for_256_rows_and_outputs():
    t = training()
    t["data"]["tokenizer"] = "byte"
    messages = [p.message for p in problems(text_model(), t)]
    assert any("vocabulary has 256 tokens, but embed has rows for only" in m for m in messages)


def test_float_inputs_and_the_wrong_loss_get_one_line_each():
    [p] = problems(text_model(dtype="float32"), training())
    assert "The data holds int64 values, but this Input expects float32" in p.message
    assert p.fix.text == "Set dtype to int64"
    [p] = problems(text_model(), training(loss="cross_entropy"))
    assert p.message == ("The text data asks for the next token at every position; Cross-entropy cannot compare "
                         "that. Choose Next-token cross-entropy as the loss.")


def test_embedding_to_linear_trains_on_the_shipped_text_and_the_loss_falls():
    settings = TrainingSettings.from_dict(training())
    data = load_data(settings)
    result = Trainer(build_model(text_model()), data, settings, expected_input_shape=(32,)).fit()
    assert result.status == "completed", result.message
    first, last = result.history[0], result.history[-1]
    assert last["val_loss"] < first["val_loss"] and last["train_loss"] < first["train_loss"]
    assert last["val_loss"] < math.log(VOCAB) - 1  # clearly better than guessing a token
    for row in result.history:
        assert row["val_perplexity"] == pytest.approx(math.exp(row["val_loss"]))
        assert row["train_perplexity"] == pytest.approx(math.exp(row["train_loss"]))
        assert 0 < row["val_accuracy"] < 1


def _train_both(project, script, tmp_path):
    """`studio train` into tmp_path/studio and the exported script into tmp_path/script, on the
    CPU with one thread; the script's finished process."""
    assert studio(["train", str(project), "--out", str(tmp_path / "studio"), "--device", "cpu"]) == 0
    run = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "script"), "--device", "cpu"],
                         capture_output=True, text=True, env=_script_env(), cwd=tmp_path, timeout=240)
    assert run.returncode == 0, run.stderr
    return run


def _script_env():
    """One thread, and no torchrun variables from the test's own environment."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("LOCAL_RANK", None)
    return env


def test_train_py_of_a_text_project_runs_and_reports_the_same_perplexity(tmp_path):
    project = tmp_path / "tales.studio.json"
    # the tales' first 24,000 characters (all 49 of its characters; ~750 windows): matching
    # losses and generation need no more, and training the whole text twice cost ~4 s (s25)
    tales = TALES.read_text(encoding="utf-8")[:24_000]
    assert set(tales) == set(TALES.read_text(encoding="utf-8"))
    (tmp_path / "tales.txt").write_text(tales, encoding="utf-8")
    data = {**training()["data"], "path": str(tmp_path / "tales.txt")}
    save_project(Project("tales", text_model(), training(epochs=2, data=data)), project)
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    lint = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", str(script)], capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    run, env = _train_both(project, script, tmp_path), _script_env()
    assert "val_perplexity" in run.stdout
    rows = [list(csv.DictReader(open(tmp_path / d / "metrics.csv"))) for d in ("studio", "script")]
    assert len(rows[0]) == len(rows[1]) == 2
    for a, b in zip(*rows, strict=True):
        assert list(a) == list(b)
        assert float(a["val_perplexity"]) == pytest.approx(float(b["val_perplexity"]), abs=1e-4)
    assert (tmp_path / "script" / "weights.pt").exists()
    args = [sys.executable, str(script), "--out", str(tmp_path / "script"), "--generate", "Once upon a time"]
    run = subprocess.run([*args, "--tokens", "40"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Once upon a time") and len(run.stdout) == len("Once upon a time") + 40 + 1
    run = subprocess.run([*args[:-1], "Quiz"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 1 and run.stderr.startswith("The prompt has the character 'Q'")
    assert len(run.stderr.strip().splitlines()) == 1
    # --generate reads the codec saved with the weights (weights.json), not the script's SETTINGS
    saved = tmp_path / "script" / "weights.json"
    info = json.loads(saved.read_text(encoding="utf-8"))
    assert info["codec"]["vocab"] == "".join(sorted(set(TALES.read_text(encoding="utf-8"))))
    saved.write_text(json.dumps({**info, "codec": {**info["codec"], "vocab": info["codec"]["vocab"].replace("O", "Q")}}))
    run = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert run.returncode == 1 and run.stderr.startswith("The prompt has the character 'O'"), run.stderr


def test_train_py_of_a_text_csv_project_trains_as_studio_does(tmp_path):
    """A CSV text column (ids from 1, 0 pads) through train.py: the same losses as `studio train`."""
    words = ["nice", "good", "fine", "great", "awful", "bad", "poor", "dull"]
    rows = [f"{words[i % 8]} {words[(i * 3) % 8]},{'pos' if i % 8 < 4 else 'neg'}" for i in range(64)]
    (tmp_path / "reviews.csv").write_text("text,label\n" + "\n".join(rows) + "\n", encoding="utf-8")
    data = {"kind": "text_csv", "path": "reviews.csv", "text": "text", "target": "label", "length": 12}
    vocab = len(set("".join(words) + " ")) + 1  # the characters and the padding id
    g = Graph()
    blocks = [g.add_block("input", name="tokens", params={"shape": [12], "dtype": "int64"}),
              g.add_block("embedding", name="embed", params={"num_embeddings": vocab, "embedding_dim": 4}),
              g.add_block("flatten", name="flat"), g.add_block("linear", name="head", params={"out_features": 2}),
              g.add_block("output", name="logits")]
    chain(g, *blocks)
    project = tmp_path / "reviews.studio.json"
    save_project(Project("reviews", g, {"data": data, "loss": {"name": "cross_entropy"}, "epochs": 2,
                                        "batch_size": 16, "optimizer": {"name": "adam", "lr": 0.01}}), project)
    script = tmp_path / "train.py"
    assert studio(["export", str(project), "--format", "script", "-o", str(script)]) == 0
    _train_both(project, script, tmp_path)
    rows = [list(csv.DictReader(open(tmp_path / d / "metrics.csv"))) for d in ("studio", "script")]
    assert len(rows[0]) == len(rows[1]) == 2
    for a, b in zip(*rows, strict=True):
        assert float(a["val_loss"]) == pytest.approx(float(b["val_loss"]), abs=1e-4)
    info = json.loads((tmp_path / "script" / "weights.json").read_text(encoding="utf-8"))
    assert info["codec"]["offset"] == 1 and info["class_names"] == ["neg", "pos"]


def test_a_text_csv_checks_the_embedding_and_asks_for_a_class_loss(tmp_path):
    (tmp_path / "reviews.csv").write_text("text,label\nnice,pos\nawful,neg\nfine,pos\n", encoding="utf-8")
    data = {"kind": "text_csv", "path": "reviews.csv", "text": "text", "target": "label", "length": 8}
    g = Graph()
    blocks = [g.add_block("input", name="tokens", params={"shape": [8], "dtype": "int64"}),
              g.add_block("embedding", name="embed", params={"num_embeddings": 5, "embedding_dim": 4}),
              g.add_block("flatten", name="flat"), g.add_block("linear", name="head", params={"out_features": 2}),
              g.add_block("output", name="logits")]
    chain(g, *blocks)
    vocab = len(set("niceawfulf")) + 1  # the characters and the padding id
    [p] = check_training(g, analyze(g), {"data": data, "loss": {"name": "cross_entropy"}}, tmp_path)
    assert f"The data's vocabulary has {vocab} tokens, but embed has rows for only 5" in p.message
    fix(g, p)
    assert check_training(g, analyze(g), {"data": data, "loss": {"name": "cross_entropy"}}, tmp_path) == []
    [p] = check_training(g, analyze(g), {"data": data, "loss": {"name": "next_token"}}, tmp_path)
    assert p.message.startswith("Next-token cross-entropy needs a text file's windows, but the data has one label")


@pytest.mark.parametrize(("loss", "head", "message"), [
    ("cross_entropy", VOCAB, "The text data asks for the next token at every position; Cross-entropy cannot compare "
                             "that. Choose Next-token cross-entropy as the loss."),
    ("next_token", 10, "The model outputs shape (32, 10) per window but next-token cross-entropy needs one score per "
                       f"vocabulary token at each position, (32, {VOCAB}). End the model with a Linear layer of {VOCAB} "
                       "out features."),
])
def test_started_anyway_a_mismatched_text_run_fails_with_one_line(loss, head, message):
    settings = TrainingSettings.from_dict(training(loss=loss))
    result = Trainer(build_model(text_model(head=head)), load_data(settings), settings).fit()
    assert result.status == "failed" and result.failure.message == message
