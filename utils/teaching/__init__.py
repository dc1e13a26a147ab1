"""Teaching with the course: build labs, hand out per-student variants, grade a class.

Run ``python -m utils.teaching --help``; the instructor's guide in the book walks
through it, threat model included. Student code runs only in ``sandbox`` (behind
``isolate`` and ``jail``); ``grade`` judges its plain outputs. Variants need
papermill and a cluster needs dask (the ``authoring`` extra).
``python -m utils.teaching.translate`` writes every notebook's and lab's Chinese
copy from the Chinese edition's catalogues (``translate``).

Layer: top; the authors' and instructors' tools, which notebooks never import;
uses ``utils.checks``, ``utils.i18n`` (the report's and the messages' language),
``utils.notebook`` and ``utils.runtime`` (the model cache the sandbox may read).
"""

from __future__ import annotations

from utils.teaching.grade import (
    ExerciseGrade,
    Limits,
    grade_submission,
    grade_submissions,
    hidden_seed,
    lab_exercises,
)
from utils.teaching.lab_builder import LabSourceError, build, build_notebook, split_solution, stale
from utils.teaching.report import pass_rates, write_gradebook, write_html_report
from utils.teaching.variants import Variant, assign, derive_seed, read_manifest, read_roster

__all__ = [
    "ExerciseGrade", "LabSourceError", "Limits", "Variant", "assign", "build", "build_notebook",
    "derive_seed", "grade_submission", "grade_submissions", "hidden_seed", "lab_exercises",
    "pass_rates", "read_manifest",
    "read_roster", "split_solution", "stale", "write_gradebook", "write_html_report",
]
