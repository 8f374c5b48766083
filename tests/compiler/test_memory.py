"""The memory estimate from meta tensors against real steps, per block and in total."""

from pathlib import Path

import pytest
import torch

from studio.compiler import build_model
from studio.compiler.memory import estimate_memory
from studio.graph.project import load_project
from studio.training.kinds import OPTIMIZERS
from studio.units import fmt_bytes, parse_size
from tests.helpers import mlp

EXAMPLES = Path(__file__).resolve().parents[2] / "resources" / "examples"


def real_saved_bytes(model, x):
    skip = {p.untyped_storage().data_ptr() for p in [*model.parameters(), *model.buffers()]}
    seen = {}

    def pack(t):
        s = t.untyped_storage()
        if s.data_ptr() not in skip:
            seen.setdefault(s.data_ptr(), (s.nbytes(), t))
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x)
    return sum(n for n, _ in seen.values())


@pytest.mark.parametrize(
    "name", ["shapes_cnn", "shapes_resnet", "tiny_gpt", "mlp_classifier", "residual_network"]
)
def test_activations_equal_what_a_real_step_saves(name):
    graph = load_project(EXAMPLES / f"{name}.studio.json").graph
    from studio.compiler import input_specs

    ((_, shape, dtype),) = input_specs(graph)
    x = torch.zeros((3, *shape), dtype=getattr(torch, dtype))
    real = real_saved_bytes(build_model(graph), x)
    est = estimate_memory(graph, 3)
    assert est.activations == real
    assert est.unattributed == 0
    # every byte is charged to a block, and a use's row holds what its copies keep
    assert sum(b.activations for b in est.blocks) == real


def test_blocks_inside_a_repeated_definition_each_get_their_share():
    graph = load_project(EXAMPLES / "shapes_resnet.studio.json").graph
    est = estimate_memory(graph, 4)
    layer1 = next(b for b in est.blocks if b.name == "layer1")
    copies = [r for r in est.inner if r.path[0].startswith(layer1.path[0] + "#")]
    assert {r.name.split(" > ")[0] for r in copies} == {"layer1 #1", "layer1 #2"}
    assert sum(r.activations for r in copies) == layer1.activations
    bn1 = [r for r in copies if r.name.endswith("> bn1")]
    assert len(bn1) == 2 and bn1[0].activations == bn1[1].activations > 0


def test_weights_gradients_and_optimizer_state_follow_the_declaration():
    graph = mlp(10, 20, 3)
    params = 10 * 20 + 20 + 20 * 3 + 3
    adam = OPTIMIZERS["adam"]
    est = estimate_memory(graph, 8, states=adam.states_per_parameter({}))
    assert est.weights == params * 4 and est.gradients == params * 4
    assert est.optimizer_state == 2 * params * 4
    sgd = OPTIMIZERS["sgd"]
    assert (
        sgd.states_per_parameter({"momentum": 0.0}) == 0
        and sgd.states_per_parameter({"momentum": 0.9}) == 1
    )
    assert OPTIMIZERS["rmsprop"].states_per_parameter({"momentum": 0.0}) == 1
    assert OPTIMIZERS["adagrad"].states_per_parameter({}) == 1


def test_frozen_blocks_keep_no_gradients_or_state():
    graph = mlp(10, 20, 3)
    first = next(b for b in graph.blocks.values() if b.spec.id == "linear")
    graph.set_frozen(first.id, True)
    est = estimate_memory(graph, 8, states=2)
    row = next(b for b in est.blocks if b.path == (first.id,))
    assert row.weights == (10 * 20 + 20) * 4 and row.gradients == 0 and row.optimizer == 0


def test_half_precision_saves_half_the_activations():
    graph = load_project(EXAMPLES / "shapes_cnn.studio.json").graph
    full = estimate_memory(graph, 16)
    half = estimate_memory(graph, 16, precision="bf16")
    assert half.weights == full.weights
    assert 0.4 < half.activations / full.activations < 0.75


