"""Shared paths and helpers for the tests."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Each notebook's py:percent twin, paired by jupytext from another folder so that
# a student sees each notebook once.
NOTEBOOK_TWIN_DIR = ROOT / "notebooks_py"
NOTEBOOK_TWINS = sorted(NOTEBOOK_TWIN_DIR.glob("*.py"))
LAB_SOURCES = sorted((ROOT / "labs" / "source").glob("*.py"))
STUDENT_LABS = sorted((ROOT / "labs").glob("*.ipynb"))
SOLUTION_LABS = sorted((ROOT / "labs" / "solutions").glob("*.ipynb"))
ALL_NOTEBOOKS = NOTEBOOKS + STUDENT_LABS + SOLUTION_LABS


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """A committed notebook, parsed."""
    return jupytext.read(path)


def parameters_cell(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The cell tagged `parameters`."""
    for cell in notebook.cells:
        if "parameters" in cell.metadata.get("tags", []):
            return cell
    raise AssertionError("no cell is tagged 'parameters'")


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(ROOT)) for p in paths]


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
