"""The registry's behaviour: what declaring, finding and saving a block type does."""

import json

import pytest

from studio.blocks import registry
from studio.blocks.params import Int, ParamError
from studio.blocks.registry import BlockType, Module, all_block_types, categories, get_block_type


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry a test may add to; the real one stays as it was."""
    all_block_types()  # the built-in types first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))


def declared(id="widget", **kw):
    return BlockType(id=id, label="Widget", category="Test", description="d", torch_name="nn.Widget",
                     emitter=Module("nn.Widget"), **kw)


def test_the_palette_groups_every_type_once_in_declaration_order():
    types = all_block_types()
    grouped = [spec for specs in categories().values() for spec in specs]
    assert sorted(s.id for s in grouped) == sorted(s.id for s in types)
    position = {s.id: i for i, s in enumerate(types)}
    for specs in categories().values():
        assert [position[s.id] for s in specs] == sorted(position[s.id] for s in specs)


def test_a_declaration_is_all_it_takes(scratch_registry):
    registry.register(declared(params={"width": Int(8, "width", "How wide.", min=1, max=64)}, aliases=("gadget",)))
    assert [s.id for s in categories()["Test"]] == ["widget"]
    assert get_block_type("gadget").id == "widget"  # files saved under the old id still load
    assert get_block_type("widget").coerce_params({}) == {"width": 8}
    assert "nn.Widget" in get_block_type("widget").tooltip()


def test_mistakes_in_a_declaration_fail_at_import(scratch_registry):
    registry.register(declared())
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(declared())
    with pytest.raises(ParamError, match="at most 4"):
        registry.register(declared("wide", params={"width": Int(8, "width", "", min=1, max=4)}))


def test_unknown_types_and_parameters_are_named_in_the_message():
    with pytest.raises(KeyError, match="'no_such_block'"):
        get_block_type("no_such_block")
    with pytest.raises(ParamError, match="Linear has no parameter 'colour'"):
        get_block_type("linear").coerce_params({"colour": "red"})


@pytest.mark.parametrize("spec", all_block_types(), ids=lambda s: s.id)
def test_every_types_defaults_survive_saving_and_loading(spec):
    saved = json.loads(json.dumps(spec.params_to_json(spec.defaults())))
    assert spec.coerce_params(saved) == spec.coerce_params({})
