"""MkDocs hooks: generate the API reference from the package itself, and fail on undocumented names.

* One reference page per public module (`eqsnn` and every module below it whose name does not
  start with `_`), each a single `::: module` directive: mkdocstrings renders the module's public
  names (its `__all__`, or its `Name as Name` re-exports and its own definitions), so a name or a
  module added to the package appears here without editing the docs.
* A public module or module-level name without a docstring is logged as a warning, which
  `mkdocs build --strict` turns into a failed build.
* So is a `$` left in a page's text outside code: math that pymdownx.arithmatex did not
  recognise (e.g. `$x = $`, with a space before the closing `$`) and that a reader would see raw.

"Public" is decided by docs/_hooks/griffe_eqsnn.py, the griffe extension mkdocstrings uses too.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path
import re

import griffe
from mkdocs.structure.files import File, Files

PACKAGE = "eqsnn"
SECTION = "API reference"
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

log = logging.getLogger(f"mkdocs.hooks.{PACKAGE}")
_modules: list[griffe.Module] = []


def _public_modules(mod: griffe.Module) -> list[griffe.Module]:
    """`mod` and its public submodules, depth first, alphabetical."""
    out = [mod]
    for name in sorted(mod.modules):
        sub = mod.modules[name]
        if not name.startswith("_") and not sub.is_alias:
            out += _public_modules(sub)
    return out


def _public_members(mod: griffe.Module) -> list[griffe.Object | griffe.Alias]:
    """The module-level names the reference page of `mod` documents (submodules excluded)."""
    return [obj for name, obj in mod.members.items() if obj.is_public and not obj.is_module]


def _page_uri(mod: griffe.Module) -> str:
    return f"reference/{mod.path}.md"


def _summary(obj: griffe.Object | griffe.Alias) -> str:
    """The first paragraph of the docstring, on one line, fit for a table cell."""
    first = obj.docstring.value.strip().split("\n\n", 1)[0] if obj.docstring else ""
    return " ".join(first.split()).replace("|", "\\|")


def _page(mod: griffe.Module) -> str:
    text = f"::: {mod.path}\n"
    subs = [m for m in _modules if m.parent is mod]
    if subs:
        text += "\n## Modules\n\n| | |\n|---|---|\n"
        text += "".join(f"| [`{m.path}`]({m.path}.md) | {_summary(m)} |\n" for m in subs)
    return text


def _check_docstrings() -> None:
    for mod in _modules:
        if not mod.docstring:
            log.warning(f"public module {mod.path} has no docstring")
        for obj in _public_members(mod):
            try:
                documented = bool(obj.docstring and obj.docstring.value.strip())
            except griffe.AliasResolutionError:
                log.warning(f"{mod.path}.{obj.name} re-exports {obj.target_path}, which cannot be found")
                continue
            if not documented:
                log.warning(f"public name {mod.path}.{obj.name} has no docstring")


_NOT_TEXT = re.compile(
    r"<(script|style|pre|code)\b.*?</\1>|<(span|div)\b[^>]*class=\"arithmatex\"[^>]*>.*?</\2>|<[^>]+>", re.S
)


def on_post_page(output: str, page, config) -> str:
    main = output.split("<article", 1)[-1].split("</article>", 1)[0]
    text = html.unescape(_NOT_TEXT.sub(" ", main))
    for m in re.finditer(r"\$", text):
        context = " ".join(text[max(0, m.start() - 50) : m.end() + 30].split())
        log.warning(f"{page.file.src_uri}: unrendered math (a raw '$' in the text): ...{context}...")
    return output


def on_config(config):
    extensions = griffe.load_extensions(str(HERE / "griffe_eqsnn.py"))
    pkg = griffe.load(PACKAGE, search_paths=[str(ROOT / "src")], extensions=extensions, resolve_aliases=True)
    _modules[:] = _public_modules(pkg)
    _check_docstrings()
    nav = [{m.path: _page_uri(m)} for m in _modules]
    config.nav = [item for item in (config.nav or []) if not (isinstance(item, dict) and SECTION in item)]
    config.nav.append({SECTION: nav})
    return config


def on_files(files: Files, config) -> Files:
    for mod in _modules:
        files.append(File.generated(config, _page_uri(mod), content=_page(mod)))
    return files
