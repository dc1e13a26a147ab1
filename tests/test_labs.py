"""Labs: generated from one source, the student version stops only at exercise stubs."""

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import LAB_SOURCES, ROOT, STUDENT_LABS, ids
from utils.teaching.lab_builder import LabSourceError, split_solution, stale


def test_generated_lab_notebooks_are_up_to_date():
    assert LAB_SOURCES, "no lab sources found"
    assert not stale(), "generated labs are out of date: run `make labs`"


def test_solution_markers_become_a_named_stub():
    source = ("def f(x):\n    \'\'\'Doc.\'\'\'\n"
              "    # BEGIN SOLUTION f\n    return x + 1\n    # END SOLUTION\n")
    student, found = split_solution(source, student=True)
    solution, _ = split_solution(source, student=False)
    assert found
    assert "return x + 1" not in student and 'not_implemented("f")' in student
    assert "return x + 1" in solution and "SOLUTION" not in solution
    compile(student, "student", "exec")


@pytest.mark.parametrize("source", [
    "# BEGIN SOLUTION\nx = 1\n# END SOLUTION",  # no exercise name
    "# BEGIN SOLUTION a\nx = 1\n",  # never closed
    "x = 1\n# END SOLUTION",  # never opened
])
def test_malformed_markers_are_rejected(source):
    with pytest.raises(LabSourceError):
        split_solution(source, student=True)


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDENT_LABS, ids=ids(STUDENT_LABS))
def test_student_lab_stops_only_at_exercise_stubs(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [(i, output) for i, cell in enumerate(notebook.cells)
              for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors, "the student notebook ran without reaching any exercise stub"
    for index, error in errors:
        assert error.ename == "ExerciseNotImplemented", (
            f"cell {index} failed with {error.ename}: {error.evalue}")
        assert "is not implemented yet" in error.evalue
    stubs = sum('not_implemented("' in cell.source for cell in notebook.cells)
    assert len(errors) >= stubs, "some exercise stubs were never reached"


@pytest.mark.slow
def test_warmup_lab_with_other_parameters_passes_every_check():
    import papermill as pm

    out = pm.execute_notebook(str(ROOT / "labs/solutions/00_warmup.ipynb"), None,
                              parameters={"seed": 7, "temperature": 0.5, "n_samples": 500},
                              cwd=str(ROOT / "labs"), progress_bar=False)
    text = "".join(o.get("text", "") for c in out.cells for o in c.get("outputs", []))
    assert text.count("✅") == 4
