"""Loading a project with many module definitions, and with deep nesting, stays linear (#23.5).

Writes projects with N definitions (one used, the others unused: what a careless import or a
hostile file holds) and times ``load_project`` for each N; the time per definition must stay
flat (linear load), not grow with N (it was quadratic: 2,000 definitions took 27 s).
Prints the seconds for each N; the last line is the headline: seconds for the largest N and
the ratio of per-definition times (largest / smallest; about 1 when linear).

    python benchmarks/load_definitions.py [N ...]      (default: 1000 10000)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def definition(name: str, uses: str | None = None) -> dict:
    """Input(8) -> Linear(8) [-> a use of ``uses``] -> Output."""
    blocks = [
        {"id": "x", "type": "input", "name": "x", "params": {"shape": [8]}},
        {"id": "l", "type": "linear", "name": "fc", "params": {"out_features": 8}},
        {"id": "o", "type": "output", "name": "out"},
    ]
    edges = [{"id": "e1", "from": ["x", "out"], "to": ["l", "in"]}]
    last = "l"
    if uses:
        blocks.append({"id": "u", "type": f"module:{uses}", "name": "inner"})
        edges.append({"id": "e2", "from": ["l", "out"], "to": ["u", "x"]})
        last = "u"
    edges.append({"id": "e3", "from": [last, "out" if last == "l" else "out"], "to": ["o", "in"]})
    return {"name": name, "graph": {"blocks": blocks, "edges": edges}}


def project(modules: list[dict], used: str) -> dict:
    return {
        "format_version": 2,
        "app": "studio",
        "name": "many",
        "graph": {
            "modules": modules,
            "blocks": [
                {"id": "x", "type": "input", "name": "x", "params": {"shape": [8]}},
                {"id": "m", "type": f"module:{used}", "name": "block"},
                {"id": "o", "type": "output", "name": "y"},
            ],
            "edges": [
                {"id": "e1", "from": ["x", "out"], "to": ["m", "x"]},
                {"id": "e2", "from": ["m", "out"], "to": ["o", "in"]},
            ],
        },
        "training": {},
    }


def many(n: int) -> dict:
    """``n`` definitions, the first used, the rest unused."""
    return project([definition(f"M{i}") for i in range(n)], "M0")


def nested(depth: int) -> dict:
    """``depth`` definitions, each using the next: the model is ``depth`` modules deep."""
    mods = [definition(f"M{i}", f"M{i + 1}" if i + 1 < depth else None) for i in range(depth)]
    return project(mods, "M0")


def time_load(data: dict) -> float:
    from studio.graph.project import ProjectError, load_project

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.studio.json"
        path.write_text(json.dumps(data))
        t0 = time.perf_counter()
        try:
            load_project(path)
        except ProjectError:
            pass
        return time.perf_counter() - t0


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [1000, 10000]
    import studio.graph.project  # noqa: F401  (imports out of the timing)

    times = {}
    for n in sizes:
        times[n] = time_load(many(n))
        print(f"{n:>6} definitions: {times[n]:.2f} s ({times[n] / n * 1e3:.2f} ms each)")
    lo, hi = min(sizes), max(sizes)
    ratio = (times[hi] / hi) / (times[lo] / lo)
    print(
        f"load of {hi} definitions: {times[hi]:.2f} s; per-definition time {hi}/{lo}: {ratio:.2f}x"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
