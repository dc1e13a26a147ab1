"""The shape of the `utils` package: its layers (import-linter) and the size of its parts.

ARCHITECTURE.md: a layer imports only from the layers below it, no module
imports another that imports it back, and each subpackage's "Layer:" docstring
names what it imports; one concept per module, short enough to read in one
sitting (about 300 lines), and functions short enough to take in at once
(about 60 lines). The exceptions are named below, each with the reason it is
better whole, and an exception that is no longer needed fails too.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import pathlib
import re
import tomllib

import pytest

from tests.conftest import ROOT

MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60

# Modules allowed over MAX_MODULE_LINES, and why.
LONG_MODULES = {
    "utils/checks/lstm_language_model.py":
        "one module per lab (ARCHITECTURE.md): the lab's checks share their fixtures, and "
        "each check lists the plausible wrong answers it catches",
    "utils/checks/maximum_likelihood.py":
        "one module per lab (ARCHITECTURE.md), as above",
    "utils/checks/adapt_and_evaluate.py":
        "one module per lab (ARCHITECTURE.md), as above",
    "utils/data/corpus/grammar.py":
        "the word lists and one transition table per sentence family; a family's words "
        "and probabilities read best side by side",
}

# Functions allowed over MAX_FUNCTION_LINES ("path::name"), and why.
LONG_FUNCTIONS = {
    "utils/lm/training.py::_train":
        "the training loop itself, read top to bottom as chapter 4 describes it",
    "utils/checks/lstm_language_model.py::check_train_step":
        "one exercise's cases in order, each a plausible wrong answer",
    "utils/checks/lstm_language_model.py::check_sample_with_temperature":
        "one exercise's cases in order, each a plausible wrong answer",
}


def _modules() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "utils").rglob("*.py"))


def _subpackages() -> list[str]:
    return sorted(p.parent.name for p in (ROOT / "utils").glob("*/__init__.py"))


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _all_modules() -> dict[str, pathlib.Path]:
    return {_module_name(p): p for p in (ROOT / "utils").rglob("*.py")}


def _imported(path: pathlib.Path, modules: dict[str, pathlib.Path]) -> set[str]:
    """The ``utils`` modules (a package as its ``__init__``) that ``path`` imports.

    Imports anywhere in the file count, under ``if TYPE_CHECKING:`` and inside
    functions too: a cycle hidden there is still a cycle for the reader.
    ``from utils.a import b`` imports ``utils.a.b`` when that is a module, else ``utils.a``.
    """
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules
                      else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
    return {n for n in names if n in modules} - {_module_name(path)}


def _import_graph() -> dict[str, set[str]]:
    modules = _all_modules()
    return {name: _imported(path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _long_functions(path: str) -> dict[str, int]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {f"{path}::{node.name}": node.end_lineno - node.lineno + 1
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES}


def test_the_import_layers_hold():
    from importlinter.cli import lint_imports

    report = io.StringIO()
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stdout(report):
            status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True,
                                  no_logo=True)
    finally:
        os.chdir(cwd)
    assert status == 0, report.getvalue()
    assert re.search(r"1 kept, 0 broken", report.getvalue()), report.getvalue()


def test_every_subpackage_has_a_layer():
    # A new subpackage outside the contract would escape it silently.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    layers = config["tool"]["importlinter"]["contracts"][0]["layers"]
    named = {name.strip(" ()") for layer in layers for name in layer.split("|")}
    packages = {f"utils.{p.parent.name}" for p in (ROOT / "utils").glob("*/__init__.py")}
    packages |= {f"utils.{p.stem}" for p in (ROOT / "utils").glob("*.py") if p.stem != "__init__"}
    assert packages <= named, f"not in any layer of [tool.importlinter]: {packages - named}"


def test_no_module_imports_itself_through_others():
    # import-linter sees the layers; this sees modules inside one package too
    # (utils.data.corpus.config and .grammar once imported each other).
    assert not _cycles(_import_graph()), f"import cycles: {_cycles(_import_graph())}"


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", _subpackages())
def test_layer_docstring_names_what_the_package_imports(package):
    # The "Layer:" paragraph of utils/<package>/__init__.py names, as ``utils.x``,
    # exactly the other parts of utils that the package's modules import.
    init = ROOT / "utils" / package / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert "Layer:" in doc, f"utils/{package}/__init__.py: the docstring needs a 'Layer:' line"
    named = {n.split(".")[1] for n in re.findall(r"``(utils\.\w+)", doc.split("Layer:", 1)[1])}
    modules = _all_modules()
    imported = {n.split(".")[1] for p in (ROOT / "utils" / package).rglob("*.py")
                for n in _imported(p, modules) if n != "utils"} - {package}
    assert named == imported, (
        f"utils/{package}: the 'Layer:' line names {sorted(named)} but the package imports "
        f"{sorted(imported)}; make the docstring say what the code does")


@pytest.mark.parametrize("path", _modules())
def test_module_is_short_enough_to_read_in_one_sitting(path):
    lines = len((ROOT / path).read_text(encoding="utf-8").splitlines())
    if path in LONG_MODULES:
        return
    assert lines <= MAX_MODULE_LINES, (
        f"{path} has {lines} lines (> {MAX_MODULE_LINES}): split it by concern, or add it "
        "to LONG_MODULES with the reason it is better whole")


def test_every_size_exemption_is_still_needed():
    # An exemption outlives the long code it excused unless something notices.
    stale = [p for p in LONG_MODULES if not (ROOT / p).exists()
             or len((ROOT / p).read_text(encoding="utf-8").splitlines()) <= MAX_MODULE_LINES]
    long_now = {name for p in {n.split("::")[0] for n in LONG_FUNCTIONS} if (ROOT / p).exists()
                for name in _long_functions(p)}
    stale += [name for name in LONG_FUNCTIONS if name not in long_now]
    assert not stale, f"no longer over the limit (or gone): {stale}; remove their exemptions"


@pytest.mark.parametrize("path", _modules())
def test_functions_are_short(path):
    too_long = {name: n for name, n in _long_functions(path).items() if name not in LONG_FUNCTIONS}
    assert not too_long, (
        f"functions over {MAX_FUNCTION_LINES} lines: {too_long}; split them, or add them to "
        "LONG_FUNCTIONS with the reason each is better whole")

