"""The built-in block types. Importing this package registers them, category by category.

The order of MODULES is the palette's order (an explicit list: sorting imports must not
reorder the palette)."""

import importlib

MODULES = (
    "io",  # Input / Output
    "layers",  # Linear, convolution, pooling
    "resample",  # upsampling, pixel shuffle, padding
    "norm",  # normalisation, dropout
    "sequence",  # shape, embedding, recurrent, multi-head attention
    "attention",  # transformer parts: attention, encoder/decoder layers and stacks
    "positions",  # positional embeddings, class token
    "activations",
    "merges",
    "parameter",
    "preprocess",  # Standardize: the data's statistics inside the model
    "ops",  # generic tensor ops and the Custom module block
    "function",  # one call into torch, torch.nn.functional or a Tensor method
    "shared",  # Call again: a layer used twice
)  # then the hub's Backbone and Hub model (studio.blocks.registry.CONTRIBUTORS)

for _name in MODULES:
    importlib.import_module(f"{__name__}.{_name}")
