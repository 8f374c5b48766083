import os

import pytest

# The whole suite runs headless and offline.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["STUDIO_NO_NETWORK"] = "1"


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Torch ops in the test processes run on one thread. The suite runs one pytest-xdist worker
    per core, so torch's default (a thread per core) puts two workers' OpenMP threads on each
    core, where they wait for each other at every op (see studio/training/runtime/threads.py).
    Measured, -n0 at load 7-8 on the 2-core machine: test_registry + test_every_block +
    test_cost took 98.8 s with the default and 49.0 s with one thread (user CPU 30.4 s -> 20.2 s).
    Set before each test: a run in the test's process sets its own (`choose_threads`)."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def one_blas_thread():
    """numpy's OpenBLAS likewise (its threads spin while they wait): ONNX's reference evaluator
    on the pretrained example, -n0 at load 10: 55.8 s and 37.7 s with two threads, 41.8 s and
    27.9 s with one. threadpoolctl comes with scikit-learn; without it nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


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
