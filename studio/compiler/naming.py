"""Identifier cleaning moved to the ground floor (`studio.naming`: the standard library only, so
the pure layers can use it); this name stays for the compiler's and importers' imports."""

from studio.naming import Namespace, class_name, sanitize

__all__ = ["Namespace", "class_name", "sanitize"]
