"""How long is each example's exported train.py, and how far from the issue's targets?

Exports every project in resources/examples as train.py (`studio export --format script`) and
counts its lines, the model included. Targets (issue #21): the spiral MLP at most 200 lines, the
shapes CNN at most 250, the Tiny GPT at most 350 (with generation).

    python benchmarks/script_lines.py

One line per example: lines, lines over 100 columns, the target when it has one. Last line:
each target example's count against its target, e.g.
``lines/target mlp_classifier=266/200 shapes_cnn=294/250 tiny_gpt=523/350``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from studio.graph.project import load_project
from studio.interop.script import script_source

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
TARGETS = {"mlp_classifier": 200, "shapes_cnn": 250, "tiny_gpt": 350}


def main() -> None:
    counts = {}
    for example in sorted(EXAMPLES.glob("*.studio.json")):
        name = example.name.split(".")[0]
        lines = script_source(load_project(example))[0].splitlines()
        counts[name] = len(lines)
        wide = sum(len(line) > 100 for line in lines)
        target = f"  target <= {TARGETS[name]}" if name in TARGETS else ""
        print(f"{name:20s} {len(lines):5d} lines  {wide:3d} over 100 columns{target}")
    print("lines/target " + " ".join(f"{name}={counts[name]}/{target}" for name, target in TARGETS.items()))


if __name__ == "__main__":
    main()
