"""``studio weights PROJECT|WEIGHTS...``: download pretrained weights with a progress bar.

Shaped like the other subcommands (``configure``/``main``); also ``python -m studio.hub``.
"""

from __future__ import annotations

import argparse
import sys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "targets",
        nargs="+",
        help="project files (.studio.json) or weights names like ResNet18_Weights.IMAGENET1K_V1",
    )
    parser.add_argument("--mirror", help="base URL serving the same weights file names")


def main(args: argparse.Namespace) -> int:
    from studio.cli import CliError
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
                from studio.commands import load

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


def run(argv: list[str] | None = None) -> int:
    from studio.cli import CliError

    parser = argparse.ArgumentParser(prog="studio weights", description=__doc__.splitlines()[0])
    configure(parser)
    args = parser.parse_args(argv)
    try:
        return main(args)
    except CliError as e:
        print(f"studio weights: error: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt:
        print("studio weights: interrupted", file=sys.stderr)
        return 130
