"""Checks report to graders: one JSON line per check in the file $COURSE_CHECK_RESULTS names.

A right answer is recorded as "passed" with the number of cases tried, a
wrong one as "failed" with the student's feedback, a stub as "not
attempted"; the last two still raise, so a notebook run stops there. In
Jupyter those two exceptions show only their message (`_render_traceback_`),
never a traceback through the checker's source, which would give the
reference computation away.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from utils.checks import RESULTS_ENV, CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.warmup import check_softmax


def right(logits: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    return shifted.exp() / shifted.exp().sum(dim=-1, keepdim=True)


def unnormalised(logits: torch.Tensor) -> torch.Tensor:
    return logits.exp()


def stub(logits: torch.Tensor) -> torch.Tensor:
    not_implemented("softmax")


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_outcome_is_recorded_as_one_json_line(tmp_path, monkeypatch):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS_ENV, str(results))

    outcome = check_softmax(right, seed=3)
    with pytest.raises(CheckFailed):
        check_softmax(unnormalised, seed=3)
    with pytest.raises(ExerciseNotImplemented):
        check_softmax(stub, seed=3)

    passed, failed, stubbed = _lines(results)
    assert outcome.passed and outcome.status == "passed"
    assert set(passed) == {"exercise", "status", "cases", "message"}
    assert passed["exercise"] == "softmax" and passed["status"] == "passed"
    assert passed["cases"] == outcome.cases > 0
    assert str(passed["cases"]) in passed["message"]
    assert failed["exercise"] == "softmax" and failed["status"] == "failed"
    assert failed["message"].startswith("softmax") and "sum" in failed["message"]
    assert stubbed == {"exercise": "softmax", "status": "not attempted", "cases": 0,
                       "message": stubbed["message"]}
    assert "not implemented yet" in stubbed["message"]


def test_nothing_is_written_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert check_softmax(right, seed=0).passed
    assert list(tmp_path.iterdir()) == []


def test_results_append_across_runs(tmp_path, monkeypatch):
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(RESULTS_ENV, str(results))
    for seed in range(3):
        check_softmax(right, seed=seed)
    assert [line["status"] for line in _lines(results)] == ["passed"] * 3


def _run(source: str, tmp_path: Path) -> list[dict]:
    """Run one code cell in a fresh kernel; return the error output it raised."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    client = NotebookClient(notebook, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(Path.cwd())}})
    with pytest.raises(CellExecutionError):  # a failing check still stops the run
        client.execute()
    return [o for o in notebook.cells[0].outputs if o.output_type == "error"]


@pytest.mark.slow
def test_in_jupyter_a_failed_check_shows_only_its_message(tmp_path):
    errors = _run(
        "import torch\n"
        "from utils.checks.warmup import check_softmax\n"
        "check_softmax(lambda z: z.exp(), seed=0)\n", tmp_path)
    assert len(errors) == 1
    error = errors[0]
    assert error["ename"] == "CheckFailed"
    shown = "\n".join(error["traceback"])
    assert "softmax" in shown and "sum" in shown
    # No frames: neither the checker's file nor its source lines (the reference).
    assert "utils/checks" not in shown and "File " not in shown
    assert "torch.softmax" not in shown and "Traceback" not in shown
    assert len(error["traceback"]) == 1


@pytest.mark.slow
def test_in_jupyter_a_stub_shows_only_its_message(tmp_path):
    errors = _run(
        "from utils.checks import not_implemented\n"
        "not_implemented('softmax')\n", tmp_path)
    (error,) = errors
    assert error["ename"] == "ExerciseNotImplemented"
    assert len(error["traceback"]) == 1 and "not implemented yet" in error["traceback"][0]
    assert "utils/checks" not in error["traceback"][0]


def _outputs(source: str) -> list[dict]:
    """Run one code cell in a fresh kernel that is expected to succeed; return its outputs."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(source)]
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(Path.cwd())}}).execute()
    return notebook.cells[0].outputs


@pytest.mark.slow
def test_in_jupyter_a_passing_check_shows_one_line_and_no_repr():
    outputs = _outputs(
        "import torch\n"
        "from utils.checks.warmup import check_softmax\n"
        "check_softmax(lambda z: torch.softmax(z, -1), seed=0)\n")
    assert [o["output_type"] for o in outputs] == ["stream"]
    assert outputs[0]["text"] == "✅ softmax: passed all 5 cases.\n"


@pytest.mark.slow
def test_in_jupyter_a_student_error_points_at_the_student_line(tmp_path):
    (error,) = _run(
        "import torch\n"
        "from utils.checks.warmup import check_softmax\n"
        "def softmax(z):\n"
        "    weights = z.exp()\n"
        "    return weights / weights.sum(dim=3)\n"
        "check_softmax(softmax, seed=0)\n", tmp_path)
    shown = "\n".join(error["traceback"])
    assert error["ename"] == "CheckFailed" and "IndexError" in shown
    assert "line 5 of your code: `return weights / weights.sum(dim=3)`" in shown
