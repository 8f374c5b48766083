"""A large project: shapes are inferred off the GUI thread, then shown."""

from studio.graph.model import Graph
from studio.graph.project import Project


def long_chain(n: int) -> Project:
    g = Graph()
    prev = g.add_block("input", params={"shape": [8]})
    for i in range(n):
        b = g.add_block("linear" if i % 2 == 0 else "relu", params={"out_features": 8} if i % 2 == 0 else None)
        g.connect(prev.id, "out", b.id, "in")
        prev = b
    out = g.add_block("output")
    g.connect(prev.id, "out", out.id, "in")
    return Project(name="long", graph=g)


def test_a_large_project_gets_its_shapes_from_a_background_pass(qtbot):
    import studio.compiler  # noqa: F401
    from studio.ui.document import BACKGROUND_ANALYSIS_BLOCKS
    from studio.ui.main_window import MainWindow

    project = long_chain(BACKGROUND_ANALYSIS_BLOCKS + 50)
    w = MainWindow(project)
    qtbot.addWidget(w)
    w.doc.attach_compiler()
    assert w.doc._warmer is not None  # the work went to a thread
    qtbot.waitUntil(lambda: w.doc.analysis is not None, timeout=120_000)
    last = next(b for b in project.graph if b.type == "output")
    edge = project.graph.edge_into(last.id, "in")
    qtbot.waitUntil(lambda: w.scene.wires[edge.id].label == "N×8", timeout=120_000)
