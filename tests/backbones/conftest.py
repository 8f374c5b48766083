import pytest

from studio.graph.model import Graph


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch cache: nothing pretrained is on this 'machine'."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("TORCH_HUB", raising=False)
    monkeypatch.delenv("STUDIO_WEIGHTS_MIRROR", raising=False)
    return home


def backbone_graph(shape=(3, 64, 64), **params) -> tuple[Graph, object]:
    g = Graph()
    x = g.add_block("input", name="image", params={"shape": list(shape)})
    b = g.add_block("backbone", name="backbone", params=params)
    o = g.add_block("output", name="out")
    g.connect(x.id, "out", b.id, "in")
    g.connect(b.id, "out", o.id, "in")
    return g, b