def test_the_largest_batch_is_the_last_that_fits():
    graph = load_project(EXAMPLES / "shapes_cnn.studio.json").graph
    est = estimate_memory(graph, 32)
    memory = parse_size("100MB")
    b = est.largest_batch(memory, margin=0.1)
    assert b > 32
    assert est.peak_at(b) <= memory * 0.9 < est.peak_at(b + 1)
    # the linear extrapolation agrees with an estimate made at that batch
    direct = estimate_memory(graph, b).peak
    assert abs(direct - est.peak_at(b)) / direct < 0.02
    assert est.largest_batch(1000) == 0


def test_sizes_read_and_written():
    assert parse_size("24GB") == 24 * 10**9 and parse_size("16GiB") == 16 * 2**30
    assert parse_size("512 MB") == 512 * 10**6
    with pytest.raises(ValueError, match="24GB"):
        parse_size("lots")
    assert fmt_bytes(1_234_567) == "1.23 MB"


def test_a_built_model_gives_the_same_peak_as_its_graph():
    from studio.compiler.memory import model_step_bytes

    graph = load_project(EXAMPLES / "shapes_cnn.studio.json").graph
    est = estimate_memory(graph, 16, states=2)
    model = build_model(graph)
    assert model_step_bytes(model, [((16, 1, 28, 28), torch.float32)], 2) == est.peak
    assert all(p.device.type == "cpu" for p in model.parameters())  # the model is left alone


def test_the_check_before_the_first_step_warns_when_a_step_will_not_fit(monkeypatch):
    from types import SimpleNamespace

    import studio.training.cost as cost
    from studio.training.settings import TrainingSettings

    graph = load_project(EXAMPLES / "shapes_cnn.studio.json").graph
    model = build_model(graph)
    settings = TrainingSettings.from_dict({"batch_size": 512})
    cuda = SimpleNamespace(type="cuda")
    assert cost.fit_note(model, (1, 28, 28), torch.float32, settings, torch.device("cpu")) is None
    monkeypatch.setattr(cost, "device_memory", lambda device: (20_000_000, "Test GPU"))
    note = cost.fit_note(model, (1, 28, 28), torch.float32, settings, cuda)
    assert note.startswith("One step at batch 512 needs about") and "Test GPU" in note
    assert "Try a batch of" in note
    monkeypatch.setattr(cost, "device_memory", lambda device: (24 * 10**9, "Big GPU"))
    assert cost.fit_note(model, (1, 28, 28), torch.float32, settings, cuda) is None


def test_a_pretrained_backbone_is_estimated_without_reading_or_downloading_weights(
    monkeypatch, tmp_path
):
    """With no weights in the cache (the suite's cache holds them; a user's may not), the
    estimate built the backbone through torchvision's own download, which binds
    load_state_dict_from_url at import: the window's status bar showed "<urlopen error ...>"."""
    import urllib.request

    import torch.hub
    import torchvision.models._api as tv_api

    def no_network(*args, **kwargs):
        raise AssertionError("the estimate tried to fetch weights")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache
    monkeypatch.setattr(torch.hub, "urlopen", no_network)  # bound by name in torch.hub
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    own = tv_api.WeightsEnum.get_state_dict
    graph = load_project(EXAMPLES / "transfer_learning.studio.json").graph
    est = estimate_memory(graph, 2)
    backbone = next(b for b in est.blocks if b.name == "backbone")
    assert backbone.weights > 1_000_000 and backbone.activations > 0
    assert tv_api.WeightsEnum.get_state_dict is own  # put back as it was
    assert not list(tmp_path.rglob("*.pth"))


@pytest.mark.parametrize("name", ["shapes_cnn", "tiny_gpt"])
def test_an_estimate_leaves_no_model_behind(name):
    """Each estimate's meta model stayed alive, held from torch's C++ by the saved-tensor hooks
    (12 modules more per estimate of the Shapes CNN; the window's memory grew with each edit)."""
    import gc

    from torch import nn

    from studio.training.cost import memory_for
    from studio.training.settings import TrainingSettings

    project = load_project(EXAMPLES / f"{name}.studio.json")
    settings = TrainingSettings.from_dict(project.training)

    def modules() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, nn.Module))

    memory_for(project.graph, settings)
    before = modules()
    for _ in range(3):
        memory_for(project.graph, settings)
    assert modules() == before
