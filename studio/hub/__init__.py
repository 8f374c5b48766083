"""Pretrained models: torchvision's registry, weights in torch's cache, torch.hub repositories.

No Qt. Importing this package imports no torch; each module imports it when used.

* :mod:`studio.hub.models` — torchvision's classification models, weights and layouts.
* :mod:`studio.hub.weights` — ``cached_path``, ``ensure_weights`` (progress, cancel),
  ``check_weights_file``, ``prepare_graph_weights``.
* :mod:`studio.hub.repos` — torch.hub repositories: entry points, kwargs, trust prompt.
* :mod:`studio.hub.transfer` — ``new_head``, ``preprocessing_for``.
* ``studio weights`` (:mod:`studio.cli.weights`): fetch what a project needs, with a progress bar.
"""
