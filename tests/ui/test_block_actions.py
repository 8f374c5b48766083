"""Context-menu actions for transfer learning and outside code, driven as a user would."""

import pytest
from PySide6.QtWidgets import QMenu

from studio.blocks.registry import all_block_types
from studio.graph.project import Project
from studio.ui.block_actions import (
    HANDLERS,
    add_block_actions,
    download_weights,
    new_head,
    trust_file,
    trust_repo,
)


@pytest.fixture
def transfer_window(qtbot):
    import studio.compiler  # noqa: F401
    from studio.graph.project import load_project
    from studio.ui.main_window import MainWindow

    w = MainWindow(load_project("resources/examples/transfer_learning.studio.json"))
    qtbot.addWidget(w)
    w.ensure_compiler()
    return w


def menu_texts(window, block_id):
    menu = QMenu()
    add_block_actions(menu, window, block_id)
    return [a.text() for a in menu.actions() if a.text()]


def test_a_backbone_offers_a_new_head_that_is_one_undo_step(transfer_window, qtbot):
    w = transfer_window
    g = w.doc.graph
    backbone = next(b for b in g if b.type == "backbone")
    assert "New head…" in menu_texts(w, backbone.id)
    before = g.to_dict()
    assert new_head(w, backbone.id, num_classes=7)
    qtbot.waitUntil(lambda: "nn.Linear(1024, 7)" in w.code_view.source, timeout=120_000)
    w.doc.undo_stack.undo()
    assert g.to_dict() == before


def test_weights_already_in_the_cache_are_not_downloaded_again(transfer_window):
    backbone = next(b for b in transfer_window.doc.graph if b.type == "backbone")
    assert download_weights(transfer_window, backbone.id) is None  # the test cache has them
    assert "already on this computer" in transfer_window.statusBar().currentMessage()


PRETRAINED = "MobileNet_V3_Small_Weights.IMAGENET1K_V1"  # what the transfer example loads


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """No weights on this 'machine'; a local folder serves as the download mirror."""
    from studio.hub.weights import cached_path

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    source = cached_path(PRETRAINED)  # the session's offline copy
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("STUDIO_WEIGHTS_MIRROR", mirror.as_uri())
    warnings = []
    monkeypatch.setattr("studio.ui.block_actions.QMessageBox.warning", lambda *a: warnings.append(a[2]))
    return mirror, source, warnings


def test_download_weights_fetches_them_off_the_gui_thread(transfer_window, qtbot, empty_cache, monkeypatch):
    from studio.hub import weights

    mirror, source, warnings = empty_cache
    (mirror / source.name).write_bytes(source.read_bytes())
    monkeypatch.setattr(weights, "_HASH", weights.re.compile(r"$^"))  # the offline copy is random
    backbone = next(b for b in transfer_window.doc.graph if b.type == "backbone")
    job = download_weights(transfer_window, backbone.id)
    qtbot.waitUntil(lambda: "is ready" in transfer_window.statusBar().currentMessage(), timeout=120_000)
    job.wait(5000)
    got = weights.cached_path(PRETRAINED)
    assert got is not None and "torch_home" in str(got) and got.read_bytes() == source.read_bytes()
    assert not warnings


def test_a_failed_download_says_what_to_do(transfer_window, qtbot, empty_cache):
    _, source, warnings = empty_cache
    backbone = next(b for b in transfer_window.doc.graph if b.type == "backbone")
    job = download_weights(transfer_window, backbone.id)
    qtbot.waitUntil(lambda: bool(warnings), timeout=120_000)
    job.wait(5000)
    assert source.name in warnings[0] and "yourself" in warnings[0]


def test_code_from_a_file_runs_only_after_the_user_trusts_it(qtbot, tmp_path):
    import studio.compiler  # noqa: F401
    from studio.graph.model import Graph
    from studio.ui.main_window import MainWindow

    src = tmp_path / "blocks.py"
    src.write_text("import torch\n\nclass Double(torch.nn.Module):\n    def forward(self, x):\n        return 2 * x\n")
    g = Graph()
    x = g.add_block("input", name="x")
    c = g.add_block("custom_module", name="double", params={"source": f"{src}:Double"})
    o = g.add_block("output", name="y")
    g.connect(x.id, "out", c.id, "in")
    g.connect(c.id, "out", o.id, "in")
    w = MainWindow(Project(name="t", graph=g))
    qtbot.addWidget(w)
    w.ensure_compiler()
    assert any("does not run code" in d.message for d in w.doc.analysis.errors)
    assert menu_texts(w, c.id) == ["Trust this file's code…"]
    asked = []
    assert not trust_file(w, c.id, ask=lambda text: asked.append(text) or False)
    assert "runs that file's code" in asked[0]
    assert trust_file(w, c.id, ask=lambda text: True)
    qtbot.waitUntil(lambda: w.doc.analysis.ok, timeout=120_000)


