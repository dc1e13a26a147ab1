"""Exercise checks, one module per lab, named after the lab (``utils.checks.warmup`` for lab 00).

Each module exposes ``EXERCISES`` (name -> `Exercise`: cases, a run that calls
the student's code, a judge) and the ``check_...`` functions its lab calls,
which run all three in the student's kernel and record a `CheckResult` where a
grader can collect it (see ``utils.checks._core``).

Layer: top, beside the notebook helpers; uses ``utils.adapt_and_evaluate``,
``utils.assistant``, ``utils.data``, ``utils.evaluate``, ``utils.fairness``,
``utils.i18n`` (a verdict speaks the notebook's language), ``utils.interpretability``,
``utils.lm``, ``utils.misuse``, ``utils.privacy`` and ``utils.runtime``.
"""

from __future__ import annotations

from utils.checks._core import (
    RESULTS_ENV,
    CheckFailed,
    CheckResult,
    Exercise,
    ExerciseNotImplemented,
    ForbiddenCall,
    forbid,
    not_implemented,
    run_check,
)

__all__ = [
    "RESULTS_ENV",
    "CheckFailed",
    "CheckResult",
    "Exercise",
    "ExerciseNotImplemented",
    "ForbiddenCall",
    "forbid",
    "not_implemented",
    "run_check",
]
