import pytest


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    """An empty torch cache: nothing pretrained is on this 'machine'."""
    home = tmp_path / "torch_home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    monkeypatch.delenv("TORCH_HUB", raising=False)
    monkeypatch.delenv("STUDIO_WEIGHTS_MIRROR", raising=False)
    return home
