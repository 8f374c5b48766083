"""The built-in block types. Importing this package registers them, category by category."""

from studio.blocks.catalogue import (  # noqa: F401
    activations,
    backbones,  # noqa: F401  (torchvision and torch.hub models)
    io,
    layers,
    merges,
    ops,  # noqa: F401  (generic ops and the Custom module block)
    parameter,
)
