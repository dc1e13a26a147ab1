"""The shape of the `utils` package: its layers (import-linter) and the size of its parts.

DESIGN.md: a layer imports only from the layers below it, never in a circle;
one concept per module, short enough to read in one sitting (about 300
lines), and functions short enough to take in at once (about 60 lines). The
exceptions are named below, each with the reason it is better whole.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import tomllib

import pytest

from tests.conftest import ROOT

MAX_MODULE_LINES = 300
MAX_FUNCTION_LINES = 60

# Modules allowed over MAX_MODULE_LINES, and why.
LONG_MODULES = {
    "utils/checks/lstm_language_model.py":
        "one module per lab (DESIGN.md): the lab's checks share their fixtures, and each "
        "check lists the plausible wrong answers it catches",
    "utils/checks/maximum_likelihood.py":
        "one module per lab (DESIGN.md), as above",
    "utils/checks/adapt_and_evaluate.py":
        "one module per lab (DESIGN.md), as above",
    "utils/data/corpus/grammar.py":
        "the word lists and one transition table per sentence family; a family's words "
        "and probabilities read best side by side",
    "utils/lm/benchmark.py":
        "a self-contained command: the reference loop re-implemented next to the "
        "comparison, so both can be read together",
}

# Functions allowed over MAX_FUNCTION_LINES ("path::name"), and why.
LONG_FUNCTIONS = {
    "utils/lm/benchmark.py::run_benchmark":
        "one run's interleaved schedule of both loops; split up, the alternation that "
        "keeps both loops on the same machine load is hard to follow",
    "utils/lm/training.py::_train":
        "the training loop itself, read top to bottom as chapter 4 describes it",
    "utils/checks/lstm_language_model.py::check_train_step":
        "one exercise's cases in order, each a plausible wrong answer",
    "utils/checks/lstm_language_model.py::check_sample_with_temperature":
        "one exercise's cases in order, each a plausible wrong answer",
}


def _modules() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "utils").rglob("*.py"))


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


@pytest.mark.parametrize("path", _modules())
def test_module_is_short_enough_to_read_in_one_sitting(path):
    lines = len((ROOT / path).read_text(encoding="utf-8").splitlines())
    if path in LONG_MODULES:
        return
    assert lines <= MAX_MODULE_LINES, (
        f"{path} has {lines} lines (> {MAX_MODULE_LINES}): split it by concern, or add it "
        "to LONG_MODULES with the reason it is better whole")


@pytest.mark.parametrize("path", _modules())
def test_functions_are_short(path):
    too_long = {name: n for name, n in _long_functions(path).items() if name not in LONG_FUNCTIONS}
    assert not too_long, (
        f"functions over {MAX_FUNCTION_LINES} lines: {too_long}; split them, or add them to "
        "LONG_FUNCTIONS with the reason each is better whole")

