"""Interoperability with plain PyTorch: import a module as a project, export a project.

No Qt: the CLI and the GUI's File > Import / Export call the same functions.

Import (:mod:`studio.interop.fx_import`, :mod:`studio.interop.sources`)::

    loaded = load_model("torchvision:resnet18", {"num_classes": 10})   # runs a file spec's code
    result = import_module(loaded.module, loaded.default_inputs, name=loaded.name,
                           source=loaded.source, kwargs=loaded.kwargs)
    result.project, result.notes, result.summary()
    new_sd = remap_state_dict(original_state_dict, result.project)

Export (:mod:`studio.interop.exporters`)::

    export_project(project, "onnx", "model.onnx") -> ExportResult(path, format, notes)
"""
