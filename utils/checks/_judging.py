"""Helpers for judges: read a student's plain output as numbers, compare with a reference.

Each helper raises `utils.checks._core.Wrong` with a student-facing message
when the output is not what the exercise asks for (a string, a vector where a
number is expected, the wrong shape, NaN); none of them print a number derived
from the reference. Chapter: every lab.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.checks._core import Wrong
from utils.i18n import _

__all__ = ["as_array", "close", "expect_shape", "finite", "scalar"]


def as_array(output: Any, what: str = "your result") -> np.ndarray:
    """A float64 array from a plain output (array, number or nested list of numbers)."""
    if isinstance(output, bool) or output is None or isinstance(output, str | dict):
        raise Wrong(_("{what} should be a tensor of numbers, not {kind}").format(
            what=what, kind=_kind(output)))
    try:
        array = np.asarray(output, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(_("{what} should be a tensor of numbers, not {kind}").format(
            what=what, kind=_kind(output))) from None
    return array


def _kind(output: Any) -> str:
    if isinstance(output, np.ndarray):
        return _("an array of {dtype}").format(dtype=output.dtype)
    return {type(None): "None", str: _("a string"), dict: _("a dict"), bool: _("a bool"),
            list: _("a list of mixed things")}.get(type(output), type(output).__name__)


def expect_shape(array: np.ndarray, shape: tuple[int, ...], what: str = "your result") -> None:
    if tuple(array.shape) != tuple(shape):
        raise Wrong(_("{what} has shape {shape}, expected {shape2}").format(
            what=what, shape=tuple(array.shape), shape2=tuple(shape)))


def scalar(output: Any, what: str = "your result") -> float:
    """One number: a Python number or a 0-d tensor, not a vector with one element or more."""
    array = as_array(output, what)
    if array.shape != ():
        raise Wrong(_("{what} should be a single number (a 0-d tensor), "
                      "not a tensor of shape {shape}").format(what=what, shape=tuple(array.shape)))
    return float(array)


def finite(array: np.ndarray, what: str = "your result") -> None:
    if np.isnan(array).any():
        raise Wrong(_("{what} contains NaN").format(what=what))
    if np.isinf(array).any():
        raise Wrong(_("{what} contains an infinity").format(what=what))


def close(value: np.ndarray, reference: np.ndarray, atol: float = 1e-6,
          rtol: float = 1e-6) -> bool:
    """Equal within tolerance; the same infinity counts as equal, NaN never does."""
    value, reference = np.asarray(value, np.float64), np.asarray(reference, np.float64)
    if value.shape != reference.shape:
        return False
    same_inf = np.isinf(value) & np.isinf(reference) & (value == reference)
    with np.errstate(invalid="ignore"):
        ok = np.abs(value - reference) <= atol + rtol * np.abs(reference)
    return bool(np.all(ok | same_inf))
