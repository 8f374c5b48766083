"""The CLI answers in one line where it printed a traceback (#23 items 2, 10, 11, 14)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli import main
from studio.graph.model import Graph
from studio.graph.project import Project, save_project

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "mlp_classifier.studio.json"


def _one_error_line(err: str, sub: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err and len(lines) == 1, err
    assert lines[0].startswith(f"studio {sub}: error: "), err
    return lines[0]


@pytest.fixture
def boom(tmp_path) -> Path:
    """A model whose forward raises: torch.full_like(x, 1e308) overflows float32."""
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [4]})
    f = g.add_block("function", name="f", params={"function": "torch.full_like", "arguments": "in1, 1e308"})
    o = g.add_block("output", name="y")
    g.connect(x.id, "out", f.id, f.input_ports()[0].name)
    g.connect(f.id, "out", o.id, "in")
    return save_project(Project(name="boom", graph=g), tmp_path / "boom.studio.json")


def _device(tmp_path) -> str:
    if os.geteuid() == 0:  # our own node: a bug must not replace /dev/full
        path = tmp_path / "full"
        os.mknod(path, 0o666 | stat.S_IFCHR, os.stat("/dev/full").st_rdev)
        return str(path)
    return "/dev/full"


@pytest.mark.parametrize("fmt", ["pt2", "torchscript", "onnx"])
def test_an_export_whose_forward_raises_is_one_line(boom, tmp_path, capsys, fmt):
    out = tmp_path / f"m.{fmt}"
    assert main(["export", str(boom), "--format", fmt, "-o", str(out)]) == 1
    assert "overflow" in _one_error_line(capsys.readouterr().err, "export")
    assert not out.exists() and not [p for p in os.listdir(tmp_path) if ".tmp" in p]


@pytest.mark.parametrize("opset", ["-1", "0", "99999"])
def test_a_bad_opset_is_one_line_and_nothing_is_claimed(tmp_path, capsys, opset):
    out = tmp_path / "m.onnx"
    assert main(["export", str(EXAMPLE), "--format", "onnx", "--opset", opset, "-o", str(out)]) == 1
    captured = capsys.readouterr()
    assert f"opset {opset} is not one this torch can write" in _one_error_line(captured.err, "export")
    assert "Wrote" not in captured.out and not out.exists()


@pytest.mark.parametrize("fmt", ["python", "script", "weights", "pt2", "torchscript", "onnx"])
def test_every_export_writes_a_links_target_and_refuses_a_device_or_empty_name(tmp_path, capsys, fmt):
    suffix = {"python": ".py", "script": ".py", "pt2": ".pt2", "onnx": ".onnx"}.get(fmt, ".pt")
    target = tmp_path / f"real{suffix}"
    target.write_text("old")
    link = tmp_path / f"link{suffix}"
    link.symlink_to(target)
    assert main(["export", str(EXAMPLE), "--format", fmt, "-o", str(link)]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert link.is_symlink() and target.read_bytes() != b"old"
    device = _device(tmp_path)
    before = os.lstat(device)
    assert main(["export", str(EXAMPLE), "--format", fmt, "-o", device]) == 1
    assert "a device" in _one_error_line(capsys.readouterr().err, "export")
    assert os.lstat(device).st_ino == before.st_ino and stat.S_ISCHR(os.lstat(device).st_mode)
    assert main(["export", str(EXAMPLE), "--format", fmt, "-o", ""]) == 1
    assert "empty" in _one_error_line(capsys.readouterr().err, "export")


def test_an_export_to_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    import torch

    def full(*a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(torch, "save", full)
    assert main(["export", str(EXAMPLE), "--format", "weights", "-o", str(tmp_path / "w.pt")]) == 1
    assert "disk full" in _one_error_line(capsys.readouterr().err, "export")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "args, words",
    [
        (["-o", ""], "empty"),
        (["--input-shape", "3,100000,100000", "-o", "X"], "too large to trace"),
        (["--name", "n" * 4000, "-o", "X"], "--name must be 1 to 200 characters"),
    ],
)
def test_import_arguments_are_one_line_before_anything_runs(tmp_path, capsys, args, words):
    args = [str(tmp_path / "p.studio.json") if a == "X" else a for a in args]
    assert main(["import", "torchvision:resnet18", *args]) == 2
    assert words in _one_error_line(capsys.readouterr().err, "import")
    assert os.listdir(tmp_path) == []


def test_import_over_a_symlink_writes_its_target(tmp_path, capsys):
    real = tmp_path / "real.studio.json"
    real.write_text("{}")
    link = tmp_path / "link.studio.json"
    link.symlink_to(real)
    assert main(["import", "torchvision:squeezenet1_0", "--input-shape", "3,64,64", "--force", "-o", str(link)]) == 0
    assert link.is_symlink() and '"squeezenet1_0"' in real.read_text()


def _run(*args, block_torch=False):
    code = "import sys\n"
    if block_torch:
        code += (
            "class B:\n def find_spec(self, name, path=None, target=None):\n"
            "  if name.split('.')[0] == 'torch': raise ImportError('torch imported: ' + name)\n"
            "sys.meta_path.insert(0, B())\n"
        )
    code += "from studio.__main__ import main\nraise SystemExit(main(sys.argv[1:]))\n"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.parametrize(
    "args, rc, words",
    [
        (["check", "nope.studio.json"], 1, "no such file"),
        (["train", "nope.studio.json"], 2, "no such file"),
        (["export", "nope.studio.json", "-o", "x.py"], 1, "no such file"),
        (["train", "--help"], 0, "--resume"),
        (["export", "--help"], 0, "--opset"),
        (["import", "--help"], 0, "--input-shape"),
        (["check", "--help"], 0, "PROJECT"),
    ],
)
def test_arguments_and_files_are_checked_before_torch_is_imported(args, rc, words):
    r = _run(*args, block_torch=True)
    assert r.returncode == rc, r.stderr
    assert words in r.stdout + r.stderr and "Traceback" not in r.stderr


def test_a_pipe_closed_early_is_not_a_traceback():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [sys.executable, "-m", "studio", "check", str(EXAMPLE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    p.stdout.close()  # as `| head -c 20` does once it has its bytes
    err = p.stderr.read().decode()
    assert p.wait(timeout=600) == 141 and "Traceback" not in err and "BrokenPipe" not in err, err
