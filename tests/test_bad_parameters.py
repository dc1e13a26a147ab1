"""A bad parameter stops each notebook at once, with a message naming it (papermill)."""

import papermill as pm
import pytest

from tests.conftest import NOTEBOOKS, ROOT, SOLUTION_LABS, ids, parameters_cell, read_notebook

RUNNABLE = NOTEBOOKS + SOLUTION_LABS


@pytest.mark.slow
@pytest.mark.parametrize("path", RUNNABLE, ids=ids(RUNNABLE))
def test_bad_parameter_stops_before_any_heavy_work(path):
    cell = parameters_cell(read_notebook(path))
    name = cell.source.split("=")[0].split(":")[0].strip()
    with pytest.raises(pm.PapermillExecutionError) as error:
        pm.execute_notebook(str(path), None, parameters={name: "not a valid value"},
                            cwd=str(path.parent), progress_bar=False)
    assert error.value.ename == "ParameterError"
    assert f"parameter '{name}' must be" in error.value.evalue
    assert "got 'not a valid value'" in error.value.evalue
    # papermill numbers cells from 0 and injects its own right after `parameters`:
    # the failure must come from the validation cell just after that.
    index = read_notebook(path).cells.index(cell)
    assert error.value.cell_index == index + 2, "the notebook did work before validating"


def test_runnable_notebooks_found():
    assert any(p.parent == ROOT / "notebooks" for p in RUNNABLE)
