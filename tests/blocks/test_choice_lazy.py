"""The generic lazy / dependent Choice, and the registry staying free of torch."""

import subprocess
import sys

import pytest

from studio.blocks.params import Choice, ParamError


def test_lazy_options_are_evaluated_on_use_only():
    calls = []

    def options():
        calls.append(1)
        return ("a", "b")

    c = Choice("a", options=options)
    assert c.lazy and not calls
    assert c.coerce("b") == "b"
    with pytest.raises(ParamError, match="'a', 'b'"):
        c.coerce("z")


def test_dependent_options_get_the_other_values():
    c = Choice(
        "x1",
        options=lambda v: (f"{v.get('kind', 'x')}1", f"{v.get('kind', 'x')}2"),
        depends_on=("kind",),
    )
    assert c.options_for({"kind": "y"}) == ("y1", "y2")
    assert c.coerce_in("y2", "v", {"kind": "y"}) == "y2"
    with pytest.raises(ParamError):
        c.coerce_in("x1", "v", {"kind": "y"})
    assert c.fit("x2", {"kind": "y"}) == "y1"  # default gone: first option


def test_registry_and_palette_import_without_torch():
    code = (
        "import sys\n"
        "from studio.blocks.registry import all_block_types, get_block_type\n"
        "spec = get_block_type('backbone')\n"
        "assert spec.params['model'].lazy\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'torchvision' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=".")


def test_options_that_cannot_be_listed_keep_the_saved_text():
    from studio.blocks.params import OptionsUnknown

    def options():
        raise OptionsUnknown("torchvision is not available")

    c = Choice("resnet18", options=options)
    assert c.coerce("vit_b_16") == "vit_b_16"  # kept as saved, checked where options are known
    assert c.fit("vit_b_16") == "vit_b_16"
    with pytest.raises(ParamError, match="must be text"):
        c.coerce(3)


def test_a_backbone_keeps_its_values_where_torchvision_cannot_be_imported():
    """The pure layers open a transfer-learning project: the hub's declaration is found by the
    registry, and its model, weights and freezing are kept as the file says."""
    code = (
        "import sys\n"
        "class Blocked:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'torchvision'):\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Blocked())\n"
        "from studio.blocks.registry import get_block_type\n"
        "spec = get_block_type('backbone')\n"
        "v = spec.coerce_params({'model': 'efficientnet_b0', 'weights': 'IMAGENET1K_V1', 'freeze': 'up to features.3'})\n"
        "assert v['model'] == 'efficientnet_b0' and v['freeze'] == 'up to features.3', v\n"
        "print(spec.emitter.__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=".", capture_output=True, text=True
    )
    assert out.stdout.split()[-1] == "studio.hub.blocks"


def test_a_custom_module_may_call_a_torchvision_builder_the_hub_recognises():
    from studio.blocks.catalogue.ops import is_model_builder
    from studio.blocks.registry import get_block_type

    get_block_type("custom_module")  # the registry loaded its contributors
    assert is_model_builder("torchvision.models", "resnet18")
    assert not is_model_builder("torchvision.models", "not_a_model")
    assert not is_model_builder("torch.nn", "Linear")
