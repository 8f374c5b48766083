"""``run_gui``: the editor's entry point. Imports no torch: the window loads it after showing.

Before Qt starts, :func:`platform_problem` looks for the two reasons the window cannot open on
Linux that Qt reports only by aborting with a message that names no fix: no display at all, and
system libraries missing for Qt's xcb platform plugin (a minimal Debian or Ubuntu desktop lacks
libxcb-cursor0, libxcb-icccm4 and libxcb-keysyms1). Then ``studio`` prints one line naming the
packages and the command that installs them. The headless commands never import Qt, so they
work without a display or those packages.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from studio.ui.welcome import EXAMPLES_DIR

DEFAULT_EXAMPLE = EXAMPLES_DIR / "mlp_classifier.studio.json"


def initial_project_path(project_path: str | None, settings) -> Path | None:
    """The file given, else the last project, else (first run) the example ready to train."""
    if project_path:
        return Path(project_path)
    last = settings.last_project
    if last and Path(last).exists():
        return Path(last)
    if settings.last_project is None and DEFAULT_EXAMPLE.exists():
        return DEFAULT_EXAMPLE
    return None


def open_initial(window, project_path: str | None) -> bool:
    """Open what `initial_project_path` names. A file that cannot be read is one message, the
    reason (`studio broken.studio.json` showed it, then a second box: 'Could not open …')."""
    path = initial_project_path(project_path, window.settings)
    return path is not None and window.files.open_path(path, ask=False)


#: The Debian/Ubuntu package of each library that Qt's xcb plugin (libqxcb.so) and
#: libQt6XcbQpa load, from ``objdump -p`` (NEEDED) and ``dpkg -S`` on Debian 12.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
}


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, found without importing Qt."""
    spec = importlib.util.find_spec("PySide6")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        plugin = Path(folder) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if plugin.exists():
            return plugin
    return None


def run_ldd(path: Path) -> str:
    """``ldd``'s report on ``path`` ("" where there is no ldd, or it fails)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return ""
    try:
        return subprocess.run([ldd, str(path)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def missing_libraries(ldd_output: str) -> list[str]:
    """The libraries ``ldd`` reports as ``not found``, in its order, each once."""
    found = [line.split("=>")[0].strip() for line in ldd_output.splitlines() if "not found" in line]
    return list(dict.fromkeys(found))


def platform_problem(
    env: Mapping[str, str] = os.environ,
    system: str = sys.platform,
    plugin: Callable[[], Path | None] = xcb_plugin,
    ldd: Callable[[Path], str] = run_ldd,
) -> str | None:
    """One line for the user when the window cannot open here, else None (also off Linux, and
    when QT_QPA_PLATFORM names another platform than xcb, e.g. offscreen or wayland)."""
    if not system.startswith("linux"):
        return None
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None
    if not platform and env.get("WAYLAND_DISPLAY"):
        return None  # Qt may use its Wayland plugin; it reports its own problems there
    if not env.get("DISPLAY"):
        return (
            "Studio's window needs a desktop, and there is no display here (DISPLAY is not set); "
            "studio check, train and export work without one, or run the window under xvfb-run."
        )
    path = plugin()
    missing = missing_libraries(ldd(path)) if path else []
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(XCB_PACKAGES.get(lib, lib) for lib in missing))
    return (
        f"Studio's window needs system packages that are missing: {packages}. Install them with: "
        f"sudo apt-get install {packages} (studio check, train and export work without them)."
    )


def run_gui(project_path: str | None) -> int:
    problem = platform_problem()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    app.setOrganizationName("Studio")
    from studio.ui.main_window import MainWindow

    window = MainWindow()
    open_initial(window, project_path)
    window.show()
    if not os.environ.get("STUDIO_STARTUP_PROBE"):
        QTimer.singleShot(300, window.files.offer_recovery)
    return app.exec()


def __getattr__(name: str):
    if (
        name == "MainWindow"
    ):  # ``from studio.ui.app import MainWindow`` without importing Qt eagerly
        from studio.ui.main_window import MainWindow

        return MainWindow
    raise AttributeError(name)
