"""The built-in block types. Importing this package registers them, category by category."""

from studio.blocks.catalogue import io, layers, activations, merges, parameter  # noqa: F401
from studio.blocks.catalogue import ops  # noqa: F401  (generic ops and the Custom module block)
from studio.blocks.catalogue import backbones  # noqa: F401  (torchvision and torch.hub models)
