"""The training runtime: plain functions shared by Studio's trainer and the exported train.py.

Only the standard library and torch (torchvision inside the functions that read images), no
Studio imports: the script export copies these functions' source (`inspect.getsource`) into
train.py, so the file a user takes home runs the very code the window trains with, and the two
cannot drift apart. Settings come in as plain values and dicts (train.py holds them as a literal
`SETTINGS = {...}` a reader can edit). Cross-module names are imported one by one (`from
.metrics import class_hits`), so the copied functions find each other in one file.

This package's `__init__` imports nothing: `tables` (CSV text, standard library only) is read
by the torch-free `studio.training.signatures`.
"""
