"""The UI's model-level helpers, without a display: clipboard, settings, recovery, the wall."""

import json
import os
import subprocess
import sys

from studio.graph.model import Graph
from studio.graph.project import Project
from studio.ui import clipboard
from studio.ui.recovery import RecoveryStore
from studio.ui.settings import Settings, config_dir


def small_graph():
    g = Graph()
    a = g.add_block("input", params={"shape": (4,)}, position=(0, 0))
    b = g.add_block("linear", name="fc1", params={"out_features": 8}, position=(200, 0))
    g.connect(a.id, "out", b.id, "in")
    return g, a, b


def test_paste_gives_fresh_ids_unique_names_and_keeps_inner_wires():
    g, a, b = small_graph()
    data = clipboard.parse(clipboard.copy_blocks(g, [a.id, b.id]))
    cmd, ids = clipboard.paste_command(g, data)
    cmd.do(g)
    assert len(g.blocks) == 4 and len(g.edges) == 2
    names = [g.blocks[i].name for i in ids]
    assert len(set(g.names())) == 4 and "fc1" not in names
    assert g.blocks[ids[1]].position == (240.0, 40.0)
    cmd.undo(g)
    assert len(g.blocks) == 2 and len(g.edges) == 1


def test_parse_refuses_foreign_text():
    assert clipboard.parse("hello") is None
    assert clipboard.parse(json.dumps({"kind": "other"})) is None


def test_settings_recent_files(tmp_path):
    s = Settings(tmp_path)
    assert s.first_run
    for i in range(12):
        s.add_recent(tmp_path / f"p{i}.studio.json")
    again = Settings(tmp_path)
    assert len(again.recent_files()) == 10
    assert again.recent_files()[0].endswith("p11.studio.json")
    assert again.last_project == again.recent_files()[0]


def test_config_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(tmp_path / "x"))
    assert config_dir() == tmp_path / "x"


def test_recovery_files_of_dead_processes_are_offered(tmp_path):
    code = (
        "import sys; from studio.ui.recovery import RecoveryStore; from studio.graph.project import Project;"
        "from studio.graph.model import Graph; g = Graph(); g.add_block('input');"
        "RecoveryStore(sys.argv[1]).write(Project(name='Lost work', graph=g))"
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    store = RecoveryStore(tmp_path)
    items = store.recoverable()
    assert [i.name for i in items] == ["Lost work"]
    project = store.load(items[0])
    assert [b.type for b in project.graph.blocks.values()] == ["input"]
    # our own (live) recovery file is not offered
    store.write(Project(name="mine"))
    assert [i.name for i in store.recoverable()] == ["Lost work"]
    store.discard()
    assert not store.current


def test_pure_packages_never_import_qt_and_window_module_never_imports_torch():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'pyqtgraph'): raise ImportError('Qt in the model: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import studio.graph.commands, studio.graph.layout, studio.graph.project, studio.compiler\n"
        "import studio.ui.clipboard, studio.ui.recovery, studio.ui.settings\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    code = (
        "import sys; import studio.ui.app, studio.ui.main_window;"
        "assert 'torch' not in sys.modules, 'the window module imports torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
