"""What `papermill --help-notebook` lists is exactly what the validating cell checks.

For every notebook and lab, papermill's own parser (`papermill.inspect_notebook`)
must list each parameter the next cell passes to `validate(...)`, no more and
no fewer, each with a type and a help text. A help comment containing "="
makes papermill drop its parameter, and a missing annotation lists it as
untyped: both fail here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import papermill
import pytest

from tests.conftest import ALL_NOTEBOOKS, ids, parameters_cell, read_notebook

# The type papermill must report for a parameter, by the validator that checks it.
# OneOf accepts a choice of any type, so any reported type will do.
TYPE_OF_VALIDATOR = {"Integer": "int", "Real": "float", "Boolean": "bool", "OneOf": None}

# Notebooks without a `seed` parameter, and why.
WITHOUT_SEED = {
    "notebooks/01_foundation_models.ipynb": "plots published numbers; nothing is drawn at random",
}


def validated(notebook) -> dict[str, str]:
    """``{parameter: validator name}`` from the ``validate(...)`` call after the parameters cell."""
    code = [c for c in notebook.cells if c.cell_type == "code"]
    following = code[code.index(parameters_cell(notebook)) + 1]
    calls = [node for node in ast.walk(ast.parse(following.source))
             if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "validate"]
    assert len(calls) == 1, "the cell after `parameters` must call validate(...) once"
    checks = {}
    for keyword in calls[0].keywords:
        assert isinstance(keyword.value, ast.Call), f"{keyword.arg}= is not a validator call"
        checks[keyword.arg] = getattr(keyword.value.func, "id", "?")
    return checks


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_papermill_lists_exactly_the_validated_parameters(path: Path):
    listed = papermill.inspect_notebook(str(path))
    checks = validated(read_notebook(path))
    assert list(listed) == list(checks), (
        "papermill lists different parameters from those validate() checks "
        "(a help comment with '=' hides a parameter from papermill)")
    for name, info in listed.items():
        assert info["inferred_type_name"] not in (None, "None"), f"{name} has no type annotation"
        expected = TYPE_OF_VALIDATOR.get(checks[name], "?")
        if expected is not None:
            assert info["inferred_type_name"] == expected, (
                f"{name} is checked by {checks[name]} but annotated {info['inferred_type_name']}")
        assert info["help"] and info["help"].strip(), f"{name} has no help text"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_seed_comes_first_as_an_int(path: Path, root: Path):
    listed = papermill.inspect_notebook(str(path))
    if str(path.relative_to(root)) in WITHOUT_SEED and "seed" not in listed:
        return
    assert list(listed)[0] == "seed", "`seed: int = 0` must be the first parameter"
    assert listed["seed"]["inferred_type_name"] == "int"
    assert listed["seed"]["default"] == "0"


def test_a_help_comment_with_equals_would_be_caught(tmp_path: Path):
    # The failure this file guards against, reproduced: papermill drops `seed`.
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    cell = nbformat.v4.new_code_cell("seed: int = 0  # an integer >= 0\nn: int = 3  # how many")
    cell.metadata["tags"] = ["parameters"]
    notebook.cells = [cell, nbformat.v4.new_code_cell(
        "params = validate(seed=Integer(seed, min=0), n=Integer(n, min=1))")]
    path = tmp_path / "bad.ipynb"
    nbformat.write(notebook, path)
    assert list(papermill.inspect_notebook(str(path))) != list(validated(notebook))
