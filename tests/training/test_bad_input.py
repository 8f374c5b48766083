"""Bad settings and data get one clear line, and a run that goes wrong keeps what it did (issue 12, 8-12)."""

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.cli import main as studio
from studio.training import checkpoints
from studio.training.callbacks import BaseCallback, CSVLogger
from studio.training.datasets import DatasetError, load_data
from studio.training.trainer import Trainer
from tests.training.training_helpers import make_settings, mlp

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def _project(tmp_path: Path, **training) -> Path:
    data = json.loads((EXAMPLES / "mlp_classifier.studio.json").read_text())
    data["training"].update(epochs=1, **training)
    path = tmp_path / "p.studio.json"
    path.write_text(json.dumps(data))
    return path


def _train(tmp_path, capsys, **training) -> tuple[int, str]:
    code = studio(["train", str(_project(tmp_path, **training)), "--out", str(tmp_path / "run"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_a_multi_character_csv_delimiter_is_named_not_a_type_error(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("a::b::y\n1::2::0\n3::4::1\n")
    code, err = _train(tmp_path, capsys, data={"kind": "csv", "path": "d.csv", "delimiter": "::"})
    assert code == 2
    assert "Delimiter must be exactly one character, like , or ; (got '::')." in err


def test_the_delimiter_message_reaches_a_real_terminal(tmp_path):
    (tmp_path / "d.csv").write_text("a;b;y\n1;2;0\n")
    project = _project(tmp_path, data={"kind": "csv", "path": "d.csv", "delimiter": ";;"})
    run = subprocess.run([sys.executable, "-m", "studio", "train", str(project), "--out", str(tmp_path / "r")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("error: Delimiter must be exactly one character")


def test_generated_sizes_are_bounded_by_the_declaration(tmp_path, capsys):
    code, err = _train(tmp_path, capsys, data={"kind": "spirals", "n": 1_000_000_000})
    assert code == 2 and "Samples must be at most 5000000 (got 1000000000)." in err
    errs = make_settings(data={"kind": "shapes", "n": 10**6}).validate()
    assert "Samples must be at most 50000 (got 1000000)." in errs


def test_memory_is_checked_before_a_generated_set_is_allocated(monkeypatch):
    import studio.training.datasets as ds
    from studio.training.runtime import generated

    monkeypatch.setattr(ds, "available_memory", lambda: 50 * 2**20)  # 50 MB free
    allocated = []
    monkeypatch.setattr(generated, "spirals", lambda **kw: allocated.append(kw))
    with pytest.raises(DatasetError, match=r"need about .* GB of memory but only 0.0 GB are free; use fewer samples"):
        load_data(make_settings(data={"kind": "spirals", "n": 4_000_000}))
    assert allocated == []


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("seed", 2**70, "Seed must be at most 4294967295 (got 11805916…(22 digits))."),
    ("batch_size", 10**30, "Batch size must be at most 1048576 (got 10000000…(31 digits))."),
    ("seed", -1, "Seed must be at least 0 (got -1)."),
])
def test_seed_and_batch_size_out_of_range_are_messages(tmp_path, capsys, setting, value, message):
    code, err = _train(tmp_path, capsys, **{setting: value})
    assert code == 2 and message in err


def test_the_windows_path_refuses_a_huge_seed_before_seeding(tmp_path):
    from studio.graph.project import load_project
    from studio.training.prepare import PrepareError, prepare_run
    from studio.training.settings import TrainingSettings

    project = load_project(_project(tmp_path, seed=2**70))
    with pytest.raises(PrepareError, match="Seed must be at most") as e:
        prepare_run(project, TrainingSettings.from_dict(project.training))
    assert e.value.kind == "settings"


@pytest.mark.parametrize("workers", [0, 1])
def test_a_corrupt_image_is_named(tmp_path, workers, monkeypatch):
    from PIL import Image

    monkeypatch.setenv("STUDIO_DATA_BUDGET", "1")  # over the budget: each image is read when a batch needs it

    for name in ("cats", "dogs"):
        (tmp_path / name).mkdir()
        for i in range(4):
            Image.new("L", (8, 8), 40 * i).save(tmp_path / name / f"{i}.png")
    (tmp_path / "dogs" / "2.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    s = make_settings(data={"kind": "image_folder", "path": str(tmp_path), "size": 8, "channels": 1},
                      val_split=0, batch_size=4, workers=workers, shuffle=False)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 2))
    r = Trainer(model, load_data(s), s).fit()
    assert r.status == "failed" and r.failure.kind == "data"
    assert f"The image {tmp_path / 'dogs' / '2.png'} cannot be read" in r.failure.message
    assert "Traceback" not in r.failure.message and "\n" not in r.failure.message


class _PoisonAfter(BaseCallback):
    """Turns the weights into NaN once epoch `epoch` has ended, as a diverging run would."""

    def __init__(self, model, epoch):
        self.model, self.epoch = model, epoch

    def on_epoch_end(self, r):
        if r.epoch == self.epoch:
            with torch.no_grad():
                for p in self.model.parameters():
                    p.fill_(math.nan)


def test_a_loss_becoming_nan_keeps_the_good_epochs_rows_and_checkpoint(tmp_path):
    s = make_settings(epochs=5)
    model = mlp()
    r = Trainer(model, load_data(s), s, [CSVLogger(tmp_path / "metrics.csv"), _PoisonAfter(model, 2)],
                out_dir=tmp_path).fit()
    assert r.status == "failed" and r.failure.kind == "nan"
    assert "Epochs 1-2 are kept in the history and in checkpoints/last.pt" in r.failure.message
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [1, 2]
    assert all(math.isfinite(float(row["train_loss"])) and math.isfinite(float(row["val_loss"])) for row in rows)
    last = checkpoints.load(tmp_path / "checkpoints" / "last.pt")
    assert last["epoch"] == 2 and [h["epoch"] for h in last["history"]] == [1, 2]
    assert all(torch.isfinite(t).all() for t in last["model"].values())
    assert not (tmp_path / "weights.pt").exists()  # NaN weights are not saved as the result
    resumed = Trainer(mlp(), load_data(s), s, out_dir=tmp_path / "again").fit(resume_from=tmp_path / "checkpoints" / "last.pt")
    assert resumed.status == "completed" and [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5]
