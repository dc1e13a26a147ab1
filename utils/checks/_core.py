"""What every exercise check shares: exercises as data, run apart from their judgement.

An `Exercise` is cases made from a seed, a `run` that calls the student's code
on a private copy of one case and returns plain data (`utils.checks._plain`),
and a `judge` that computes the reference from the case itself and compares.
`run_check` does all three in the student's kernel and prints one line
(``✅ softmax: passed all 12 cases.``) or raises `CheckFailed` with the judge's
message; the grader runs only `run` inside its sandbox and judges elsewhere
(`run_case` and `judge_case` are the two halves). Every outcome is a
`CheckResult`, appended as a JSON line to the file ``$COURSE_CHECK_RESULTS``
names, if set. Chapter: every lab.
"""

from __future__ import annotations

import copy
import json
import linecache
import os
import sys
import sysconfig
import traceback
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from utils.checks._forbid import ForbiddenCall, forbid
from utils.checks._plain import dumps, loads, to_plain
from utils.i18n import _

__all__ = ["RESULTS_ENV", "STATUSES", "Case", "CheckFailed", "CheckResult", "Exercise",
           "ExerciseNotImplemented", "ForbiddenCall", "Wrong", "checker", "forbid", "judge_case",
           "not_implemented", "passed_message", "record", "run_case", "run_check"]

RESULTS_ENV = "COURSE_CHECK_RESULTS"
STATUSES = ("passed", "failed", "not attempted")
Case = dict[str, Any]  # plain data only (see utils.checks._plain)


