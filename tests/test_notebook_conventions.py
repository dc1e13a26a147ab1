"""Conventions every committed notebook follows (ARCHITECTURE.md, "Notebooks and labs")."""

import ast
import re

import pytest
from jupytext.compare import compare_notebooks

from tests.conftest import (
    ALL_NOTEBOOKS,
    LAB_SOURCES,
    NOTEBOOK_TWIN_DIR,
    NOTEBOOK_TWINS,
    NOTEBOOKS,
    ids,
    parameters_cell,
    read_notebook,
)
from utils.notebook.colab import SETUP_CELL


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_notebook_and_its_text_twin_are_in_sync(path):
    twin = NOTEBOOK_TWIN_DIR / path.with_suffix(".py").name
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
    body = ast.parse(cell.source).body
    untyped = [node.targets[0].id for node in body if isinstance(node, ast.Assign)]
    assert not untyped, f"parameters without a type annotation (`name: type = value`): {untyped}"
    assigned = [node.target.id for node in body if isinstance(node, ast.AnnAssign)]
    assert assigned, "the parameters cell assigns nothing"
    undocumented = [line for line in lines if "=" in line and "#" not in line]
    assert not undocumented, f"parameters without a comment saying what they accept: {undocumented}"
    # papermill reads the help from the comment and stops at an "=": keep it out.
    bad_help = [line for line in lines if "=" in line.partition("#")[2]]
    assert not bad_help, f"a help comment contains '=', which hides it from papermill: {bad_help}"
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


def test_package_version_is_the_one_the_colab_cell_installs(root):
    import tomllib

    from utils.notebook.colab import COURSE_VERSION, SETUP_CELL

    version = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"]
    assert version == COURSE_VERSION
    assert f"@v{version}" in SETUP_CELL


def test_explorer_slider_labels_are_not_cut_short():
    # ipywidgets' default label width shows "temperature" as "temperat…".
    import ipywidgets

    from utils.notebook import next_word_explorer

    explorer = next_word_explorer({"a": {"x": 0.5, "y": 0.5}, "b": {"x": 0.9, "y": 0.1}},
                                  setting_label="corpus size")
    sliders = [w for w in explorer.children[0].children if isinstance(w, ipywidgets.widget.Widget)]
    assert [s.description for s in sliders] == ["corpus size", "temperature"]
    assert all(s.style.description_width == "initial" for s in sliders)


def _shown_values(source: str) -> list[str]:
    """Calls whose value Jupyter would print: a cell's last statement, if a bare call."""
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    body = ast.parse("\n".join(lines)).body
    if body and isinstance(body[-1], ast.Expr) and isinstance(body[-1].value, ast.Call):
        return [ast.unparse(body[-1].value.func)]
    return []


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_no_cell_prints_a_random_generator(path):
    # torch.manual_seed returns the global generator; as a cell's last line it
    # prints "<torch._C.Generator object at 0x...>" to the student.
    shown = [name for c in read_notebook(path).cells if c.cell_type == "code"
             for name in _shown_values(c.source) if name.endswith("manual_seed")]
    assert not shown, f"assign the result of {shown} (e.g. `_ = torch.manual_seed(seed)`)"


def test_students_see_each_notebook_once(root):
    # The py:percent twins live in notebooks_py/, so the students' folder lists
    # each notebook once, and every notebook has exactly one twin there.
    assert not sorted((root / "notebooks").glob("*.py")), "a .py twin sits beside the notebooks"
    assert [p.stem for p in NOTEBOOK_TWINS] == [p.stem for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        formats = read_notebook(path).metadata["jupytext"]["formats"]
        assert formats == "notebooks///ipynb,notebooks_py///py:percent", path.name


# MyST markup that JupyterLab and Colab show raw: roles ({numref}`...`, {cite}`...`),
# labelled equations ("$$ (eq-x)"), targets ("(label)=") and directives ("```{note}").
MYST_MARKUP = re.compile(r"\{[a-z][\w:-]*\}`|^\$\$\s*\(|^\([\w-]+\)=\s*$|^(```|:::)\s*\{",
                         flags=re.MULTILINE)


def myst_markup(markdown: str) -> list[str]:
    """The lines of a Markdown cell that only the book would render.

    >>> myst_markup("As {numref}`Chapter %s <ch-x>` said,\\nplain [Chapter 8](../book/08_x.md)")
    ['As {numref}`Chapter %s <ch-x>` said,']
    >>> myst_markup("$$\\nx\\n$$ (eq-x)\\n(label)=\\n```{note}\\n```python")
    ['$$ (eq-x)', '(label)=', '```{note}']
    """
    return [line for line in markdown.splitlines() if MYST_MARKUP.search(line)]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_markdown_reads_the_same_in_jupyterlab_colab_and_the_book(path):
    raw = [line for c in read_notebook(path).cells if c.cell_type == "markdown"
           for line in myst_markup(c.source)]
    assert not raw, ("MyST markup that JupyterLab and Colab show raw; use a Markdown link "
                     f"([Chapter 8](../book/08_privacy.md)) or plain text: {raw}")


def test_a_role_is_caught_in_a_lab_source_too():
    # The lab builder copies Markdown through unchanged; the rule holds for its sources.
    sources = {p.name: "\n".join(c.source for c in read_notebook(p).cells
                                 if c.cell_type == "markdown") for p in LAB_SOURCES}
    assert sources and not {name: myst_markup(text) for name, text in sources.items()
                            if myst_markup(text)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=ids(NOTEBOOKS))
def test_the_book_folds_away_the_setup_and_validation_cells(path):
    # A page opens with its argument: the Colab set-up and the parameter checks
    # sit behind a toggle, while the parameters a reader may change stay in view.
    notebook = read_notebook(path)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    parameters = parameters_cell(notebook)
    validation = code[code.index(parameters) + 1]
    for name, cell in [("set-up", code[0]), ("validation", validation)]:
        assert "hide-cell" in cell.metadata.get("tags", []), f"the {name} cell is not folded"
    assert not {"hide-cell", "hide-input", "remove-cell", "remove-input"} & set(
        parameters.metadata.get("tags", [])), "the parameters cell must stay visible"
