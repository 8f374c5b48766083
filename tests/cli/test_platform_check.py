"""`studio` on a Linux desktop that cannot show Qt's window says why in one line; the headless
commands do not care. The loader's report is faked: the packages are installed on this machine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from studio.ui.app import missing_libraries, platform_problem, run_ldd, xcb_plugin

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = Path("/venv/PySide6/Qt/plugins/platforms/libqxcb.so")
# what ldd prints for libqxcb.so on a minimal Debian 12 desktop (the three packages missing)
LDD_MINIMAL = """\
\tlinux-vdso.so.1 (0x00007ffd0a1f4000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f64c5a00000)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f64c5971000)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-util.so.1 => /lib/x86_64-linux-gnu/libxcb-util.so.1 (0x00007f64c5908000)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f64c587d000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f64c5bd1000)
"""
DESKTOP = {"DISPLAY": ":0"}


def _problem(env=DESKTOP, system="linux", ldd_output=LDD_MINIMAL):
    return platform_problem(env, system, plugin=lambda: PLUGIN, ldd=lambda path: ldd_output)


def test_missing_xcb_libraries_name_the_packages_and_the_command():
    message = _problem()
    packages = "libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
    assert message == (
        f"Studio's window needs system packages that are missing: {packages}. Install them with: "
        f"sudo apt-get install {packages} (studio check, train and export work without them)."
    )


def test_a_library_without_a_known_package_is_named_itself():
    message = _problem(ldd_output="\tlibxcb-cursor.so.0 => not found\n\tlibfoo.so.3 => not found\n")
    assert "missing: libxcb-cursor0 libfoo.so.3." in message


def test_nothing_to_say_when_everything_is_there_or_qt_is_not_using_xcb():
    complete = "\n".join(line for line in LDD_MINIMAL.splitlines() if "not found" not in line)
    assert _problem(ldd_output=complete) is None
    assert _problem(env={"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}) is None
    assert _problem(env={"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert _problem(system="darwin") is None and _problem(system="win32") is None
    assert _problem(env={"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}) is not None


def test_no_display_is_one_line_too():
    message = _problem(env={})
    assert "no display here" in message and "xvfb-run" in message and "\n" not in message


def test_the_real_plugin_here_has_every_library():
    plugin = xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    report = run_ldd(plugin)
    assert "libxcb-cursor.so.0 =>" in report and missing_libraries(report) == []
    assert missing_libraries(LDD_MINIMAL) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]


def test_without_a_display_studio_says_so_and_check_still_works(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(PYTHONPATH=str(ROOT), STUDIO_CONFIG_DIR=str(tmp_path))
    gui = subprocess.run([sys.executable, "-m", "studio"], capture_output=True, text=True, env=env, timeout=60)
    assert gui.returncode == 1 and gui.stdout == ""
    assert gui.stderr.count("\n") == 1 and gui.stderr.startswith("Studio's window needs a desktop")
    example = ROOT / "resources" / "examples" / "mlp_classifier.studio.json"
    check = subprocess.run([sys.executable, "-m", "studio", "check", str(example)],
                           capture_output=True, text=True, env=env, timeout=120)
    assert check.returncode == 0, check.stderr
