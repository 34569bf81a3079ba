"""Griffe extension: eqsnn's conventions for what is public and where an attribute's docstring is.

* `from ._x import Name as Name` (a redundant alias) re-exports `Name`: the alias is public, as
  for type checkers. Modules with `__all__` keep exactly `__all__`.
* Dunder attributes (`__version__`) are not part of the documented API.
* A constant's docstring may be the `#:` comment lines right above it (Sphinx's convention,
  used for `eqsnn.data.DATA_ENV`).
* Display equations written on consecutive lines (`$$ a $$` then `$$ b $$`) are separated by a
  blank line: pymdownx.arithmatex renders a `$$...$$` block only when it is a paragraph of its
  own, and the docstrings stack equations that way.

Used by mkdocstrings (mkdocs.yml) and by docs/_hooks/hooks.py, so that the rendered reference
and the build's missing-docstring check agree on what "public" means.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

_STACKED_DISPLAY_MATH = re.compile(r"(\$\$[ \t]*)\n([ \t]*\$\$)")


def _separate_display_math(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = _STACKED_DISPLAY_MATH.sub(r"\1\n\n\2", obj.docstring.value)


class EqsnnConventions(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        _separate_display_math(obj)

    def on_alias_instance(self, *, node: ast.AST | griffe.ObjectNode, alias: griffe.Alias, **kwargs: Any) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for name in node.names:
                if name.name == alias.name and name.asname == name.name:
                    alias.public = True
                    return

    def on_attribute_instance(
        self, *, node: ast.AST | griffe.ObjectNode, attr: griffe.Attribute, **kwargs: Any
    ) -> None:
        if attr.name.startswith("__") and attr.name.endswith("__"):
            attr.public = False
            return
        if attr.docstring is not None or not isinstance(node, ast.AST) or attr.filepath is None:
            return
        if attr.filepath not in attr.lines_collection:
            return
        lines = attr.lines_collection[attr.filepath]
        comment: list[str] = []
        i = node.lineno - 2  # 0-based index of the line above the assignment
        while i >= 0 and lines[i].lstrip().startswith("#:"):
            comment.insert(0, lines[i].lstrip()[2:].strip())
            i -= 1
        if comment:
            attr.docstring = griffe.Docstring("\n".join(comment), lineno=i + 2, parent=attr)
            _separate_display_math(attr)
