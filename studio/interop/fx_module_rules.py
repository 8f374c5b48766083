"""``nn`` module -> block: :data:`MODULES` maps a module class to its block type and a function
reading the block's parameters from the module's attributes (see :mod:`studio.interop.fx_rules`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import nn

from studio.interop.fx_rule_base import Unsupported, _require, square


def _conv(m: nn.Module) -> dict:
    _require(m.padding_mode == "zeros", f"padding_mode={m.padding_mode!r}")
    _require(not isinstance(m.padding, str), f"padding={m.padding!r}")
    return {
        "out_channels": m.out_channels,
        "kernel_size": square(m.kernel_size, "kernel_size"),
        "stride": square(m.stride, "stride"),
        "padding": square(m.padding, "padding"),
        "dilation": square(m.dilation, "dilation"),
        "groups": m.groups,
        "bias": m.bias is not None,
    }


def _conv_transpose(m: nn.Module) -> dict:
    _require(m.groups == 1 and square(m.dilation, "dilation") == 1, "groups or dilation")
    _require(m.padding_mode == "zeros", f"padding_mode={m.padding_mode!r}")
    return {
        "out_channels": m.out_channels,
        "kernel_size": square(m.kernel_size, "kernel_size"),
        "stride": square(m.stride, "stride"),
        "padding": square(m.padding, "padding"),
        "output_padding": square(m.output_padding, "output_padding"),
        "bias": m.bias is not None,
    }


def _pool(m: nn.Module) -> dict:
    _require(not getattr(m, "ceil_mode", False), "ceil_mode=True")
    _require(not getattr(m, "return_indices", False), "return_indices=True")
    _require(square(getattr(m, "dilation", 1), "dilation") == 1, "dilation")
    _require(getattr(m, "count_include_pad", True), "count_include_pad=False")
    _require(getattr(m, "divisor_override", None) is None, "divisor_override")
    k = square(m.kernel_size, "kernel_size")
    stride = square(m.stride, "stride") if m.stride is not None else k
    return {"kernel_size": k, "stride": 0 if stride == k else stride, "padding": square(m.padding, "padding")}


def _adaptive(m: nn.Module) -> dict:
    size = m.output_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    _require(None not in size, f"output_size={m.output_size}")
    return {"output_size": size}


def _batchnorm(m: nn.Module) -> dict:
    _require(m.track_running_stats, "track_running_stats=False")
    _require(m.momentum is not None, "momentum=None (cumulative average)")
    return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}


def _layernorm(m: nn.Module) -> dict:
    _require(not m.elementwise_affine or m.bias is not None, "bias=False")
    return {"dims": len(m.normalized_shape), "eps": m.eps, "elementwise_affine": m.elementwise_affine}


def _embedding(m: nn.Module) -> dict:
    _require(
        m.padding_idx is None and m.max_norm is None and not m.scale_grad_by_freq and not m.sparse,
        "padding_idx, max_norm, scale_grad_by_freq or sparse",
    )
    return {"num_embeddings": m.num_embeddings, "embedding_dim": m.embedding_dim}


def _prelu(m: nn.Module) -> dict:
    return {"per_channel": "one slope" if m.num_parameters == 1 else "per channel"}


def _no_indices(m: nn.Module) -> dict:
    _require(not m.return_indices, "return_indices=True")
    return {}


def _adaptive_n(dims: int) -> Callable[[nn.Module], dict]:
    def params(m: nn.Module) -> dict:
        size = m.output_size
        size = (size,) * dims if isinstance(size, int) else tuple(size)
        _require(None not in size, f"output_size={m.output_size}")
        return {"output_size": size}

    return params


def _instancenorm(m: nn.Module) -> dict:
    _require(m.momentum is not None, "momentum=None (cumulative average)")
    return {"eps": m.eps, "momentum": m.momentum, "affine": m.affine, "track_running_stats": m.track_running_stats}


def _rmsnorm(m: nn.Module) -> dict:
    return {"dims": len(m.normalized_shape), "eps": m.eps or 0.0, "elementwise_affine": m.elementwise_affine}


def _upsample(m: nn.Module) -> dict:
    _require(m.size is None, f"size={m.size}")
    _require(not m.align_corners and not m.recompute_scale_factor, "align_corners or recompute_scale_factor")
    scale = m.scale_factor
    if isinstance(scale, (tuple, list)):
        _require(len(set(scale)) == 1, f"scale_factor {tuple(scale)} differs between dimensions")
        scale = scale[0]
    return {"scale_factor": float(scale), "mode": m.mode}


def _pad(m: nn.Module) -> dict:
    padding = tuple(m.padding)
    params = {"padding": padding[:1] if len(set(padding)) == 1 else padding}
    if type(m).__name__.startswith("Constant"):  # ZeroPad is a ConstantPad too, without the value
        params["value"] = m.value
    return params


def _activation(m: nn.Module) -> str:
    """relu or gelu, as a function (``F.relu``, the default) or a module (``nn.GELU()``)."""
    act = m.activation
    for name, fn, cls in (("relu", F.relu, nn.ReLU), ("gelu", F.gelu, nn.GELU)):
        if act is fn or (type(act) is cls and getattr(act, "approximate", "none") == "none"):
            return name
    raise Unsupported("an activation other than relu or gelu")


def _transformer_layer(m: nn.Module) -> dict:
    """An encoder or decoder layer (the decoder's cross-attention is built alike)."""
    attn = m.self_attn
    _require(attn.batch_first, "batch_first=False (Studio's sequences are batch first)")
    _require(attn.in_proj_bias is not None and m.linear1.bias is not None, "bias=False")
    norms = [getattr(m, f"norm{i}") for i in (1, 2, 3) if hasattr(m, f"norm{i}")]
    _require(all(n.eps == 1e-5 for n in norms), f"layer_norm_eps={m.norm1.eps}")
    return {
        "nhead": attn.num_heads,
        "dim_feedforward": m.linear1.out_features,
        "dropout": m.dropout.p,
        "activation": _activation(m),
        "norm_first": m.norm_first,
    }


def _transformer_stack(layer_cls: type) -> Callable[[nn.Module], dict]:
    def params(m: nn.Module) -> dict:
        layer = m.layers[0]
        _require(isinstance(layer, layer_cls), f"layers that are not {layer_cls.__name__}")
        norm = m.norm
        _require(
            norm is None or (isinstance(norm, nn.LayerNorm) and norm.eps == 1e-5), "a final norm other than LayerNorm"
        )
        return {**_transformer_layer(layer), "num_layers": m.num_layers, "final_norm": norm is not None}

    return params


def _rnn(m: nn.Module) -> dict:
    _require(m.batch_first, "batch_first=False (Studio's sequences are batch first)")
    _require(m.bias, "bias=False")
    _require(not getattr(m, "proj_size", 0), f"proj_size={getattr(m, 'proj_size', 0)}")
    params = {
        "hidden_size": m.hidden_size, "num_layers": m.num_layers, "bidirectional": m.bidirectional,
        "dropout": m.dropout, "output": "sequence",
    }
    if isinstance(m, nn.RNN):
        params["nonlinearity"] = m.nonlinearity
    return params


def _mha(m: nn.Module) -> dict:
    _require(m.batch_first, "batch_first=False (Studio's sequences are batch first)")
    _require(m._qkv_same_embed_dim, "kdim or vdim other than embed_dim")
    _require(m.bias_k is None and not m.add_zero_attn, "add_bias_kv or add_zero_attn")
    bias = m.in_proj_bias is not None
    _require(bias == (m.out_proj.bias is not None), "a bias on only some projections")
    return {"num_heads": m.num_heads, "dropout": m.dropout, "bias": bias}


def _none(m: nn.Module) -> dict:
    return {}


MODULES: dict[type, tuple[str, Callable[[nn.Module], dict]]] = {
    nn.Linear: ("linear", lambda m: {"out_features": m.out_features, "bias": m.bias is not None}),
    nn.Conv1d: ("conv1d", _conv),
    nn.Conv2d: ("conv2d", _conv),
    nn.ConvTranspose2d: ("conv_transpose2d", _conv_transpose),
    nn.MaxPool1d: ("maxpool1d", _pool),
    nn.MaxPool2d: ("maxpool2d", _pool),
    nn.AvgPool2d: ("avgpool2d", _pool),
    nn.AdaptiveAvgPool2d: ("adaptive_avgpool2d", _adaptive),
    nn.BatchNorm1d: ("batchnorm1d", _batchnorm),
    nn.BatchNorm2d: ("batchnorm2d", _batchnorm),
    nn.LayerNorm: ("layernorm", _layernorm),
    nn.GroupNorm: ("groupnorm", lambda m: {"num_groups": m.num_groups, "eps": m.eps, "affine": m.affine}),
    nn.Dropout: ("dropout", lambda m: {"p": m.p}),
    nn.Flatten: ("flatten", lambda m: {"start_dim": m.start_dim, "end_dim": m.end_dim}),
    nn.Unflatten: ("unflatten", lambda m: {"dim": m.dim, "sizes": tuple(m.unflattened_size)}),
    nn.Embedding: ("embedding", _embedding),
    nn.Identity: ("identity", _none),
    nn.ReLU: ("relu", _none),
    nn.Sigmoid: ("sigmoid", _none),
    nn.Tanh: ("tanh", _none),
    nn.GELU: ("gelu", lambda m: {"approximate": m.approximate}),
    nn.SiLU: ("silu", _none),
    nn.LeakyReLU: ("leaky_relu", lambda m: {"negative_slope": m.negative_slope}),
    nn.ELU: ("elu", lambda m: {"alpha": m.alpha}),
    nn.PReLU: ("prelu", _prelu),
    nn.Softmax: ("softmax", lambda m: {"dim": m.dim}),
    nn.LogSoftmax: ("log_softmax", lambda m: {"dim": m.dim}),
    nn.Mish: ("mish", _none),
    nn.Hardswish: ("hardswish", _none),
    nn.Conv3d: ("conv3d", _conv),
    nn.ConvTranspose1d: ("conv_transpose1d", _conv_transpose),
    nn.ConvTranspose3d: ("conv_transpose3d", _conv_transpose),
    nn.MaxPool3d: ("maxpool3d", _pool),
    nn.AvgPool1d: ("avgpool1d", _pool),
    nn.AvgPool3d: ("avgpool3d", _pool),
    nn.AdaptiveAvgPool1d: ("adaptive_avgpool1d", _adaptive_n(1)),
    nn.AdaptiveAvgPool3d: ("adaptive_avgpool3d", _adaptive_n(3)),
    nn.AdaptiveMaxPool1d: ("adaptive_maxpool1d", lambda m: {**_adaptive_n(1)(m), **_no_indices(m)}),
    nn.AdaptiveMaxPool2d: ("adaptive_maxpool2d", lambda m: {**_adaptive_n(2)(m), **_no_indices(m)}),
    nn.AdaptiveMaxPool3d: ("adaptive_maxpool3d", lambda m: {**_adaptive_n(3)(m), **_no_indices(m)}),
    nn.BatchNorm3d: ("batchnorm3d", _batchnorm),
    nn.InstanceNorm1d: ("instancenorm1d", _instancenorm),
    nn.InstanceNorm2d: ("instancenorm2d", _instancenorm),
    nn.InstanceNorm3d: ("instancenorm3d", _instancenorm),
    nn.RMSNorm: ("rmsnorm", _rmsnorm),
    nn.Dropout1d: ("dropout1d", lambda m: {"p": m.p}),
    nn.Dropout2d: ("dropout2d", lambda m: {"p": m.p}),
    nn.Dropout3d: ("dropout3d", lambda m: {"p": m.p}),
    nn.Upsample: ("upsample", _upsample),
    nn.PixelShuffle: ("pixel_shuffle", lambda m: {"upscale_factor": m.upscale_factor}),
    nn.PixelUnshuffle: ("pixel_unshuffle", lambda m: {"downscale_factor": m.downscale_factor}),
    **{
        getattr(nn, f"{kind}Pad{dims}d"): (f"{kind.lower()}pad{dims}d", _pad)
        for kind in ("Zero", "Constant", "Reflection", "Replication", "Circular")
        for dims in (1, 2, 3)
    },
    nn.TransformerEncoderLayer: ("transformer_encoder_layer", _transformer_layer),
    nn.TransformerEncoder: ("transformer_encoder", _transformer_stack(nn.TransformerEncoderLayer)),
    nn.TransformerDecoderLayer: ("transformer_decoder_layer", _transformer_layer),
    nn.TransformerDecoder: ("transformer_decoder", _transformer_stack(nn.TransformerDecoderLayer)),
    nn.LSTM: ("lstm", _rnn),
    nn.GRU: ("gru", _rnn),
    nn.RNN: ("rnn", _rnn),
    nn.MultiheadAttention: ("multihead_attention", _mha),
    nn.ReLU6: ("relu6", _none),
    nn.Hardtanh: ("hardtanh", lambda m: {"min_val": m.min_val, "max_val": m.max_val}),
    nn.Hardsigmoid: ("hardsigmoid", _none),
    nn.Softplus: ("softplus", lambda m: {"beta": m.beta, "threshold": m.threshold}),
    nn.SELU: ("selu", _none),
    nn.CELU: ("celu", lambda m: {"alpha": m.alpha}),
    nn.GLU: ("glu", lambda m: {"dim": m.dim}),
    nn.LogSigmoid: ("logsigmoid", _none),
    nn.Softsign: ("softsign", _none),
    nn.Tanhshrink: ("tanhshrink", _none),
    nn.Softshrink: ("softshrink", lambda m: {"lambd": m.lambd}),
    nn.Hardshrink: ("hardshrink", lambda m: {"lambd": m.lambd}),
    nn.Softmin: ("softmin", lambda m: {"dim": m.dim}),
}


# --------------------------------------------------------------------------- kept whole
def _window_attention(m: nn.Module) -> dict:
    return {
        "dim": m.qkv.in_features, "window_size": list(m.window_size), "shift_size": list(m.shift_size),
        "num_heads": m.num_heads, "qkv_bias": m.qkv.bias is not None, "proj_bias": m.proj.bias is not None,
        "attention_dropout": m.attention_dropout, "dropout": m.dropout,
    }


_SWIN = "torchvision.models.swin_transformer."

#: classes fx cannot trace into (their forward calls torchvision's fx-wrapped functions, or
#: builds index tensors while it runs) that are kept whole as Custom module blocks, by
#: ``module.qualname``, with how to read their constructor's arguments back from an instance
KEPT_WHOLE: dict[str, Callable[[nn.Module], dict]] = {
    _SWIN + "ShiftedWindowAttention": _window_attention,
    _SWIN + "ShiftedWindowAttentionV2": _window_attention,
    _SWIN + "PatchMerging": lambda m: {"dim": m.dim},
    _SWIN + "PatchMergingV2": lambda m: {"dim": m.dim},
    "torchvision.models.maxvit.RelativePositionalMultiHeadAttention": lambda m: {
        "feat_dim": m.merge.out_features, "head_dim": m.head_dim, "max_seq_len": m.max_seq_len,
    },
}


def kept_whole(module: nn.Module) -> Callable[[nn.Module], dict] | None:
    cls = type(module)
    return KEPT_WHOLE.get(f"{cls.__module__}.{cls.__qualname__}")


def _rnn_constructor(m: nn.Module) -> dict:
    names = ["input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional"]
    names += ["proj_size"] if isinstance(m, nn.LSTM) else ["nonlinearity"] if isinstance(m, nn.RNN) else []
    return {name: getattr(m, name) for name in names}


#: classes whose constructor takes ``*args, **kwargs`` (so its signature names nothing), and
#: how to read their arguments back from an instance, for a Custom module block
CONSTRUCTORS: dict[type, Callable[[nn.Module], dict]] = {
    nn.LSTM: _rnn_constructor, nn.GRU: _rnn_constructor, nn.RNN: _rnn_constructor,
}


def constructor_of(module: nn.Module) -> Callable[[nn.Module], dict] | None:
    return kept_whole(module) or CONSTRUCTORS.get(type(module))
