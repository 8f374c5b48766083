"""Fuzzing: mutated project files (from every example) never give a traceback.

1,000 per run in-process through load, validation, shape inference, code generation and
saving again; 50 of them through the real ``studio check`` (in two processes, one with an
ASCII-only terminal); 10,000 under ``-m slow``. Each must load and work, or be refused in one
short line. The generator is seeded (tests/fuzz_projects.py): a failure names its mutant.
"""

from __future__ import annotations

import collections
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz_projects import EXAMPLES, Mutator, short_line, through_the_pipeline

ROOT = Path(__file__).resolve().parents[2]
SEED = 12


def _fuzz(seed: int, n: int) -> collections.Counter:
    outcomes: collections.Counter = collections.Counter()
    failures = []
    for label, data in Mutator(seed).mutants(n):
        try:
            outcomes[through_the_pipeline(data)] += 1
        except Exception as e:  # noqa: BLE001 - every escape is a failure, reported by mutant
            failures.append(f"{label}: {type(e).__name__}: {str(e)[:200]}")
    assert failures == [], f"{len(failures)} of {n} failed (seed {seed}):\n" + "\n".join(failures[:20])
    return outcomes


def test_a_thousand_mutated_files_load_or_are_refused_in_one_line():
    assert len(EXAMPLES) >= 4
    outcomes = _fuzz(SEED, 1000)
    assert sum(outcomes.values()) == 1000
    # the generator reaches every stage, not just the JSON reader
    assert outcomes["refused"] > 100 and outcomes["ok"] > 20 and outcomes["invalid"] > 5, outcomes


@pytest.mark.slow
def test_ten_thousand_mutated_files():
    assert sum(_fuzz(SEED + 1, 10_000).values()) == 10_000


@pytest.mark.slow  # over the 10-minute budget of the default run; `pytest -m slow` runs it
def test_fifty_mutated_files_through_studio_check_in_a_real_process(tmp_path):
    """One process for all of them (``studio check`` takes several projects), on an
    ASCII-only terminal, plus a project named with a lone surrogate (printing it once killed
    the command)."""
    import json

    paths = []
    for i, (_label, data) in enumerate(Mutator(SEED).mutants(1000)):
        if i % 20 == 7:
            paths.append(tmp_path / f"m{i}.studio.json")
            paths[-1].write_bytes(data)
    assert len(paths) == 50
    doc = json.loads(EXAMPLES[0].read_text())
    doc["name"] = "\udfff ×"
    paths.append(tmp_path / "surrogate.studio.json")
    paths[-1].write_text(json.dumps(doc))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "ascii:strict"}
    r = subprocess.run(
        [sys.executable, "-m", "studio", "check", *map(str, paths)],
        capture_output=True, text=True, encoding="ascii", errors="replace", env=env,
        timeout=300, stdin=subprocess.DEVNULL, cwd=tmp_path,
    )
    assert r.returncode == 1, r.stderr[-2000:]
    assert "Traceback" not in r.stdout + r.stderr, r.stderr[-2000:]
    assert r.stdout.count("== ") == len(paths)
    for line in r.stderr.splitlines():
        assert short_line(line), line[:500]
    assert "Project:    \\udfff \\xd7" in r.stdout
