"""Exercise checks, one module per lab, named after the lab (``utils.checks.warmup`` for lab 00).

Every check returns a `CheckResult` and records it where a grader can collect
it (see ``utils.checks._core``). Layer: top; uses everything below it.
"""

from __future__ import annotations

from utils.checks._core import (  # noqa: F401
    RESULTS_ENV,
    CheckFailed,
    CheckResult,
    ExerciseNotImplemented,
    exercise_check,
    not_implemented,
)

__all__ = [
    "RESULTS_ENV",
    "CheckFailed",
    "CheckResult",
    "ExerciseNotImplemented",
    "exercise_check",
    "not_implemented",
]
