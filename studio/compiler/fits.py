"""Does the model fit in this computer's memory? Answered from the analysis (meta tensors, so
nothing is allocated) before anything is built.

A project can declare a model far larger than any memory (a module repeated 256 times inside
one repeated 256 times inside another: 69.8 G parameters, 279 GB); building it used to grow
until the system killed it, or abort with no message. The check refuses it instead, with the
numbers. This is the simple bound from the declarations and shapes; the per-block memory
estimate (activations, optimizer state by kind) is :mod:`studio.compiler.memory`'s.
"""

from __future__ import annotations

from studio.graph.files import memory_budget
from studio.graph.validation import WARNING, Diagnostic

#: training keeps the weights, their gradients and (Adam) two moments: about 4x the weights
TRAINING_FACTOR = 4


def _gb(n: int) -> str:
    return f"{n / 1e9:,.1f} GB"


def size_problems(params: int, size_bytes: int, memory: int | None = None) -> list[Diagnostic]:
    """An error when the weights alone exceed the memory (the model cannot be built), a
    warning when training them (about 4x) would."""
    memory = memory_budget() if memory is None else memory
    if size_bytes > memory:
        return [Diagnostic(
            f"The model has {params:,} parameters ({_gb(size_bytes)}), more than this computer's "
            f"{_gb(memory)} of memory, so it cannot be built. Lower a module's repeat or a layer's size."
        )]
    if size_bytes * TRAINING_FACTOR > memory:
        return [Diagnostic(
            f"The model has {params:,} parameters ({_gb(size_bytes)}); training needs about "
            f"{TRAINING_FACTOR}x that (gradients, optimizer state), more than this computer's "
            f"{_gb(memory)} of memory.",
            severity=WARNING,
        )]
    return []
