"""The untrusted side of the grader: run a submission, call it on the cases, send back plain data.

Explained in the instructor's guide. The grader starts ``python -I -m
utils.teaching.sandbox`` through `utils.teaching.isolate` (fresh empty folder,
namespaces, limits, an unprivileged user) and writes one request to its stdin,
in plain data (`utils.checks._plain`): the submitted notebook, the lab's checks
module and, per exercise, the cases to call it on (handed-out and hidden ones,
unlabelled). This process

1. imports the course's checks before any student code, and turns the
   notebook's own ``check_*`` calls into no-ops (their verdict would count for
   nothing here);
2. runs the notebook's code cells one by one (a cell that raises is recorded and
   the next one runs, as in a notebook);
3. for each exercise and case calls `utils.checks._core.run_case`: the
   exercise's ``run`` on a private copy, under its forbidden functions;
4. writes one plain-JSON line per exercise to the result channel (a copy of the
   original stdout; anything the student prints goes to stderr) and a last
   ``{"done": true}`` line.

Nothing here decides a grade: the grader judges the outputs in its own process
and treats every line as hostile. A process that the submission forks never
runs the rest of the notebook and never writes to the channel.
"""

from __future__ import annotations

import importlib
import io
import os
import signal
import sys
from typing import Any, BinaryIO

from utils.i18n import _

__all__: list[str] = []

_ORIGINAL_PID = os.getpid()
_MAX_MESSAGE = 2000


def _private_stdout() -> BinaryIO:
    """Keep the real stdout for results; send everything the student prints to stderr."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
    return channel


def _cells(notebook_json: str) -> list[str]:
    import nbformat

    notebook = nbformat.reads(notebook_json, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _as_python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _silence_notebook_checks(module: Any) -> None:
    """The notebook's ``check_softmax(softmax)`` lines: no-ops here, the grader judges itself."""
    for name in dir(module):
        if name.startswith("check_"):
            setattr(module, name, lambda *args, **kwargs: None)


def execute(cells: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run every code cell; return the namespace and each failing cell's error."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    errors = []
    for index, source in enumerate(cells):
        try:
            code = compile(_as_python(source), f"<cell {index}>", "exec")
            exec(code, namespace)  # the submission's own code, inside the sandbox
        except BaseException as error:  # noqa: BLE001 - a cell may raise anything, even SystemExit
            errors.append({"cell": index, "source": source,
                           "error": f"{type(error).__name__}: {error}"[:_MAX_MESSAGE]})
        if os.getpid() != _ORIGINAL_PID:  # a child the submission forked: stop it here
            os._exit(0)
    return namespace, errors


def _why_missing(name: str, errors: list[dict[str, Any]]) -> str:
    for error in errors:
        if f"def {name}" in error["source"] or f"{name} =" in error["source"]:
            return _("the cell defining `{name}` raised {error}").format(
                name=name, error=error['error'])
    if errors:
        return _("`{name}` is not defined; cell {cell} raised {error}").format(
            name=name, cell=errors[0]['cell'], error=errors[0]['error'])
    return _("`{name}` is not defined in the submission").format(name=name)


class _Watch:
    """An audit hook (it cannot be removed) that notices the student switching off the profile
    hook `utils.checks._forbid.forbid` relies on, while the student's code runs."""

    def __init__(self) -> None:
        import threading

        from utils.checks._forbid import forbid

        self.allowed = {forbid.__enter__.__code__, forbid.__exit__.__code__,
                        threading.Thread._bootstrap_inner.__code__}
        self.running = False
        self.tampered = ""
        self.active: Any = None  # the forbid block of the call in progress
        self.violations = 0
        enter = forbid.__enter__

        def watched_enter(block: Any) -> Any:
            self.active, self.violations = block, 0
            return enter(block)

        forbid.__enter__ = watched_enter
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if not (self.running and event in ("sys.setprofile", "sys.settrace")):
            return
        caught = len(getattr(self.active, "violations", ()))
        if caught > self.violations:  # the guard's own hook raised: Python switches it off
            self.violations = caught
            return
        if sys._getframe(1).f_code not in self.allowed:
            self.tampered = _("the submission called {event} while its function ran").format(
                event=event)


_watch: _Watch | None = None


def _speak_the_graders_language(code: str) -> None:
    """Messages made here speak the grader's language; the notebook's own set-up cell, which
    calls ``set_language`` for its reader, changes nothing (its report is the grader's)."""
    import utils.i18n

    utils.i18n.set_language(code)
    utils.i18n.set_language = lambda *args, **kwargs: None


def run_exercise(exercise: Any, namespace: dict[str, Any], errors: list[dict[str, Any]],
                 cases: list[Any]) -> dict[str, Any]:
    """Call the student's code on every case; one plain result per case."""
    from utils.checks._core import CheckFailed, ExerciseNotImplemented, run_case

    line: dict[str, Any] = {"exercise": exercise.name}
    missing = [n for n in exercise.student_names if n not in namespace]
    if missing:
        return {**line, "status": "crashed", "message": _why_missing(missing[0], errors)}
    objects = {name: namespace[name] for name in exercise.student_names}
    results = []
    for case in cases:
        _watch.running = True
        try:
            results.append({"output": run_case(exercise, objects, case)})
        except ExerciseNotImplemented as error:
            return {**line, "status": "not attempted", "message": str(error)[:_MAX_MESSAGE]}
        except CheckFailed as error:
            results.append({"raised": str(error)[:_MAX_MESSAGE]})
        except BaseException as error:  # noqa: BLE001 - SystemExit or worse from the student
            raised = _("{name}: your function raised {error_type}: {error}{where}").format(
                name=exercise.name, error_type=type(error).__name__, error=error, where="")
            results.append({"raised": raised[:_MAX_MESSAGE]})
        finally:
            _watch.running = False
        if os.getpid() != _ORIGINAL_PID:
            os._exit(0)
        if _watch.tampered:
            message, _watch.tampered = _watch.tampered, ""
            return {**line, "status": "tampered", "message": message}
    return {**line, "status": "ran", "results": results}


def _write(channel: BinaryIO, line: dict[str, Any]) -> None:
    from utils.checks._plain import dumps

    if os.getpid() != _ORIGINAL_PID:
        os._exit(0)
    try:
        data = dumps(line)
    except TypeError as error:  # cannot happen for run_case's outputs; never crash on it
        data = dumps({"exercise": line["exercise"], "status": "crashed",
                      "message": _("the result could not be sent: {error}").format(error=error)})
    channel.write(data + b"\n")
    channel.flush()


def main() -> int:
    channel = _private_stdout()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # too large a file: an error in its cell
    from utils.checks._plain import loads

    request = loads(sys.stdin.buffer.read())
    sys.stdin = io.StringIO("")
    _speak_the_graders_language(str(request.get("language", "en")))
    global _watch
    _watch = _Watch()
    module = importlib.import_module(request["checks_module"])  # before any student code
    exercises = dict(module.EXERCISES)
    _silence_notebook_checks(module)
    namespace, errors = execute(_cells(request["notebook"]))
    for item in request["exercises"]:
        _write(channel, run_exercise(exercises[item["name"]], namespace, errors, item["cases"]))
    _write(channel, {"exercise": "", "status": "done"})
    return 0


if __name__ == "__main__":
    code = main()
    os._exit(code)  # no atexit handlers or finalizers the submission registered