class _ShortTraceback:
    """In Jupyter, show only the message: the traceback would show the checker's source."""

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[1;31m{type(self).__name__}\x1b[0m: {self}"]


class ExerciseNotImplemented(_ShortTraceback, NotImplementedError):
    """Raised by an exercise stub that the student has not filled in yet."""


class CheckFailed(_ShortTraceback, AssertionError):
    """A student's answer behaves differently from what the exercise asks."""


class Wrong(Exception):
    """Raised inside a judge (or its helpers): the message is the judge's verdict."""


def not_implemented(exercise: str) -> NoReturn:
    """Stand-in body of an exercise in the student notebook."""
    raise ExerciseNotImplemented(
        _("Exercise '{exercise}' is not implemented yet. Replace the line "
          "`not_implemented(\"{exercise}\")` with your code, then run the cell again: "
          "the check at its end tests your function.").format(exercise=exercise)
    )


# ----------------------------------------------------------------------------- exercises
def _verdict(judge: Callable[[Case, Any], str | None]) -> Callable[[Case, Any], str | None]:
    """A judge that returns its message whether it returns it or raises `Wrong`."""
    if getattr(judge, "_returns_verdict", False):
        return judge

    def judged(case: Case, output: Any) -> str | None:
        try:
            return judge(case, output)
        except Wrong as wrong:
            return str(wrong)
        except Exception as error:  # noqa: BLE001 - output of a form the judge did not expect
            return _("your result has a form the check cannot read ({error_type}); "
                     "return what the exercise asks for").format(error_type=type(error).__name__)

    judged._returns_verdict = True  # type: ignore[attr-defined]
    judged.__name__ = getattr(judge, "__name__", "judge")
    return judged


@dataclass(frozen=True)
class Exercise:
    """One exercise of a lab as data: its cases, how to call the student, how to judge."""

    name: str  # as the lab's stub names it, e.g. "softmax"
    student_names: tuple[str, ...]  # what the student's notebook must define
    make_cases: Callable[[int], list[Case]]  # seed -> plain cases, deterministic
    run: Callable[[Mapping[str, Any], Case], Any]  # where student code runs; returns plain data
    judge: Callable[[Case, Any], str | None]  # trusted: None when right, else the message
    forbidden: tuple[str, ...] = ()  # dotted names of library functions the exercise forbids

    def __post_init__(self) -> None:
        object.__setattr__(self, "judge", _verdict(self.judge))


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check, as a grader records it."""

    exercise: str
    status: str  # one of STATUSES
    cases: int  # cases tried before the outcome was known
    message: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def __repr__(self) -> str:
        return f"CheckResult({self.exercise!r}, {self.status})"

    def _ipython_display_(self) -> None:
        """As a cell's last line, show nothing: the check has already printed its one line."""


def passed_message(exercise: str, n_cases: int) -> str:
    return (_("{exercise}: passed its one case.").format(exercise=exercise) if n_cases == 1
            else _("{exercise}: passed all {n_cases} cases.").format(
                exercise=exercise, n_cases=n_cases))


def record(result: CheckResult) -> CheckResult:
    """Append ``result`` as a JSON line to the file named by ``$COURSE_CHECK_RESULTS``, if set."""
    path = os.environ.get(RESULTS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(result)) + "\n")
    return result


# ----------------------------------------------------------------------------- running
_LIBRARY_DIRS = tuple(str(Path(p).resolve()) for p in {
    *(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
    str(Path(__file__).resolve().parents[1]),  # the course's own utils package
})


def _is_library(filename: str) -> bool:
    if filename.startswith("<frozen"):
        return True
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_LIBRARY_DIRS)


def where_in_student_code(tb: TracebackType | None) -> str:
    """", at line N of your code: `...`" for the last frame that is the student's, else ""."""
    frames = [f for f in traceback.extract_tb(tb) if not _is_library(f.filename)]
    if not frames:
        return ""
    frame = frames[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
    if not line:
        return _(", at line {lineno} of your code").format(lineno=frame.lineno)
    return _(", at line {lineno} of your code: `{line}`").format(lineno=frame.lineno, line=line)


def run_case(exercise: Exercise, namespace: Mapping[str, Any], case: Case) -> Any:
    """Call the student's code on a private copy of ``case``; return its plain output.

    This is the only step that runs student code. It raises `ExerciseNotImplemented`
    for a stub and `CheckFailed` (prefixed with the exercise's name) when the
    code raises, calls a forbidden function or returns something that has no
    plain form.
    """
    name = exercise.name
    missing = [n for n in exercise.student_names if n not in namespace]
    if missing:
        raise CheckFailed(_("{name}: `{missing}` is not defined; run its cell first").format(
            name=name, missing=missing[0]))
    private = loads(dumps(case))  # a fresh copy the student may do anything to
    try:
        with forbid(exercise.forbidden):
            output = exercise.run(namespace, private)
            try:
                plain = to_plain(output)
            except TypeError as error:
                raise CheckFailed(_("{name}: your function returned {error}").format(
                    name=name, error=error)) from None
    except (ExerciseNotImplemented, CheckFailed):
        raise
    except ForbiddenCall as error:
        raise CheckFailed(f"{name}: {error}{where_in_student_code(error.__traceback__)}") \
            from None
    except Exception as error:  # noqa: BLE001 - the student's bug, reported as feedback
        raise CheckFailed(_raised(name, error)) from None
    return loads(dumps(plain))  # exactly what the grader's judge would receive


def _raised(name: str, error: BaseException) -> str:
    return _("{name}: your function raised {error_type}: {error}{where}").format(
        name=name, error_type=type(error).__name__, error=error,
        where=where_in_student_code(error.__traceback__))


def judge_case(exercise: Exercise, case: Case, output: Any) -> str | None:
    """The trusted half: the judge's message for one case (prefixed), or None when right."""
    message = exercise.judge(copy.deepcopy(case), output)
    return None if message is None else _("{exercise}: {message}").format(
        exercise=exercise.name, message=message)


def run_check(exercise: Exercise, namespace: Mapping[str, Any], seed: int = 0) -> CheckResult:
    """Check the student's answer on every case of ``seed``; print one line or raise."""
    cases = exercise.make_cases(seed)
    try:
        for case in cases:
            message = judge_case(exercise, case, run_case(exercise, namespace, case))
            if message is not None:
                raise CheckFailed(message)
    except ExerciseNotImplemented as error:
        record(CheckResult(exercise.name, "not attempted", 0, str(error)))
        raise
    except CheckFailed as error:
        record(CheckResult(exercise.name, "failed", 0, str(error)))
        raise error.with_traceback(None) from None
    result = record(CheckResult(exercise.name, "passed", len(cases),
                                passed_message(exercise.name, len(cases))))
    print(f"✅ {result.message}", file=sys.stdout)
    return result


def checker(exercises: Mapping[str, Exercise], name: str) -> Callable[..., CheckResult]:
    """The notebook-facing ``check_<name>(answer, seed=0)`` of a one-function exercise."""
    exercise = exercises[name]

    def check(answer: Callable[..., Any], seed: int = 0) -> CheckResult:
        return run_check(exercise, {exercise.student_names[0]: answer}, seed)

    check.__name__ = check.__qualname__ = f"check_{name}"
    check.__doc__ = f"Check the lab's `{name}` on the cases of ``seed``: one line, or CheckFailed."
    check.exercise = name  # type: ignore[attr-defined]
    return check
