"""``studio weights PROJECT|WEIGHTS...``: download pretrained weights with a progress bar."""

from __future__ import annotations

import argparse


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="+",
        help="project files (.studio.json) or weights names like ResNet18_Weights.IMAGENET1K_V1",
    )
    parser.add_argument("--mirror", help="base URL serving the same weights file names")


def main(args: argparse.Namespace) -> int:
    from studio.cli import CliError, load
    from studio.hub.repos import HubError
    from studio.hub.weights import (
        WeightsError,
        ensure_weights,
        prepare_graph_weights,
        terminal_progress,
    )

    bar = terminal_progress()
    try:
        for target in args.targets:
            if target.endswith(".json"):
                files = prepare_graph_weights(load(target).graph, progress=bar)
            else:
                try:
                    files = [ensure_weights(target, progress=bar, mirror=args.mirror)]
                except ValueError as e:
                    raise CliError(str(e)) from None
            for f in files:
                print(f"ready: {f}")
    except (WeightsError, HubError) as e:
        raise CliError(str(e)) from None
    return 0

