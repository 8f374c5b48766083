"""``studio import`` and ``studio export``: exit codes and one-line errors."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from studio.cli import main
from studio.graph.project import load_project

HERE = Path(__file__).parent
BRANCHY = HERE.parent / "interop" / "branchy.py"  # shared with the fx import tests
EXAMPLE = Path(__file__).parents[2] / "resources" / "examples" / "shapes_cnn.studio.json"


def _one_error_line(err: str, sub: str = "import") -> str:
    lines = [ln for ln in err.strip().splitlines() if not ln.startswith(f"studio {sub}: warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"studio {sub}: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_import_torchvision_writes_a_valid_project(tmp_path, capsys):
    out = tmp_path / "sq.studio.json"
    rc = main(["import", "torchvision:squeezenet1_0", "--kwargs", "num_classes=4",
               "--input-shape", "3,96,96", "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "Imported torchvision:squeezenet1_0" in text and "outputs match" in text
    # proved equal graph for graph: the message says so rather than quote a difference it never measured
    assert "computes the original's graph operation for operation (proved, not run)" in text
    assert "max difference" not in text
    assert "note: MaxPool2d has no Studio block" in text
    project = load_project(out)
    assert project.name == "squeezenet1_0"
    assert project.metadata["import"]["source"] == "torchvision.models:squeezenet1_0"
    assert main(["check", str(out)]) == 0


def test_import_refuses_to_overwrite_without_force(tmp_path, capsys):
    out = tmp_path / "p.studio.json"
    out.write_text("{}")
    assert main(["import", "torchvision:resnet18", "-o", str(out)]) == 1
    assert "--force" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "args, status, words",
    [
        (["nonsense"], 2, "torchvision:NAME"),
        (["torchvision:resnet18", "--kwargs", "num_classes=__import__('os').getcwd()"], 2, "literal"),
        (["torchvision:resnet18", "--kwargs", "10"], 2, "name=value"),
        (["torchvision:resnet18", "--input-shape", "3,0,2"], 2, "positive sizes"),
        (["torchvision:resnet999"], 1, "no model called 'resnet999'"),
        (["torchvision:resnet18", "--kwargs", "weights='DEFAULT'"], 1, "nothing is downloaded"),
        (["no_such_package.mod:Model", "--yes"], 1, "cannot import no_such_package.mod"),
        ([f"{HERE / 'missing.py'}:Model", "--yes"], 1, "no such file"),
        ([f"{BRANCHY}:Nope", "--yes"], 1, "no class or function called 'Nope'"),
        ([f"{BRANCHY}:Branchy", "--yes"], 1, "--input-shape"),
        ([f"{BRANCHY}:Wrapped", "--yes", "--input-shape", "8"], 1, "Studio has no block for"),
    ],
)
def test_import_errors_are_one_line(tmp_path, capsys, args, status, words):
    assert main(["import", *args, "-o", str(tmp_path / "x.studio.json")]) == status
    assert words in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "x.studio.json").exists()


def test_importing_a_file_warns_first_and_asks_on_a_terminal(tmp_path, capsys, monkeypatch):
    out = tmp_path / "b.studio.json"
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: "n")
    assert main(["import", f"{BRANCHY}:Branchy", "--input-shape", "3,8,8", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"studio import: warning: importing {BRANCHY} runs its Python code")
    assert "cancelled" in _one_error_line(err) and not out.exists()
    # --yes skips the question
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("asked despite --yes"))
    assert main(["import", f"{BRANCHY}:Branchy", "--input-shape", "3,8,8", "--yes", "-o", str(out)]) == 0
    assert "runs its Python code" in capsys.readouterr().err and out.exists()


def test_untraceable_model_suggests_opaque_then_opaque_works(tmp_path, capsys):
    out = tmp_path / "g.studio.json"
    spec = f"{BRANCHY}:Gate"
    assert main(["import", spec, "--input-shape", "8", "--yes", "-o", str(out)]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "torch.fx cannot trace Gate: symbolically traced variables cannot be used as inputs to control flow" in line
    assert f"studio import {spec} --opaque -o {out}" in line
    assert main(["import", spec, "--input-shape", "8", "--yes", "--opaque", "--kwargs", "width=8", "-o", str(out)]) == 0
    assert "1 kept as Custom module" in capsys.readouterr().out
    assert main(["export", str(out), "-o", str(tmp_path / "g.py")]) == 0
    source = (tmp_path / "g.py").read_text()
    assert "importlib.util.spec_from_file_location(" in source and f'"{BRANCHY}"' in source  # a repr, double-quoted as ruff writes it
    assert "module.Gate(width=8)" in source


def test_untraceable_in_a_fresh_process_has_no_traceback(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "studio", "import", f"{BRANCHY}:Gate", "--input-shape", "8", "--yes",
         "-o", str(tmp_path / "g.studio.json")],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 1
    assert "control flow" in _one_error_line(r.stderr)


def test_export_formats_from_the_cli(tmp_path, capsys):
    for fmt, name in (("python", "m.py"), ("weights", "w.pt"), ("torchscript", "t.pt"), ("onnx", "m.onnx")):
        assert main(["export", str(EXAMPLE), "--format", fmt, "-o", str(tmp_path / name)]) == 0
        assert f"Wrote {tmp_path / name} ({fmt})" in capsys.readouterr().out
    torch.load(tmp_path / "w.pt", weights_only=True)


def test_export_errors_are_one_line(tmp_path, capsys):
    assert main(["export", str(EXAMPLE), "--format", "python", "--run", str(tmp_path), "-o", str(tmp_path / "m.py")]) == 2
    assert "--run does not apply" in _one_error_line(capsys.readouterr().err, "export")
    assert main(["export", str(EXAMPLE), "--format", "weights", "--run", str(tmp_path), "-o", str(tmp_path / "w.pt")]) == 1
    assert "no weights.pt" in _one_error_line(capsys.readouterr().err, "export")
    with pytest.raises(SystemExit) as e:
        main(["export", str(EXAMPLE), "--format", "tflite", "-o", str(tmp_path / "x")])
    assert e.value.code == 2


def test_a_file_named_without_its_class_imports_its_one_model_or_names_the_choices(tmp_path, capsys):
    one = tmp_path / "net.py"
    one.write_text(
        "from torch import nn\n\n\nclass Block(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(4, 4)\n\n"
        "    def forward(self, x):\n        return self.fc(x)\n\n\n"
        "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.block = Block()\n\n    def forward(self, x):\n        return self.block(x)\n"
    )
    out = tmp_path / "n.studio.json"
    assert main(["import", str(one), "--input-shape", "4", "--yes", "-o", str(out)]) == 0
    assert load_project(out).name == "Net"  # the network, not its Block
    capsys.readouterr()
    assert main(["import", str(BRANCHY), "--input-shape", "3,8,8", "--yes", "-o", str(tmp_path / "b.studio.json")]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "defines" in line and f"name one, as in {BRANCHY}:" in line


def test_export_run_latest_takes_the_newest_window_run_and_a_bare_export_says_so(tmp_path, capsys):
    """`studio export --format weights` of a project with trained runs wrote untrained weights
    with no word of the runs; `--run latest` takes the newest that saved weights."""
    import shutil

    import torch

    from studio.cli import main as studio
    from studio.training.runs import RunStore

    project = tmp_path / "sp.studio.json"
    shutil.copy("resources/examples/mlp_classifier.studio.json", project)
    assert studio(["export", str(project), "--format", "weights", "--run", "latest", "-o", str(tmp_path / "w.pt")]) == 1
    assert "none of the project's runs" in capsys.readouterr().err
    store = RunStore(tmp_path / "sp.runs")
    runs = [store.create({"epochs": 1}, "Spiral classifier") for _ in range(2)]  # maybe in one second
    for value, run in enumerate(runs):  # the window's runs, each with its own weights
        assert studio(["export", str(project), "--format", "weights", "-o", str(run.folder / "weights.pt")]) == 0
        state = torch.load(run.folder / "weights.pt", weights_only=True)
        torch.save({k: torch.full_like(v, float(value)) for k, v in state.items()}, run.folder / "weights.pt")
    capsys.readouterr()
    assert studio(["export", str(project), "--format", "weights", "-o", str(tmp_path / "bare.pt")]) == 0
    out = capsys.readouterr().out
    newest = runs[-1]  # started last
    assert "freshly initialised" in out and f"--run latest exports the newest's weights ({newest.folder})" in out
    assert studio(["export", str(project), "--format", "weights", "--run", "latest", "-o", str(tmp_path / "w.pt")]) == 0
    assert f"from {newest.folder / 'weights.pt'}" in capsys.readouterr().out
    assert all((v == float(runs.index(newest))).all() for v in torch.load(tmp_path / "w.pt", weights_only=True).values())
