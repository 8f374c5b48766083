import os

# The whole suite runs headless.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("STUDIO_NO_NETWORK", "1")