def test_every_declared_action_is_in_the_menu_and_has_a_handler(qtbot):
    """Each block type's menu shows exactly what its declaration offers, for every type."""
    import studio.compiler  # noqa: F401
    from studio.graph.model import Graph
    from studio.ui.main_window import MainWindow

    w = MainWindow(Project(name="t", graph=Graph()))
    qtbot.addWidget(w)
    offering = [spec for spec in all_block_types() if spec.actions]
    assert {"backbone", "hub_model", "custom_module"} <= {spec.id for spec in offering}
    for spec in all_block_types():
        assert all(a.id in HANDLERS for a in spec.actions), spec.id
        block = w.doc.graph.add_block(spec.id)
        assert menu_texts(w, block.id) == [a.text for a in spec.actions], spec.id


def test_a_custom_module_from_an_allowed_package_has_nothing_to_trust(qtbot):
    import studio.compiler  # noqa: F401
    from studio.graph.model import Graph
    from studio.ui.main_window import MainWindow

    g = Graph()
    c = g.add_block("custom_module", name="ident")
    w = MainWindow(Project(name="t", graph=g))
    qtbot.addWidget(w)
    assert not trust_file(w, c.id, ask=lambda text: pytest.fail("nothing to ask"))
    assert "nothing to trust" in w.statusBar().currentMessage()


def test_a_local_hub_repository_runs_only_after_the_user_trusts_it(qtbot, tmp_path):
    import studio.compiler  # noqa: F401
    from studio.graph.model import Graph
    from studio.ui.main_window import MainWindow

    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "hubconf.py").write_text(
        "dependencies = ['torch']\nfrom torch import nn\n\n\ndef tiny(width=4):\n    return nn.Linear(3, width)\n"
    )
    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [3]})
    m = g.add_block("hub_model", name="hub", params={"repo": str(repo), "entry": "tiny"})
    o = g.add_block("output", name="y")
    g.connect(x.id, "out", m.id, "in")
    g.connect(m.id, "out", o.id, "in")
    w = MainWindow(Project(name="t", graph=g))
    qtbot.addWidget(w)
    w.ensure_compiler()
    assert not w.doc.analysis.ok
    asked = []
    assert not trust_repo(w, m.id, ask=lambda text: asked.append(text) or False)
    assert "runs its hubconf.py" in asked[0] and not m.params["trusted"]
    assert trust_repo(w, m.id, ask=lambda text: True)
    assert m.params["trusted"]  # an undoable edit, saved with the project
    qtbot.waitUntil(lambda: w.doc.analysis.ok, timeout=120_000)
    assert w.doc.analysis.block_info(m.id).out_shapes[0][1:] == (4,)


def test_a_backbone_opens_into_its_layers_and_keeps_its_pretrained_weights(transfer_window, qtbot, tmp_path):
    import torch

    from studio.compiler import build_model

    w = transfer_window
    w.doc.project.path = tmp_path / "transfer.studio.json"  # the weights file goes beside it
    g = w.doc.graph
    backbone = next(b for b in g if b.type == "backbone")
    menu = QMenu()
    add_block_actions(menu, w, backbone.id)
    action = next(a for a in menu.actions() if a.text().startswith("Open as layers"))
    torch.manual_seed(0)
    before = build_model(g).eval()
    action.trigger()  # what the context menu does
    use = g.block(backbone.id)
    assert use.type == "module:MobileNetV3" and use.frozen  # the Backbone froze it whole
    assert list(tmp_path.glob("backbone_pretrained*.pt"))  # named by its digest, never over a file
    qtbot.waitUntil(lambda: "class MobileNetV3(nn.Module):" in w.code_view.source, timeout=120_000)
    after = build_model(g).eval()
    after.to_rgb.load_state_dict(before.to_rgb.state_dict())
    after.head.load_state_dict(before.head.state_dict())
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(after(x), before(x))  # the pretrained weights came along
    w.doc.undo_stack.undo()
    assert g.block(backbone.id).type == "backbone" and len(g.library) == 0
