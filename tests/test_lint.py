"""Code health checks that keep main green: ruff, and the wall between the pure layers and Qt."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_ruff_is_clean():
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "studio", "tests", "benchmarks", "tools"],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_only_the_ui_package_imports_qt():
    offenders = []
    for path in (ROOT / "studio").rglob("*.py"):
        if "ui" in path.relative_to(ROOT / "studio").parts[:1]:
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(
                q in stripped.split()[1] for q in ("PySide6", "pyqtgraph", "shiboken6")
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert offenders == []
