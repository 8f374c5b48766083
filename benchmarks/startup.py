"""Time from process start to the main window shown (torch must load only afterwards).

Runs ``python -m studio`` with STUDIO_STARTUP_PROBE=1: the app prints the time of its first
show and quits. Last line: ``window_s=<float>``.

The app starts as an installed one does, from compiled bytecode (pip compiles at install): an
untimed first start writes ``__pycache__``, and PYTHONDONTWRITEBYTECODE is left out of the
children's environment. With it set (as in some shells) every start compiled Studio's ~140
modules from source, 0.6 s more CPU, 1.6 s of wall time under load, counted as start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def once(config: str) -> tuple[float, str]:
    env = {**os.environ, "STUDIO_STARTUP_PROBE": "1", "STUDIO_CONFIG_DIR": config}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    start = time.time()
    out = subprocess.run(
        [sys.executable, "-m", "studio"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for line in out.stdout.splitlines():
        if line.startswith("STUDIO_WINDOW_SHOWN"):
            _, stamp, torch = line.split()
            return float(stamp) - start, torch
    raise SystemExit(f"no probe line (exit status {out.returncode}); stderr:\n{out.stderr}")


def main() -> None:
    with tempfile.TemporaryDirectory() as config:
        once(config)  # writes the bytecode caches where none are yet; not timed
        runs = [once(config) for _ in range(3)]
    for t, torch in runs:
        print(f"run: {t:.3f} s ({torch} at show)")
    print(f"window_s={min(t for t, _ in runs):.3f}")


if __name__ == "__main__":
    main()
