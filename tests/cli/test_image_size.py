"""An image folder is read at its images' own size unless the Image size option says otherwise
(#20 item 12: it was resized to 28x28 without a word): `studio check` compares that size with the
model's Input, and train.py is written with the size the run uses."""

from PIL import Image

from studio.cli import main
from studio.graph.project import Project, save_project
from studio.training.plan import run_plan
from studio.training.settings import TrainingSettings
from tests.helpers import chain, mlp


def _pictures(tmp_path, width=20, height=12):
    for i, name in enumerate(("ants", "bees")):
        (tmp_path / "pics" / name).mkdir(parents=True)
        for j in range(3):
            Image.new("RGB", (width, height), (40 * i, 30 * j, 90)).save(
                tmp_path / "pics" / name / f"{j}.png"
            )


def _image_model(shape):
    g = mlp(8, 8, 2)
    x, fc1 = g.block_by_name("x"), g.block_by_name("fc1")
    g.disconnect(g.edge_into(fc1.id, "in").id)
    g.set_params(x.id, {"shape": list(shape)})
    chain(g, x, g.add_block("flatten", name="flat"), fc1)
    return g


def _check(tmp_path, capsys, graph, data):
    training = {"data": data, "loss": {"name": "cross_entropy"}}
    path = save_project(
        Project(name="p", graph=graph, training=training), tmp_path / "p.studio.json"
    )
    status = main(["check", str(path)])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def test_the_images_own_size_is_the_default_and_check_compares_it_with_the_input(tmp_path, capsys):
    _pictures(tmp_path)
    data = {"kind": "image_folder", "path": "pics"}
    status, text = _check(tmp_path, capsys, _image_model((3, 28, 28)), data)
    assert status == 1
    assert (
        "The data gives samples of 3×12×20 in pics (2 classes, 12×20 images), but this Input expects 3×28×28"
        in text
    )
    status, text = _check(tmp_path, capsys, _image_model((3, 12, 20)), data)
    assert status == 0, text
    status, text = _check(tmp_path, capsys, _image_model((3, 12, 20)), {**data, "size": [28, 28]})
    assert status == 1 and "The data gives samples of 3×28×28" in text  # the option still decides


def test_train_py_is_written_with_the_size_the_run_reads(tmp_path):
    _pictures(tmp_path, width=10, height=14)
    settings = TrainingSettings.from_dict({"data": {"kind": "image_folder", "path": "pics"}})
    assert run_plan(settings, tmp_path)["data"]["size"] == [14, 10]
    settings = TrainingSettings.from_dict(
        {"data": {"kind": "image_folder", "path": "pics", "size": 8}}
    )
    assert run_plan(settings, tmp_path)["data"]["size"] == [8, 8]


def test_train_py_reads_the_first_images_size_when_the_folder_was_not_there_at_export(tmp_path):
    from studio.training.runtime.data import read_image_folder

    settings = TrainingSettings.from_dict({"data": {"kind": "image_folder", "path": "pics"}})
    assert run_plan(settings, tmp_path)["data"]["size"] is None  # exported before the data exists
    _pictures(tmp_path)
    data, info = read_image_folder({"path": str(tmp_path / "pics"), "size": None})
    assert data[0][0].shape == (3, 12, 20) and info["class_names"] == ["ants", "bees"]


def test_before_a_pretrained_backbone_the_check_resizes_the_images_to_its_input(tmp_path, capsys):
    """A model that starts with a pretrained Backbone keeps its Input's size: `studio check` says
    the images should be resized to it, and its one-click fix sets the Image size."""
    from studio.graph.project import load_project

    _pictures(tmp_path, width=128, height=96)
    project = load_project("resources/examples/transfer_learning.studio.json")
    g = project.graph
    image, rgb, backbone = (g.block_by_name(n) for n in ("image", "to_rgb", "backbone"))
    g.remove_block(rgb.id)
    chain(g, image, backbone)
    g.set_params(image.id, {"shape": [3, 64, 64]})
    status, text = _check(tmp_path, capsys, g, {"kind": "image_folder", "path": "pics"})
    assert status == 1
    assert (
        "The images are 96×128 (pics (2 classes, 96×128 images)), but the pretrained backbone after "
        "this Input takes 64×64 images. Set the Image size to 64×64." in text
    )
    status, text = _check(
        tmp_path, capsys, g, {"kind": "image_folder", "path": "pics", "size": [64, 64]}
    )
    assert "The images are" not in text and "The data gives samples of" not in text
