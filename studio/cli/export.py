"""``studio export PROJECT [--format F] -o PATH``: the generated code, weights, torch.export, TorchScript or ONNX.

The work is done by :mod:`studio.interop.exporters` (the GUI's Export menu calls the same
functions); this module only parses arguments and prints the result.
"""

from __future__ import annotations

import argparse

from studio.cli import CliError, add_trust_option, load


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="project file (.studio.json)")
    parser.add_argument("-o", "--output", required=True, help="file to write")
    add_trust_option(parser)
    parser.add_argument(
        "--format",
        choices=_formats(),
        default="python",
        help="python: the model class (default); script: a standalone train.py (also runs "
        "under torchrun); weights: its state_dict; pt2: a torch.export program; torchscript: a "
        "scripted (or traced) module (deprecated by PyTorch); onnx: an ONNX graph",
    )
    parser.add_argument(
        "--run",
        metavar="DIR",
        help="training run folder (with weights.pt) whose trained weights to export "
        "(weights, pt2, torchscript, onnx), or 'latest': the project's newest run that saved "
        "weights; without it the weights are freshly initialised",
    )
    parser.add_argument(
        "--torchscript-method",
        choices=("auto", "script", "trace"),
        default="auto",
        help="auto: torch.jit.script, falling back to trace (default)",
    )
    parser.add_argument("--opset", type=int, default=None, help="ONNX opset version (default 18)")
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="script: give train.py a --tensorboard DIR option (TensorBoard logs)",
    )


def _formats() -> tuple[str, ...]:
    """Every registered format (python, weights, pt2, torchscript, onnx; later script)."""
    from studio.interop.exporters import FORMATS

    return tuple(FORMATS)


def main(args: argparse.Namespace) -> int:
    from studio.interop import exporters

    project = load(args.project)
    fmt = exporters.FORMATS[args.format]
    options: dict = {}
    if args.run is not None:
        if not fmt.uses_weights:
            raise CliError(f"--run does not apply to --format {args.format}", status=2)
        options["run"] = _latest_run(args.project, project) if args.run == "latest" else args.run
    if args.format == "torchscript":
        options["method"] = args.torchscript_method
    if args.format == "onnx" and args.opset is not None:
        options["opset"] = args.opset
    if args.tensorboard:
        if args.format != "script":
            raise CliError(f"--tensorboard does not apply to --format {args.format}", status=2)
        options["tensorboard"] = True
    try:
        result = exporters.export_project(project, args.format, args.output, **options)
    except exporters.ExportError as e:
        raise CliError(f"{args.project}: {e}") from None
    print(result.message())
    if fmt.uses_weights and args.run is None and _trained_runs(args.project, project):
        print(
            f"  this project has trained runs: --run latest exports the newest's weights ({_latest_run(args.project, project)})"
        )
    return 0


def _trained_runs(project_path: str, project) -> list:
    """The project's runs that saved weights, oldest first (by their start time, then name)."""
    from pathlib import Path

    from studio.training.runs import RunStore, runs_root

    root = runs_root(Path(project_path), project.name)
    return sorted(
        (r for r in RunStore(root).runs() if (r.folder / "weights.pt").is_file()),
        key=lambda r: (r.status.get("started") or 0, r.id),
    )


def _latest_run(project_path: str, project) -> str:
    from pathlib import Path

    from studio.training.runs import runs_root

    runs = _trained_runs(project_path, project)
    if not runs:
        raise CliError(
            f"{project_path}: none of the project's runs (in "
            f"{runs_root(Path(project_path), project.name)}) saved weights yet; train it "
            "(studio train), or give --run the folder studio train --out wrote"
        )
    return str(runs[-1].folder)
