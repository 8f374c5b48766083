"""The graph's error, in a module of its own so that both the model and the loader it uses
(:mod:`studio.graph.serialize`) can raise and catch it without importing each other."""


class GraphError(ValueError):
    """An edit that would make the graph inconsistent; the message is for the user."""
