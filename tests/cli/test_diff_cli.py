"""`studio diff A B`: two projects, a project and a run's folder, a project and an imported module."""

import json

import pytest

from studio.graph.project import dumps, load_project
from tests.graph.test_diff import CNN, edited


@pytest.mark.parametrize("json_flag", [False, True])
def test_studio_diff_compares_a_project_with_a_run_snapshot(tmp_path, capsys, json_flag):
    from studio.cli import main
    from studio.graph.project import save_project
    from studio.training.runs import RunStore

    a = load_project(CNN)
    save_project(a, tmp_path / "a.studio.json")
    rec = RunStore(tmp_path / "a.runs").create(a.training, a.name, model_json=dumps(edited(a)))
    args = ["diff", str(tmp_path / "a.studio.json"), str(rec.folder)] + (
        ["--json"] if json_flag else []
    )
    assert main(args) == 1
    out = capsys.readouterr().out
    if json_flag:
        data = json.loads(out)
        assert data["blocks"]["added"][0]["name"] == "drop1"
        assert "+        self.conv2 = nn.Conv2d(16, 64, 3, padding=1)" in data["code"]
    else:
        assert "~ block conv2: out_channels 32 -> 64" in out
        assert (
            "-        self.fc = nn.Linear(1568, 64)" in out
            and "+        self.hidden = nn.Linear(3136, 64)" in out
        )
    assert main(["diff", str(tmp_path / "a.studio.json"), str(tmp_path / "a.studio.json")]) == 0
    assert main(["diff", str(tmp_path / "a.studio.json"), str(tmp_path)]) == 2
    assert "without model.studio.json" in capsys.readouterr().err


def test_studio_diff_compares_a_project_with_an_imported_module(tmp_path, capsys):
    """torchvision's resnet18 imported against a project imported from it and then edited."""
    pytest.importorskip("torchvision")
    from studio.cli import main
    from studio.graph.project import save_project
    from studio.interop import sources
    from studio.interop.fx_import import import_spec

    project = import_spec(
        sources.parse_spec("torchvision:resnet18"), {}, None, verify=False
    ).project
    fc = project.graph.block_by_name("fc")
    project.graph.set_params(fc.id, {"out_features": 10})
    save_project(project, tmp_path / "r.studio.json")
    assert main(["diff", str(tmp_path / "r.studio.json"), "torchvision:resnet18", "--no-code"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == ["~ block fc: out_features 10 -> 1000"]
    (tmp_path / "m.py").write_text("import torch\nclass M(torch.nn.Linear):\n    pass\n")
    assert main(["diff", str(tmp_path / "r.studio.json"), f"{tmp_path / 'm.py'}:M"]) == 2
    assert "add --trust-code" in capsys.readouterr().err
