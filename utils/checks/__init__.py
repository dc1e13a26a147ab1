"""Exercise checks: test a student's function on fresh random inputs.

A check calls the student's code, compares its behaviour with a reference and
either prints a short success line or raises `CheckFailed` with a message
that says what is wrong ("your probabilities sum to 0.83, not 1") without
printing the expected answer. Each lab has its own module of checks here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import torch


class ExerciseNotImplemented(NotImplementedError):
    """Raised by an exercise stub that the student has not filled in yet."""


class CheckFailed(AssertionError):
    """A student's answer behaves differently from what the exercise asks."""


def not_implemented(exercise: str) -> NoReturn:
    """Stand-in body of an exercise in the student notebook."""
    raise ExerciseNotImplemented(
        f"Exercise '{exercise}' is not implemented yet. Replace the line "
        f"`not_implemented(\"{exercise}\")` with your code, run the cell, then run its check."
    )


def fail(message: str) -> NoReturn:
    """Stop a check with feedback for the student."""
    raise CheckFailed(message)


def passed(exercise: str, n_cases: int) -> None:
    """Report a passed check."""
    print(f"✅ {exercise}: passed all {n_cases} checks.")


def call(fn: Callable[..., Any], *args: Any, exercise: str) -> Any:
    """Call the student's function, turning a crash into feedback (stubs pass through)."""
    try:
        return fn(*args)
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
