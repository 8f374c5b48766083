"""The graph canvas: items that paint, a scene that follows the model, a view for gestures."""
