"""The built-in block types. Importing this package registers them, category by category."""

from studio.blocks.catalogue import io, layers, activations, merges, parameter, backbones  # noqa: F401
