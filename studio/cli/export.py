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
        "(weights, pt2, torchscript, onnx); without it the weights are freshly initialised",
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
        options["run"] = args.run
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
    return 0
