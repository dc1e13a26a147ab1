"""The helpers of checks written before exercises became data (`utils.checks._core.Exercise`).

A legacy check is one function that calls the student's code and judges in
the same breath; `exercise_check` turns its outcome into a `CheckResult`.
Kept while the remaining labs' checks are rewritten as `Exercise` data. Chapter: every lab.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NoReturn

import torch

from utils.checks._core import (
    CheckFailed,
    CheckResult,
    ExerciseNotImplemented,
    passed_message,
    record,
)


def fail(message: str) -> NoReturn:
    """Stop a check with feedback for the student."""
    raise CheckFailed(message)


class _Passed(Exception):
    """Internal: carries the number of cases from `passed` to `exercise_check`."""

    def __init__(self, n_cases: int) -> None:
        super().__init__(n_cases)
        self.n_cases = n_cases


def passed(exercise: str, n_cases: int) -> NoReturn:
    """End a check successfully after ``n_cases`` cases (inside an `exercise_check`)."""
    raise _Passed(n_cases)


def exercise_check(exercise: str) -> Callable[[Callable[..., Any]], Callable[..., CheckResult]]:
    """Decorate a check: print the student's feedback, record and return a `CheckResult`."""

    def decorate(check: Callable[..., Any]) -> Callable[..., CheckResult]:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> CheckResult:
            try:
                check(*args, **kwargs)
            except _Passed as done:
                result = record(CheckResult(exercise, "passed", done.n_cases,
                                            passed_message(exercise, done.n_cases)))
                print(f"✅ {result.message}")
                return result
            except ExerciseNotImplemented as error:
                record(CheckResult(exercise, "not attempted", 0, str(error)))
                raise
            except CheckFailed as error:
                record(CheckResult(exercise, "failed", 0, str(error)))
                raise
            raise RuntimeError(f"the check for {exercise!r} ended without passing or failing")

        run.exercise = exercise  # type: ignore[attr-defined]
        return run

    return decorate


def call(fn: Callable[..., Any], *args: Any, exercise: str, **kwargs: Any) -> Any:
    """Call the student's function, turning a crash into feedback (stubs pass through)."""
    try:
        return fn(*args, **kwargs)
    except (ExerciseNotImplemented, CheckFailed):
        raise
    except Exception as error:  # the student's bug, reported as feedback
        fail(f"{exercise}: your function raised {type(error).__name__}: {error}")


def as_tensor(value: Any, exercise: str, what: str = "your result") -> torch.Tensor:
    """Accept a tensor, array or number from the student; reject anything else clearly."""
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except Exception:
        fail(f"{exercise}: {what} should be a tensor or an array of numbers, "
             f"not {type(value).__name__}")


def expect_shape(value: torch.Tensor, shape: tuple[int, ...], exercise: str) -> None:
    """Fail with a clear message when a result has the wrong shape."""
    if tuple(value.shape) != tuple(shape):
        fail(f"{exercise}: your result has shape {tuple(value.shape)}, expected {tuple(shape)}")


def worst_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """Largest absolute difference, ignoring places where both are the same infinity."""
    same_inf = torch.isinf(value) & torch.isinf(reference) & (value == reference)
    diff = (value - reference).abs()
    return float(torch.where(same_inf, torch.zeros_like(diff), diff).max())
