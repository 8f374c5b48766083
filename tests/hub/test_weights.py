"""Weights: the real torchvision loading path from the cache, downloads, local files. Offline."""

import hashlib
import http.server
import threading
import warnings

import pytest
import torch

from studio.compiler import build_model
from studio.hub.models import filename_of, get_weights
from studio.hub.weights import (
    DownloadCancelled,
    WeightsError,
    cache_dir,
    cached_path,
    check_weights_file,
    download,
    ensure_weights,
    prepare_graph_weights,
)
from tests.helpers import backbone_graph

MODEL, WEIGHTS = "mobilenet_v3_small", "MobileNet_V3_Small_Weights.IMAGENET1K_V1"


def _fake_state_dict():
    from torchvision.models import mobilenet_v3_small

    torch.manual_seed(0)
    return mobilenet_v3_small().state_dict()


def test_cached_weights_load_through_torchvision(torch_home):
    w = get_weights(WEIGHTS)
    assert cached_path(w) is None
    state = _fake_state_dict()
    folder = cache_dir()
    assert folder == torch_home / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(state, folder / filename_of(w.url))
    assert cached_path(WEIGHTS) == folder / "mobilenet_v3_small-047dcff4.pth"
    assert ensure_weights(WEIGHTS) == cached_path(w)  # found: no download

    g, b = backbone_graph((3, 32, 32), model=MODEL, weights="IMAGENET1K_V1", freeze="backbone")
    assert prepare_graph_weights(g) == [cached_path(w)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = build_model(g, "Net")  # the generated code: mobilenet_v3_small(weights=...)
    loaded = model.backbone.state_dict()
    for key in ("features.0.0.weight", "features.12.1.running_var", "classifier.0.weight"):
        assert torch.equal(loaded[key], state[key])


def test_offline_message_names_the_file_and_the_folder(torch_home):
    with pytest.raises(WeightsError) as e:
        ensure_weights(WEIGHTS)
    text = str(e.value)
    assert "mobilenet_v3_small-047dcff4.pth" in text
    assert str(torch_home / "hub" / "checkpoints") in text
    assert "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth" in text


@pytest.fixture
def server(tmp_path):
    """A tiny HTTP server on localhost serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _served_weights(root):
    """A file named like torchvision's (hash prefix included) with the right checksum."""
    data = b"studio" * 50_000
    digest = hashlib.sha256(data).hexdigest()[:8]
    name = f"tiny-{digest}.pth"
    (root / name).write_bytes(data)
    return name, data


def test_download_from_a_mirror_with_progress(torch_home, server):
    root, base = server
    w = get_weights(WEIGHTS)
    # a file under torchvision's name whose content is not torchvision's: fetched from the
    # mirror with progress, then refused by the checksum in its name, and not cached
    torch.save(_fake_state_dict(), root / filename_of(w.url))
    size = (root / filename_of(w.url)).stat().st_size
    reports = []
    with pytest.raises(WeightsError, match="checksum"):
        ensure_weights(WEIGHTS, progress=reports.append, mirror=base)
    assert reports[0].done == 0 and reports[-1].done == reports[-1].total == size
    assert 3 < len(reports) <= 102  # reported when the percent changes, not per chunk
    assert cached_path(w) is None and not list(cache_dir().glob("*.part"))

    name, data = _served_weights(root)
    reports.clear()
    path = download(f"{base}/{name}", cache_dir() / name, progress=reports.append)
    assert path.read_bytes() == data and reports[-1].fraction == 1.0


def test_download_checks_hash_and_can_be_cancelled(tmp_path, server):
    root, base = server
    name, data = _served_weights(root)
    dest = tmp_path / "cache" / name
    assert download(f"{base}/{name}", dest).read_bytes() == data

    class Cancelled:
        def is_set(self):
            return True

    other = tmp_path / "cache2" / name
    with pytest.raises(DownloadCancelled):
        download(f"{base}/{name}", other, cancel=Cancelled())
    assert not other.exists() and not list(other.parent.glob("*.part"))

    bad = root / "tiny-00000000.pth"
    bad.write_bytes(data)
    with pytest.raises(WeightsError, match="checksum"):
        download(f"{base}/{bad.name}", tmp_path / "cache3" / bad.name)


def test_download_from_a_file_url(tmp_path):
    src = tmp_path / "w.pth"
    src.write_bytes(b"x" * 1000)
    dest = tmp_path / "cache" / "w.pth"
    assert download(src.as_uri(), dest).read_bytes() == b"x" * 1000


def test_interrupted_or_missing_download_names_the_cache(tmp_path, server):
    root, base = server
    with pytest.raises(WeightsError, match="put it in .*cache"):
        download(f"{base}/missing-1234.pth", tmp_path / "cache" / "missing-1234.pth")


def test_local_weights_file(tmp_path, torch_home):
    state = _fake_state_dict()
    good = tmp_path / "mine.pth"
    torch.save(state, good)
    check_weights_file(MODEL, good)
    g, b = backbone_graph((3, 32, 32), model=MODEL, weights="file", weights_file=str(good))
    assert prepare_graph_weights(g) == [good]
    model = build_model(g, "Net")
    assert "weights_only=True" in type(model).__studio_source__
    assert torch.equal(model.backbone.features[0][0].weight, state["features.0.0.weight"])

    broken = dict(state)
    del broken["features.0.0.weight"]
    broken["extra.weight"] = torch.zeros(1)
    broken["classifier.3.weight"] = torch.zeros(10, 1024)
    torch.save(broken, tmp_path / "bad.pth")
    with pytest.raises(WeightsError) as e:
        check_weights_file(MODEL, tmp_path / "bad.pth")
    text = str(e.value)
    assert "missing 1 key(s): features.0.0.weight" in text
    assert "unexpected 1 key(s): extra.weight" in text
    assert "classifier.3.weight is 10×1024" in text
    g.set_params(b.id, {"weights_file": str(tmp_path / "bad.pth")})
    with pytest.raises(WeightsError, match="backbone: bad.pth does not fit"):
        prepare_graph_weights(g)

    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "ckpt.pth")
    with pytest.raises(WeightsError, match="checkpoint"):
        check_weights_file(MODEL, tmp_path / "ckpt.pth")
