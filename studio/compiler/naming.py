"""Identifier cleaning lives on the ground floor, once: :mod:`studio.naming` (the standard
library only, so the pure layers use it too). This alias is not a second copy: it keeps the
interop modules' imports working (fx_build, fx_import, fx_hierarchy, fx_examples, exporters,
open_backbone, owned by other branches this session); delete it once they import
``studio.naming``."""

from studio.naming import Namespace, class_name, sanitize

__all__ = ["Namespace", "class_name", "sanitize"]
