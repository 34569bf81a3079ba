"""The documentation site builds in strict mode and has a reference entry for every public name.

The site is built here, into a temporary folder, with `mkdocs build --strict`, which fails on any warning: a
broken cross-reference, a missing snippet, a public name without a docstring, math left unrendered
(docs/_hooks/hooks.py). The reference entries are read from the inventory mkdocstrings writes, `objects.inv`:
four header lines, then zlib-compressed lines `name domain:role priority uri display-name`, where a `uri`
ending in `$` stands for the uri followed by the name.

"Public" is computed here independently of the docs machinery: a module's `__all__` when it has one, otherwise
the names it defines (functions, classes, assignments) and the names it re-exports as `from ._x import Name as
Name`, without a leading underscore and without modules (submodules have their own page); the public submodules
are every module below `eqsnn` with no path component starting with `_`.
"""

from __future__ import annotations

import ast
import html
import importlib
import os
from pathlib import Path
import pkgutil
import re
import subprocess
import sys
import types
import zlib

import pytest

pytest.importorskip("mkdocs", reason="the docs build needs the `docs` extra: pip install -e '.[docs]'")
pytest.importorskip("material", reason="the docs build needs the `docs` extra (mkdocs-material)")
pytest.importorskip("mkdocstrings_handlers.python", reason="the docs build needs the `docs` extra (mkdocstrings)")

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- what should be documented
def public_modules() -> list[str]:
    import eqsnn

    names = ["eqsnn"]
    for info in pkgutil.walk_packages(eqsnn.__path__, "eqsnn."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def _defined_or_reexported(source: str) -> list[str]:
    names: list[str] = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names += [a.asname for a in node.names if a.asname is not None and a.asname == a.name]
    return names


def public_names(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    if hasattr(module, "__all__"):
        names = list(module.__all__)
    else:
        names = _defined_or_reexported(Path(module.__file__).read_text())
    return sorted({n for n in names if not n.startswith("_") and not isinstance(getattr(module, n), types.ModuleType)})


# --------------------------------------------------------------------------- the built site
def read_inventory(path: Path) -> dict[str, tuple[str, str]]:
    """`objects.inv` as `{name: (domain:role, uri)}`, with `$` in the uri expanded."""
    header = path.read_bytes().split(b"\n", 4)
    assert header[0] == b"# Sphinx inventory version 2", header[0]
    assert b"zlib" in header[3], header[3]
    entries: dict[str, tuple[str, str]] = {}
    for line in zlib.decompress(header[4]).decode().splitlines():
        m = re.fullmatch(r"(.+?)\s+(\S+:\S+)\s+(-?\d+)\s+(\S*)\s+(.*)", line)
        assert m, f"malformed inventory line: {line!r}"
        name, role, _priority, uri, _display = m.groups()
        if uri.endswith("$"):
            uri = uri[:-1] + name
        entries.setdefault(name, (role, uri))
    return entries


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"`mkdocs build --strict` failed:\n{proc.stdout}\n{proc.stderr}"
    return out


@pytest.fixture(scope="module")
def inventory(site) -> dict[str, tuple[str, str]]:
    return read_inventory(site / "objects.inv")


def page_text(site: Path, uri: str) -> str:
    page = uri.split("#", 1)[0]
    return (site / page / "index.html" if page.endswith("/") or not page else site / page).read_text()


# --------------------------------------------------------------------------- tests
def test_every_public_module_has_a_page(inventory):
    modules = public_modules()
    assert {"eqsnn", "eqsnn.neurons", "eqsnn.train"} <= set(modules)  # the discovery itself works
    missing = [m for m in modules if inventory.get(m, ("",))[0] != "py:module"]
    assert not missing, f"public modules without a reference page: {missing}"


@pytest.mark.parametrize("module_name", public_modules())
def test_every_public_name_has_a_reference_entry(site, inventory, module_name):
    names = public_names(module_name)
    missing = [n for n in names if f"{module_name}.{n}" not in inventory]
    assert not missing, f"{module_name}: public names without a reference entry: {missing}"
    for n in names:
        _, uri = inventory[f"{module_name}.{n}"]
        anchor = uri.split("#", 1)[1]
        assert f'id="{anchor}"' in page_text(site, uri), f"{module_name}.{n}: no anchor #{anchor} on {uri}"


def test_tutorial_page_includes_the_example_script(site):
    text = html.unescape(re.sub(r"<[^>]+>", "", page_text(site, "guides/bp-tutorial/")))
    script = (ROOT / "examples" / "bp_training.py").read_text()
    defs = re.findall(r"^def (\w+)\(", script, re.M)
    assert {"part_ann", "part_snn", "part_custom", "main"} <= set(defs)
    for name in defs:
        assert f"def {name}(" in text, f"the tutorial page lacks `def {name}`"


def test_index_shows_the_readme_commands():
    readme = (ROOT / "README.md").read_text().split("\n## ", 1)[0]  # the first screen
    commands = re.findall(r"```bash\n(.*?)```", readme, re.S)
    assert len(commands) == 2, commands
    index = (ROOT / "docs" / "index.md").read_text()
    for command in commands:
        assert f"```bash\n{command}```" in index, f"docs/index.md lacks the README command {command.strip()!r}"
