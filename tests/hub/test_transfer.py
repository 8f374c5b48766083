"""New head, preprocessing, and the torch.hub block with a local repository."""

import textwrap

import pytest
import torch

from studio.blocks.registry import BATCH
from studio.compiler import analyze, build_model, generate
from studio.graph.commands import History
from studio.hub.repos import HubError, list_entrypoints, parse_kwargs, parse_repo, trust_prompt
from studio.hub.transfer import new_head, preprocessing_for, transforms_source
from tests.helpers import backbone_graph


def test_new_head_after_a_classifier_backbone_is_one_undo_step():
    g, b = backbone_graph((3, 32, 32), model="resnet18", weights="none", mode="classifier")
    before = g.to_dict()
    h = History(g)
    h.push(new_head(g, b.id, 7))
    assert b.params["mode"] == "features"
    a = analyze(g)
    assert a.ok, a.diagnostics
    head = g.block_by_name("head")
    assert a.block_info(head.id).out_shapes == ((BATCH, 7),)
    assert "nn.Linear(512, 7)" in generate(g, "Net").source
    out = g.block_by_name("out")
    assert g.edge_into(out.id, "in").src == head.id
    h.undo()
    assert g.to_dict() == before
    h.redo()
    assert g.block_by_name("head") is not None


def test_new_head_pools_a_feature_map_and_adds_an_output():
    g, b = backbone_graph((3, 64, 64), model="resnet18", weights="none", mode="feature map", stage="layer2")
    g.remove_block(g.block_by_name("out").id)
    History(g).push(new_head(g, b.id, 3))
    a = analyze(g)
    assert a.ok, a.diagnostics
    assert [blk.type for blk in g.blocks.values()][-4:] == ["adaptive_avgpool2d", "flatten", "linear", "output"]
    model = build_model(g, "Net")
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_preprocessing_from_the_weights():
    g, b = backbone_graph((3, 224, 224), model="resnet18", weights="IMAGENET1K_V1")
    pre = preprocessing_for(g)
    assert pre["weights"] == "ResNet18_Weights.IMAGENET1K_V1"
    assert (pre["resize"], pre["crop"], pre["interpolation"]) == (256, 224, "bilinear")
    assert pre["mean"] == pytest.approx((0.485, 0.456, 0.406)) and pre["direct"]
    assert "transforms.CenterCrop(224)" in transforms_source(pre)
    g.set_params(b.id, {"weights": "none"})
    assert preprocessing_for(g) is None


HUBCONF = textwrap.dedent(
    '''
    dependencies = ["torch"]
    from torch import nn


    def tiny(width=8, pretrained=False):
        """A tiny model."""
        if pretrained:
            raise RuntimeError("would download")
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(width) if False else nn.Linear(12, width))


    def _private():
        pass
    '''
)


@pytest.fixture
def local_repo(tmp_path):
    repo = tmp_path / "myrepo"
    repo.mkdir()
    (repo / "hubconf.py").write_text(HUBCONF)
    return repo


def test_local_hub_repository_loads(local_repo, torch_home):
    assert list_entrypoints(str(local_repo)) == ["nn", "tiny"]
    from studio.graph.model import Graph
    from studio.trust import trust

    g = Graph()
    x = g.add_block("input", name="x", params={"shape": [3, 4]})
    m = g.add_block(
        "hub_model",
        name="hub",
        params={"repo": str(local_repo), "entry": "tiny", "kwargs": "{'width': 5, 'pretrained': True}"},
    )
    o = g.add_block("output", name="y")
    g.connect(x.id, "out", m.id, "in")
    g.connect(m.id, "out", o.id, "in")
    (err,) = analyze(g).errors  # a project cannot make Studio run a repository's code
    assert "does not run code named in a project" in err.message
    trust(str(local_repo))  # what the GUI does once the user confirms
    a = analyze(g)
    assert a.ok, a.diagnostics  # pretrained=True is switched off while inferring shapes
    assert a.block_info(m.id).out_shapes == ((BATCH, 5),)
    g.set_params(m.id, {"kwargs": "{'width': 5}"})
    src = generate(g, "Net").source
    assert "torch.hub.load(" in src and f'"{local_repo}",' in src  # a repr, double-quoted as ruff writes it
    assert 'source="local",' in src and "width=5," in src
    assert build_model(g, "Net")(torch.randn(2, 3, 4)).shape == (2, 5)

    g.set_params(m.id, {"entry": "nope"})
    (err,) = analyze(g).errors
    assert "no entry point 'nope'" in err.message and "tiny" in err.message


def test_remote_repository_needs_trust_and_code_says_so(torch_home):
    from studio.graph.model import Graph
    from studio.hub.weights import prepare_graph_weights

    g = Graph()
    m = g.add_block("hub_model", name="hub", params={"repo": "someone/models:v1", "entry": "net"})
    with pytest.raises(HubError, match="runs its code"):
        prepare_graph_weights(g)
    prompt = trust_prompt("someone/models:v1")
    assert "someone/models" in prompt and "runs its code" in prompt
    from studio.blocks.registry import EmitContext

    spec = m.spec
    ctx = EmitContext("hub", m.params, ["x"], ["y"], [None], [None])
    assert "trust_repo" not in spec.emitter.emit(ctx).init[0]
    ctx.params = {**m.params, "trusted": True}
    assert "torch.hub.load('someone/models:v1', 'net', trust_repo=True)" in spec.emitter.emit(ctx).init[0]
    ctx.inference = True
    ctx.params = m.params
    with pytest.raises(HubError, match="trust"):
        spec.emitter.emit(ctx)  # never runs untrusted code, even to infer shapes


def test_kwargs_are_parsed_safely():
    assert parse_kwargs("{'num_classes': 10, 'p': (1, 2.5)}") == {"num_classes": 10, "p": (1, 2.5)}
    assert parse_kwargs("") == {}
    for bad in ("__import__('os').system('x')", "[1]", "{1: 2}", "{'source': 'x'}", "{'class': 1}"):
        with pytest.raises(HubError):
            parse_kwargs(bad)


def test_repository_names():
    r = parse_repo("pytorch/vision:v0.19.0")
    assert (r.owner, r.name, r.ref, r.is_local) == ("pytorch", "vision", "v0.19.0", False)
    for bad in ("", "not a repo", "./missing-folder"):
        with pytest.raises(HubError):
            parse_repo(bad)
