import os

import pytest

# The whole suite runs headless and offline.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["STUDIO_NO_NETWORK"] = "1"


@pytest.fixture(scope="session", autouse=True)
def offline_pretrained_cache(tmp_path_factory):
    """A torch cache holding (random) weights for the pretrained example, under the file name
    torchvision expects, so examples build through the real loading path without a download."""
    home = tmp_path_factory.mktemp("torch_home")
    old = os.environ.get("TORCH_HOME")
    os.environ["TORCH_HOME"] = str(home)
    import torch
    from torchvision.models import MobileNet_V3_Small_Weights, mobilenet_v3_small

    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    url = MobileNet_V3_Small_Weights.IMAGENET1K_V1.url
    torch.manual_seed(0)
    torch.save(mobilenet_v3_small().state_dict(), checkpoints / url.rsplit("/", 1)[1])
    yield home
    if old is None:
        os.environ.pop("TORCH_HOME", None)
    else:
        os.environ["TORCH_HOME"] = old


@pytest.fixture(autouse=True)
def _forget_trusted_code():
    yield
    from studio.trust import forget_all

    forget_all()
