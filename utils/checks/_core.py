"""The machinery every exercise check shares: feedback, stubs and results a grader can collect.

A check calls the student's code on fresh random inputs, compares its
behaviour with a reference and either reports success or raises `CheckFailed`
with a message that says what is wrong ("your probabilities sum to 0.83, not
1") without printing the expected answer.

Every check is wrapped by `exercise_check`, which turns its outcome into a
`CheckResult` (exercise, status, cases tried, message). The result is returned
to the notebook and, when the environment variable named by
`RESULTS_ENV` points at a file, appended to it as one JSON line, so a grader
can collect results without reading the notebook's output. A failing check
still raises, so a "Run All" stops at the first wrong answer.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, NoReturn

import torch

RESULTS_ENV = "COURSE_CHECK_RESULTS"
STATUSES = ("passed", "failed", "not attempted")


class _ShortTraceback:
    """In Jupyter, show only the message: the traceback would show the checker's source."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}"]


class ExerciseNotImplemented(_ShortTraceback, NotImplementedError):
    """Raised by an exercise stub that the student has not filled in yet."""


class CheckFailed(_ShortTraceback, AssertionError):
    """A student's answer behaves differently from what the exercise asks."""


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, as a grader records it."""

    exercise: str
    status: str  # one of STATUSES
    cases: int  # test cases tried before the outcome was known
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:  # what Jupyter shows when the result is a cell's last line
        return f"CheckResult({self.exercise!r}, {self.status})"


def record(result: CheckResult) -> CheckResult:
    """Append ``result`` as a JSON line to the file named by ``$COURSE_CHECK_RESULTS``, if set."""
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(result)) + "\n")
    return result


def not_implemented(exercise: str) -> NoReturn:
    """Stand-in body of an exercise in the student notebook."""
    raise ExerciseNotImplemented(
        f"Exercise '{exercise}' is not implemented yet. Replace the line "
        f"`not_implemented(\"{exercise}\")` with your code, then run the cell again: "
        "the check at its end tests your function."
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
    """Decorate a check: print the student's feedback, record and return a `CheckResult`.

    A stub raises `ExerciseNotImplemented` (recorded as "not attempted"); a
    wrong answer raises `CheckFailed` (recorded as "failed"); both propagate,
    so a notebook run stops there.
    """

    def decorate(check: Callable[..., Any]) -> Callable[..., CheckResult]:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> CheckResult:
            try:
                check(*args, **kwargs)
            except _Passed as done:
                result = CheckResult(exercise, "passed", done.n_cases,
                                     f"{exercise}: passed all {done.n_cases} checks.")
                record(result)
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
