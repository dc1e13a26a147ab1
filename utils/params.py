"""Validate a notebook's parameters before any heavy work.

Every notebook and lab starts with a cell tagged `parameters` (papermill
replaces its values) and, right after it, one call to `validate`:

    params = validate(
        seed=Integer(seed, min=0),
        temperature=Real(temperature, min=0.0),
        device=OneOf(device, ["auto", "cpu", "cuda"]),
    )

A bad value stops the notebook with a `ParameterError` that names the
parameter, what was given and what is allowed. Explained in the README's
section for instructors.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from utils.i18n import _


class ParameterError(ValueError):
    """A notebook parameter has a value the notebook cannot use."""


def _fail(name: str, allowed: str, value: Any) -> None:
    raise ParameterError(_("parameter '{name}' must be {allowed}; got {value!r}").format(
        name=name, allowed=allowed, value=value))


@dataclass(frozen=True)
class Integer:
    """An integer parameter, optionally bounded (bounds included); NumPy integers count."""

    value: Any
    min: int | None = None
    max: int | None = None

    def check(self, name: str) -> int:
        allowed = _("an integer") + _bounds_text(self.min, self.max)
        if isinstance(self.value, bool) or not isinstance(self.value, numbers.Integral):
            _fail(name, allowed, self.value)
        if (self.min is not None and self.value < self.min) or (
            self.max is not None and self.value > self.max
        ):
            _fail(name, allowed, self.value)
        return int(self.value)


@dataclass(frozen=True)
class Real:
    """A finite real-number parameter, optionally bounded; NumPy numbers count.

    Bounds are included unless ``exclusive_min`` / ``exclusive_max`` say otherwise
    (a dropout rate may be 0 but not 1).
    """

    value: Any
    min: float | None = None
    max: float | None = None
    exclusive_min: bool = False
    exclusive_max: bool = False

    def check(self, name: str) -> float:
        allowed = _("a number") + _bounds_text(self.min, self.max, self.exclusive_min,
                                            self.exclusive_max)
        is_number = isinstance(self.value, numbers.Real) and not isinstance(self.value, bool)
        if not is_number or not math.isfinite(self.value):
            _fail(name, allowed, self.value)
        low_ok = self.min is None or (self.value > self.min if self.exclusive_min
                                      else self.value >= self.min)
        high_ok = self.max is None or (self.value < self.max if self.exclusive_max
                                       else self.value <= self.max)
        if not (low_ok and high_ok):
            _fail(name, allowed, self.value)
        return float(self.value)


@dataclass(frozen=True)
class OneOf:
    """A parameter that takes one of a fixed list of values."""

    value: Any
    choices: Sequence[Any]

    def check(self, name: str) -> Any:
        if self.value not in self.choices:
            choices = ", ".join(repr(c) for c in self.choices)
            _fail(name, _("one of {choices}").format(choices=choices), self.value)
        return self.value


@dataclass(frozen=True)
class Boolean:
    """A True/False parameter."""

    value: Any

    def check(self, name: str) -> bool:
        if not isinstance(self.value, bool):
            _fail(name, _("True or False"), self.value)
        return self.value


def _bounds_text(low: float | None, high: float | None, open_low: bool = False,
                 open_high: bool = False) -> str:
    if open_low or open_high:  # one-sided or half-open ranges, said with symbols
        parts = [f"{'>' if open_low else '>='} {low}"] if low is not None else []
        parts += [f"{'<' if open_high else '<='} {high}"] if high is not None else []
        return " " + _(" and ").join(parts)
    if low is not None and high is not None:
        return _(" between {low} and {high}").format(low=low, high=high)
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


class Params:
    """The validated parameters of one notebook run: read-only attributes."""

    def __init__(self, values: dict[str, Any]):
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(_("no parameter named '{name}'").format(name=name)) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(_("parameters are read-only; change them in the parameters cell"))

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a plain dictionary (for logging or a cache key)."""
        return dict(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"Params({inner})"


def validate(**specs: Integer | Real | OneOf | Boolean) -> Params:
    """Check every parameter against its spec; raise ParameterError on the first bad one.

    >>> params = validate(seed=Integer(7, min=0), temperature=Real(0.5, min=1e-3, max=100.0))
    >>> params.seed, params.temperature
    (7, 0.5)
    >>> validate(temperature=Real(-1, min=1e-3, max=100.0))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    utils.params.ParameterError: parameter 'temperature' must be a number between 0.001 ...; got -1
    """
    return Params({name: spec.check(name) for name, spec in specs.items()})
