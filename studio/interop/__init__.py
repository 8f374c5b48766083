"""Interoperability with plain PyTorch: import a module as a project, export a project.

No Qt: the CLI and the GUI's File > Import / Export call the same functions.

Import (:mod:`studio.interop.fx_import`, :mod:`studio.interop.sources`)::

    spec = parse_spec("torchvision:resnet18")        # or pkg.mod:Callable, path/file.py:Class
    if runs_user_file(spec): ...                      # ask first: loading a file runs its code
    result = import_spec(spec, {"num_classes": 10}, [((3, 224, 224), "float32")])
    result.project, result.notes, result.summary()
    # UntraceableError (fx's reason in .reason): offer import_spec(..., opaque=True)
    new_sd = remap_state_dict(original_state_dict, result.project)

Export (:mod:`studio.interop.exporters`)::

    FORMATS                                               # name -> label, suffix, uses_weights
    export_project(project, "onnx", "model.onnx", run=None) -> ExportResult(path, format, notes)

See docs/import-export.md.
"""
