"""Conventions every committed notebook follows (DESIGN.md, "Notebooks and labs")."""

import ast

import pytest
from jupytext.compare import compare_notebooks

from tests.conftest import ALL_NOTEBOOKS, NOTEBOOKS, ids, parameters_cell, read_notebook
from utils.notebook.colab import SETUP_CELL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_and_its_text_twin_are_in_sync(path):
    twin = path.with_suffix(".py")
    assert twin.exists(), f"{path.name} has no py:percent twin; run `jupytext --sync {path}`"
    compare_notebooks(read_notebook(twin), read_notebook(path),
                      fmt="py:percent", allow_expected_differences=True)


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_committed_notebook_carries_no_outputs(path):
    notebook = read_notebook(path)
    dirty = [i for i, c in enumerate(notebook.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"cells {dirty} of {path.name} carry outputs; strip them before committing"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_first_code_cell_is_the_colab_setup(path):
    first = next(c for c in read_notebook(path).cells if c.cell_type == "code")
    assert first.source.strip() == SETUP_CELL.strip()


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_parameters_are_documented_and_validated_next(path):
    notebook = read_notebook(path)
    cell = parameters_cell(notebook)
    lines = [line for line in cell.source.splitlines() if line.strip()]
    assigned = [node.targets[0].id for node in ast.parse(cell.source).body
                if isinstance(node, ast.Assign)]
    assert assigned, "the parameters cell assigns nothing"
    undocumented = [line for line in lines if "=" in line and "#" not in line]
    assert not undocumented, f"parameters without a comment saying what they accept: {undocumented}"
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    following = code_cells[code_cells.index(cell) + 1].source
    assert "validate(" in following, "the cell after `parameters` must call utils.params.validate"
    for name in assigned:
        assert f"{name}=" in following, f"parameter '{name}' is not validated"


def test_setup_cell_installs_from_the_repository_the_book_names(root):
    import yaml

    from utils.notebook.colab import REPOSITORY_URL

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    assert config["repository"]["url"] == REPOSITORY_URL
