"""Graph -> shapes, code and a runnable module. Imports torch, never Qt."""

from studio.compiler.analysis import Analysis, Totals, analyze
from studio.compiler.build import build_class, build_model
from studio.compiler.codegen import CompileError, GeneratedCode, generate, generate_steps


def input_specs(graph) -> list[tuple[str, tuple[int, ...], str]]:
    """``(name, shape without batch, dtype)`` of each Input block, in forward() order."""
    from studio.blocks.registry import ROLE_INPUT

    return [
        (b.name, tuple(b.params["shape"]), b.params["dtype"])
        for b in graph.blocks.values()
        if b.spec.role == ROLE_INPUT
    ]


__all__ = [
    "Analysis",
    "CompileError",
    "GeneratedCode",
    "Totals",
    "analyze",
    "build_class",
    "build_model",
    "generate",
    "generate_steps",
    "input_specs",
]
