import subprocess
import sys
from pathlib import Path

from studio.cli import main

EXAMPLES = Path(__file__).parents[2] / "resources" / "examples"


def test_check_prints_blocks_shapes_and_totals(capsys):
    assert main(["check", str(EXAMPLES / "shapes_cnn.studio.json")]) == 0
    out = capsys.readouterr().out
    assert "conv1" in out and "N×16×28×28" in out
    assert "Parameters:" in out and "OK: the model is valid." in out


def test_check_exits_1_with_the_diagnostics(tmp_path, capsys):
    from studio.graph.model import Graph
    from studio.graph.project import Project, save_project

    g = Graph()
    g.add_block("linear", name="fc1")
    path = save_project(Project(name="broken", graph=g), tmp_path / "b.studio.json")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "needs an Input block" in err and "fc1" in err


def test_bad_files_give_one_line_and_nonzero_exit(tmp_path):
    bad = tmp_path / "bad.studio.json"
    bad.write_text('{"format_version": 1, "graph": {"blocks": [1]}}')
    for args in (["check", str(bad)], ["export", str(bad), "-o", str(tmp_path / "m.py")], ["check", str(tmp_path / "nope.json")]):
        r = subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True)
        assert r.returncode == 1
        assert "Traceback" not in r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"studio {args[0]}: error:")


def test_version_and_help():
    r = subprocess.run([sys.executable, "-m", "studio", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("studio ")
    r = subprocess.run([sys.executable, "-m", "studio", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "check" in r.stdout and "export" in r.stdout


def test_a_project_cannot_make_studio_run_code_while_checking_it(tmp_path):
    """Custom modules from files and non-module classes are not run until trusted."""
    import json

    evil = tmp_path / "evil.py"
    marker = tmp_path / "ran"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\nimport torch\nclass Evil(torch.nn.Module):\n    def forward(self, x):\n        return x\n")
    project = {
        "format_version": 1,
        "graph": {
            "blocks": [
                {"id": "i", "type": "input", "name": "x"},
                {"id": "a", "type": "custom_module", "name": "a", "params": {"source": f"{evil}:Evil"}},
                {"id": "b", "type": "custom_module", "name": "b", "params": {"source": "subprocess:run", "kwargs": f"{{'args': ['touch', {str(marker)!r}]}}"}},
                {"id": "o", "type": "output", "name": "y"},
                {"id": "o2", "type": "output", "name": "z"},
            ],
            "edges": [
                {"id": "e1", "from": ["i", "out"], "to": ["a", "in"]},
                {"id": "e2", "from": ["a", "out"], "to": ["o", "in"]},
                {"id": "e3", "from": ["i", "out"], "to": ["b", "in"]},
                {"id": "e4", "from": ["b", "out"], "to": ["o2", "in"]},
            ],
        },
    }
    path = tmp_path / "evil.studio.json"
    path.write_text(json.dumps(project))
    r = subprocess.run([sys.executable, "-m", "studio", "check", str(path)], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.count("does not run code named in a project") == 2  # subprocess is outside code too
    assert not marker.exists()


def test_check_takes_several_projects_and_fails_if_any_fails(tmp_path, capsys):
    examples = sorted(str(p) for p in EXAMPLES.glob("*.studio.json"))
    assert main(["check", *examples]) == 0
    out = capsys.readouterr().out
    assert out.count("OK: the model is valid.") == len(examples) and all(f"== {p}" in out for p in examples)
    assert main(["check", str(tmp_path / "missing.studio.json"), examples[0]]) == 1
    captured = capsys.readouterr()
    assert "missing.studio.json: no such file" in captured.err and "OK: the model is valid." in captured.out


def test_every_subcommand_is_listed_and_has_help():
    from studio.cli import SUBCOMMANDS

    assert {"check", "export", "train", "import", "weights"} <= set(SUBCOMMANDS)
    for name in SUBCOMMANDS:
        r = subprocess.run([sys.executable, "-m", "studio", name, "--help"], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith(f"usage: studio {name}"), r.stderr
