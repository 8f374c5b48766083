"""Open as layers never overwrites a weights file and notices one changed under the project (#23.1)."""

import os

import torch

from studio.graph.commands import History
from studio.graph.weights_files import weights_problems
from studio.interop.open_backbone import open_backbone, write_weights


def test_two_weights_in_one_folder_get_two_files_and_neither_is_replaced(tmp_path):
    a = write_weights({"w": torch.zeros(3)}, tmp_path, "backbone_pretrained")
    first = a.read_bytes()
    b = write_weights({"w": torch.ones(3)}, tmp_path, "backbone_pretrained")
    assert a != b and a.read_bytes() == first
    assert torch.equal(torch.load(b, weights_only=True)["w"], torch.ones(3))
    # the same weights again: the same file, nothing written
    assert write_weights({"w": torch.zeros(3)}, tmp_path, "backbone_pretrained") == a
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_file_studio_did_not_write_is_never_overwritten(tmp_path):
    other = tmp_path / "backbone_pretrained.pt"  # the old fixed name another project uses
    other.write_bytes(b"another project's weights")
    path = write_weights({"w": torch.zeros(3)}, tmp_path, "backbone_pretrained")
    assert other.read_bytes() == b"another project's weights"
    # a file squatting on the digest name with other content is kept too; a new name is used
    squat = path.with_name(path.name.replace("backbone_pretrained", "x"))
    path.rename(squat)
    path.write_bytes(b"not these weights")
    again = write_weights({"w": torch.zeros(3)}, tmp_path, "backbone_pretrained")
    assert again != path and path.read_bytes() == b"not these weights"


def test_the_project_notices_weights_that_changed_under_it(tmp_path):
    from studio.graph.project import load_project

    g = load_project("resources/examples/transfer_learning.studio.json").graph
    backbone = next(b for b in g if b.type == "backbone")
    opened = open_backbone(g, backbone.id, tmp_path)
    History(g).push(opened.command)
    assert weights_problems(g, tmp_path) == []
    # another project's weights with the same shapes written over the file
    state = torch.load(opened.weights_file, weights_only=True)
    torch.save(
        {k: v + 1 if v.is_floating_point() else v for k, v in state.items()}, opened.weights_file
    )
    problems = weights_problems(g, tmp_path)
    assert len(problems) == 1 and "changed after Studio wrote it" in problems[0][1]
    from studio.training.fit_check import weights_file_problems

    assert "changed after" in weights_file_problems(g, tmp_path)[0].message
    opened.weights_file.unlink()
    assert "does not exist" in weights_problems(g, tmp_path)[0][1]
    os.mkfifo(opened.weights_file)
    assert "named pipe" in weights_problems(g, tmp_path)[0][1]


def test_the_project_folder_can_move_with_its_weights(tmp_path):
    """#23.13: weights were stored by absolute path and read from the working folder."""
    import shutil

    from studio.compiler import build_model
    from studio.graph.project import load_project, save_project

    project = load_project("resources/examples/transfer_learning.studio.json")
    g = project.graph
    backbone = next(b for b in g if b.type == "backbone")
    first = tmp_path / "first"
    opened = open_backbone(g, backbone.id, first)
    History(g).push(opened.command)
    save_project(project, first / "p.studio.json")
    text = (first / "p.studio.json").read_text()
    assert f'"weights": "{opened.weights_file.name}"' in text and str(first) not in text
    moved = tmp_path / "moved"
    shutil.move(first, moved)
    again = load_project(moved / "p.studio.json")
    assert weights_problems(again.graph) == []
    model = build_model(again.graph)  # loads the moved file, whatever the working folder
    state = torch.load(moved / opened.weights_file.name, weights_only=True)
    key = next(iter(state))
    assert any(
        torch.equal(v, state[key])
        for v in model.state_dict().values()
        if v.shape == state[key].shape
    )
