"""`studio profile`: a few real steps, each block's forward and backward time, what is left."""

import json
import time
from pathlib import Path

import pytest

from studio.cli import main
from studio.graph.project import load_project
from studio.training.profile import profile_run
from studio.training.settings import TrainingSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def small(name):
    project = load_project(EXAMPLES / f"{name}.studio.json")
    project.training["data"] = {**project.training["data"], "n": 60}
    return project, TrainingSettings.from_dict(project.training)


@pytest.mark.parametrize("name", ["shapes_cnn", "shapes_resnet", "tiny_gpt"])
def test_every_block_with_weights_gets_forward_and_backward_time(name):
    if name == "tiny_gpt":
        project = load_project(EXAMPLES / "tiny_gpt.studio.json")
        settings = TrainingSettings.from_dict(project.training)
    else:
        project, settings = small(name)
    prof = profile_run(
        project, settings, batch=4, device="cpu", steps=2, warmup=1, base_dir=EXAMPLES
    )
    layers = [b for b in project.graph.blocks.values() if b.spec.role == "layer"]
    assert [b.path[0] for b in prof.blocks] == [b.id for b in layers]
    for row, block in zip(prof.blocks, layers):
        if (
            block.spec.definition is not None
            or block.params.get("out_features")
            or block.params.get("out_channels")
        ):
            assert row.forward > 0 and row.backward > 0, row.name
    # the parts of the measured step add up to it: blocks, loss, optimizer and the rest
    parts = prof.attributed + prof.loss + prof.optimizer + prof.other
    assert parts == pytest.approx(prof.step, rel=1e-6) or prof.other == 0
    assert prof.optimizer > 0 and prof.loss > 0


def test_the_blocks_inside_each_copy_of_a_repeated_module_are_timed():
    project, settings = small("shapes_resnet")
    prof = profile_run(project, settings, batch=4, device="cpu", steps=1, warmup=1)
    layer1 = next(b for b in prof.blocks if b.name == "layer1")
    copies = [r for r in prof.inner if r.name.startswith("layer1 #")]
    assert {r.name.split(" > ")[0] for r in copies} == {"layer1 #1", "layer1 #2"}
    conv = [r for r in copies if r.name.endswith("> conv1")]
    assert len(conv) == 2 and all(r.forward > 0 and r.backward > 0 for r in conv)
    assert sum(r.total for r in copies) == pytest.approx(layer1.total, rel=1e-6)


def test_profile_command_prints_the_table_and_json(tmp_path, capsys):
    project, _ = small("shapes_cnn")
    from studio.graph.project import save_project

    path = str(save_project(project, tmp_path / "cnn.studio.json"))
    assert main(["profile", path, "--batch", "4", "--steps", "1", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "Profile of one training step at batch 4 on cpu (the step of median time):" in out
    assert "conv1" in out and "Top blocks:" in out and "Optimizer:" in out and "Step:" in out
    assert main(["profile", path, "--batch", "4", "--steps", "1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["batch"] == 4 and {b["name"] for b in data["blocks"]} >= {"conv1", "classifier"}
    assert main(["profile", path, "--batch", "0"]) == 2


def test_a_step_slowed_by_other_work_is_not_the_one_shown(monkeypatch):
    """One measured step has a call that takes 0.5 s longer (another program had the core):
    the profile shows the step of median time, whole, so no block carries that half second."""
    from studio.training import profile

    project, settings = small("shapes_cnn")
    real, slowed = profile._Timer.__torch_function__, []

    def timed(self, func, types, args=(), kwargs=None):
        if not slowed and self.forward:  # the first measured step, after its first call
            slowed.append(func)

            def late(*a, **k):
                time.sleep(0.5)
                return func(*a, **k)

            return real(self, late, types, args, kwargs)
        return real(self, func, types, args, kwargs)

    monkeypatch.setattr(profile._Timer, "__torch_function__", timed)
    prof = profile_run(project, settings, batch=4, device="cpu", steps=3, warmup=1)
    assert slowed
    assert max(b.forward for b in prof.blocks) < 0.15 and prof.step < 0.4
    parts = prof.attributed + prof.loss + prof.optimizer + prof.other
    assert parts == pytest.approx(prof.step, rel=1e-6) or prof.other == 0
