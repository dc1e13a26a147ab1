"""More readers of a student's plain output for judges: arrays of a shape, tuples, token lists.

Used by the checks of labs 06 to 09, beside ``utils.checks._judging``. Each
reader returns the output in the form the judge compares or raises `Wrong`
with a message about the student's own output, never about the reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from utils.checks._core import Wrong
from utils.checks._judging import as_array, close, scalar
from utils.i18n import _

__all__ = ["array", "close", "diagnose", "items", "scalar", "tokens"]


def _kind(value: Any) -> str:
    return _("None (did the function `return` its result?)") if value is None \
        else _("a {type_name}").format(type_name=type(value).__name__)


def array(value: Any, what: str = "your result", shape: tuple[int, ...] | None = None
          ) -> np.ndarray:
    """``value`` as a float64 array, of ``shape`` when given (a single number is named so)."""
    out = as_array(value, what)
    if shape is not None and out.shape != tuple(shape):
        if out.size == 1 and len(shape) > 0:
            raise Wrong(_("{what} is a single number; it should have shape {shape}").format(
                what=what, shape=tuple(shape)))
        raise Wrong(_("{what} has shape {shape}; it should have shape {shape2}").format(
            what=what, shape=out.shape, shape2=tuple(shape)))
    return out


def items(value: Any, n: int, what: str) -> list[Any]:
    """``value`` as a list of exactly ``n`` items (a returned tuple arrives as a list)."""
    if not isinstance(value, list) or len(value) != n:
        count = _(" of {n_given}").format(n_given=len(value)) if isinstance(value, list) else ""
        raise Wrong(_("return {n} values as a tuple, {what}; yours is {kind}{count}").format(
            n=n, what=what, kind=_kind(value), count=count))
    return value


def tokens(value: Any, n: int | None = None) -> list[str]:
    """``value`` as a list of strings (of ``n`` of them when given)."""
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise Wrong(_("return a list of tokens (strings); yours is {kind}").format(
            kind=_kind(value)))
    if n is not None and len(value) != n:
        raise Wrong(_("return one token per input token: {n} of them; yours has {n_given}").format(
            n=n, n_given=len(value)))
    return value


def diagnose(got: np.ndarray, wrong: dict[str, Any], atol: float, rtol: float = 0.0) -> None:
    """Raise the message of the first plausible mistake whose result ``got`` matches.

    A tuple of candidates stands for several forms of the same mistake.
    """
    for message, candidates in wrong.items():
        for candidate in candidates if isinstance(candidates, tuple) else (candidates,):
            if close(got, np.asarray(candidate, dtype=np.float64), atol=atol, rtol=rtol):
                raise Wrong(message)
