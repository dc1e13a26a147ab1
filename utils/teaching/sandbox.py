"""The two child processes of the grader: run a submission, then check it from a fresh start.

Explained in the instructor's guide. ``python -m utils.teaching.sandbox execute``
runs a submitted notebook's code cells one by one (a cell that raises is
recorded and the next one runs, as in a notebook) and sends back, pickled, the
objects the lab's checks need: the student's functions and whatever the check
calls use. ``python -m utils.teaching.sandbox check`` starts a new interpreter,
imports the course's checks first, unpickles those objects and runs every check
itself, with the seed from the instructor's manifest, printing one JSON line
per exercise. What the submission did to the checks in its own process (edited,
redefined, silenced them, printed a fake "passed") is gone.

Both run with the limits the grader sets (time, memory, no network where the
machine allows it) in a scratch folder. This is a process sandbox, not a
container: see the instructor's guide for what it does not stop.
"""

from __future__ import annotations

import io
import json
import os
import sys
import traceback
from types import SimpleNamespace
from typing import Any, BinaryIO

__all__: list[str] = []


def _private_stdout() -> BinaryIO:
    """Keep the real stdout for results; send everything the student prints to stderr."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
    return channel


def _cells(notebook_path: str) -> list[str]:
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def _as_python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def execute(notebook_path: str, names: list[str]) -> dict[str, Any]:
    """Run every code cell of the notebook; return its errors and the requested objects."""
    namespace: dict[str, Any] = {"__name__": "__submission__"}
    errors = []
    for index, source in enumerate(_cells(notebook_path)):
        try:
            code = compile(_as_python(source), f"<cell {index}>", "exec")
            exec(code, namespace)  # the submission's own code, inside the sandbox
        except BaseException as error:  # noqa: BLE001 - a cell may raise anything, even SystemExit
            if isinstance(error, KeyboardInterrupt):
                raise
            errors.append({"cell": index, "source": source,
                           "error": f"{type(error).__name__}: {error}"})
    found = {name: namespace[name] for name in names if name in namespace}
    return {"errors": errors, "objects": found}


def _send(channel: BinaryIO, payload: dict[str, Any]) -> None:
    import cloudpickle

    objects, unsendable = {}, {}
    for name, value in payload["objects"].items():
        try:
            objects[name] = cloudpickle.dumps(value)
        except Exception as error:  # noqa: BLE001
            unsendable[name] = f"{type(error).__name__}: {error}"
    channel.write(cloudpickle.dumps({"errors": payload["errors"], "objects": objects,
                                     "unsendable": unsendable}))
    channel.flush()


def check(spec: dict[str, Any], payload: dict[str, Any], channel: BinaryIO) -> None:
    """Run each check of ``spec`` on the unpickled objects; one JSON line per exercise."""
    import importlib
    import pickle

    from utils.checks._core import CheckFailed, ExerciseNotImplemented

    module = importlib.import_module(spec["checks_module"])  # before any student code runs
    namespace: dict[str, Any] = {name: getattr(module, name) for name in dir(module)
                                 if name.startswith("check_")}
    namespace["params"] = SimpleNamespace(**spec["parameters"])
    for exercise in spec["exercises"]:
        result = {"exercise": exercise["exercise"], "status": "crashed", "message": ""}
        missing = [n for n in exercise["needs"] if n not in payload["objects"]]
        if missing:
            result["message"] = _why_missing(missing, payload)
        else:
            try:
                for name in exercise["needs"]:
                    namespace[name] = pickle.loads(payload["objects"][name])
                exec(compile(exercise["statement"], "<check>", "exec"), namespace)
                result.update(status="passed", message="")
            except ExerciseNotImplemented as error:
                result.update(status="not attempted", message=str(error))
            except CheckFailed as error:
                result.update(status="failed", message=str(error))
            except BaseException as error:  # noqa: BLE001
                if isinstance(error, KeyboardInterrupt):
                    raise
                result["message"] = f"{type(error).__name__}: {error}"
        channel.write((json.dumps(result) + "\n").encode())
        channel.flush()


def _why_missing(missing: list[str], payload: dict[str, Any]) -> str:
    name = missing[0]
    if name in payload.get("unsendable", {}):
        return f"`{name}` could not be transferred to the checker: {payload['unsendable'][name]}"
    for error in payload["errors"]:
        if f"def {name}" in error["source"] or f"{name} =" in error["source"]:
            return f"the cell defining `{name}` raised {error['error']}"
    return f"`{name}` is not defined in the submission"


def main(argv: list[str]) -> int:
    channel = _private_stdout()
    command = argv[0]
    if command == "execute":
        notebook_path, names = argv[1], json.loads(argv[2])
        _send(channel, execute(notebook_path, names))
        return 0
    if command == "check":
        import cloudpickle

        spec = json.loads(argv[1])
        payload = cloudpickle.loads(sys.stdin.buffer.read())
        check(spec, payload, channel)
        return 0
    print(f"unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception:  # noqa: BLE001 - report the grader's own failure on stderr
        traceback.print_exc()
        sys.exit(3)
