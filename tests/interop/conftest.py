from pathlib import Path

import pytest
import torch

EXAMPLES = sorted((Path(__file__).parents[2] / "resources" / "examples").glob("*.studio.json"))


@pytest.fixture(autouse=True)
def one_thread():
    """Small models run faster on one thread, and a busy second core cannot stall them."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=EXAMPLES, ids=lambda p: p.name.split(".")[0])
def example(request):
    from studio.graph.project import load_project

    return load_project(request.param)
