"""Studio: build PyTorch models visually, train them live, export clean PyTorch code."""

__version__ = "0.1.0"
