"""Models that use the newer torch.nn layers import onto their own blocks (not Custom module
blocks), with the same parameters and, after loading the original weights, the same outputs."""

import pytest
from torch import nn

from studio.interop.fx_import import import_module
from studio.interop.fx_module_rules import MODULES

VOLUME = nn.Sequential(
    nn.Conv3d(2, 4, 3, padding=1), nn.BatchNorm3d(4), nn.InstanceNorm3d(4, affine=True), nn.Dropout3d(0.2),
    nn.ReplicationPad3d(1), nn.MaxPool3d(2), nn.ConvTranspose3d(4, 2, 2, stride=2), nn.AvgPool3d(2),
    nn.CircularPad3d((1, 0, 1, 0, 0, 1)), nn.AdaptiveMaxPool3d(2), nn.AdaptiveAvgPool3d((1, 1, 1)), nn.Hardsigmoid(),
)
IMAGE = nn.Sequential(
    nn.ZeroPad2d((1, 2, 0, 1)), nn.Conv2d(3, 8, 3), nn.InstanceNorm2d(8), nn.ReLU6(), nn.Dropout2d(0.1),
    nn.PixelShuffle(2), nn.ReflectionPad2d(1), nn.ConstantPad2d(2, 0.5), nn.Upsample(scale_factor=0.5, mode="bilinear"),
    nn.PixelUnshuffle(2), nn.AdaptiveMaxPool2d((2, 3)), nn.Hardtanh(-0.5, 2.0), nn.Softplus(beta=2.0),
    nn.SELU(), nn.CELU(0.5), nn.Softsign(), nn.Tanhshrink(), nn.Softshrink(0.1), nn.Hardshrink(0.2),
    nn.LogSigmoid(), nn.Softmin(dim=1),
)
SEQUENCE = nn.Sequential(
    nn.ConvTranspose1d(4, 6, 2, stride=2), nn.InstanceNorm1d(6, track_running_stats=True), nn.Dropout1d(0.1),
    nn.ReflectionPad1d(2), nn.ReplicationPad1d((0, 3)), nn.ZeroPad1d(1), nn.ConstantPad1d(1, -1.0),
    nn.CircularPad1d(2), nn.AvgPool1d(2), nn.AdaptiveMaxPool1d(4), nn.AdaptiveAvgPool1d(4), nn.GLU(dim=1),
    nn.Upsample(scale_factor=2, mode="linear"),
)
TOKENS = nn.Sequential(
    nn.RMSNorm(16), nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, batch_first=True, norm_first=True),
    nn.TransformerEncoder(
        nn.TransformerEncoderLayer(16, 4, 24, dropout=0.0, activation="gelu", batch_first=True),
        num_layers=2, norm=nn.LayerNorm(16), enable_nested_tensor=False,
    ),
    nn.RMSNorm((6, 16), eps=1e-6, elementwise_affine=False),
)
MODELS = {"volume": (VOLUME, (2, 8, 8, 8)), "image": (IMAGE, (3, 12, 12)), "sequence": (SEQUENCE, (4, 8)),
          "tokens": (TOKENS, (6, 16))}


@pytest.mark.parametrize("name", list(MODELS))
def test_a_model_of_newer_layers_imports_block_for_block_with_identical_outputs(name):
    module, shape = MODELS[name]
    result = import_module(module.eval(), [(shape, "float32")], name=name)
    assert result.custom_blocks == 0, result.summary()
    assert result.outputs_match and result.params == result.original_params, result.summary()
    types = [b.type for b in result.project.graph.blocks.values() if b.type not in ("input", "output")]
    assert types == [MODULES[type(m)][0] for m in module]


def test_a_layer_studio_cannot_express_falls_back_to_a_custom_module_block():
    module = nn.Sequential(nn.Upsample(size=(5, 7)), nn.Flatten())
    result = import_module(module, [((3, 4, 4), "float32")], name="sized")
    assert result.custom_blocks == 1 and result.outputs_match
