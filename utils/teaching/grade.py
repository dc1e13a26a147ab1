"""Grade a folder of submitted labs: student code in a sandbox, every verdict in the grader.

Explained in the instructor's guide (``book/instructors_guide.md``). For each
submission the grader takes the lab's exercises from the course's own checks
module (``EXERCISES``, never anything from the submission) and makes their
cases twice: from the seed handed out in the student's notebook (read from the
manifest) and from a hidden seed derived from the instructor's secret, which
the student never saw. One sandboxed process (`utils.teaching.sandbox`, behind
`utils.teaching.isolate`) runs the notebook and calls the student's functions
on those cases; only plain data goes in and comes out. The grader then judges
every output itself with the exercise's ``judge``, which computes the
reference from its own copy of the case. It never executes, imports or
unpickles anything from the submission.

Each exercise gets one status: passed (every handed-out and hidden case),
failed (with the judge's message), not attempted, crashed, timed out, or
tampered: the sandbox's output was malformed (a line that is not plain JSON,
an unknown status, a forged or repeated line, too much output), which only a
submission that attacks the grader produces. A bad submission only ever costs
itself; the class's gradebook is always written.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from utils.i18n import _, language, set_language
from utils.teaching.isolate import Limits, run_isolated
from utils.teaching.lab_builder import LABS_DIR
from utils.teaching.variants import Variant, derive_seed

__all__ = ["STATUSES", "ExerciseGrade", "Limits", "as_dicts", "grade_submission",
           "grade_submissions", "hidden_seed", "lab_exercises"]

STATUSES = ("passed", "failed", "not attempted", "crashed", "timed out", "tampered")
_MAX_NOTEBOOK_BYTES = 32 * 2**20
_MAX_MESSAGE = 500


@dataclass(frozen=True)
class ExerciseGrade:
    """One row of the gradebook; ``handed_out`` and ``hidden`` say how each set of cases went."""

    student_id: str
    lab: str
    exercise: str
    status: str  # one of STATUSES
    message: str
    handed_out: str = ""  # "passed", "failed" or "" (not judged)
    hidden: str = ""


# ------------------------------------------------------------------ the lab's exercises
@cache
def checks_module(lab: str, labs_dir: Path = LABS_DIR) -> str:
    """The checks module a lab imports, read from the course's own ``labs/source/LAB.py``."""
    source_path = labs_dir / "source" / f"{lab}.py"
    if not source_path.exists():
        known = sorted(p.stem for p in (labs_dir / "source").glob("*.py"))
        raise FileNotFoundError(_("no lab source {path}; known labs: {known}").format(
            path=source_path, known=known))
    for node in ast.walk(ast.parse(source_path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils.checks.") \
                and not node.module.split(".")[-1].startswith("_"):
            return node.module
    raise ValueError(_("{source_path}: found no `from utils.checks.X import ...`").format(
        source_path=source_path))


def lab_exercises(lab: str, labs_dir: Path = LABS_DIR) -> dict[str, Any]:
    """The lab's ``EXERCISES`` (name -> `utils.checks._core.Exercise`), from the course."""
    module = importlib.import_module(checks_module(lab, labs_dir))
    exercises = getattr(module, "EXERCISES", None)
    if not exercises:
        raise ValueError(_("{name} has no EXERCISES: its checks cannot be graded apart").format(
            name=module.__name__))
    return dict(exercises)


def hidden_seed(student_id: str, secret: bytes, lab: str) -> int:
    """The seed of the hidden cases: HMAC of the secret, like the handed-out one, another label."""
    return derive_seed(student_id, secret, f"{lab}\x00hidden")


# ------------------------------------------------------------------ one submission
class _Tampered(Exception):
    """The sandbox's output is not what an honest run writes."""


def _parse(stdout: bytes, names: list[str]) -> tuple[dict[str, dict], bool]:
    """The sandbox's lines by exercise, and whether the final line came; `_Tampered` if forged."""
    from utils.checks._plain import loads

    *lines, tail = stdout.split(b"\n")  # tail: a line cut short when the process was killed
    found: dict[str, dict] = {}
    done = False
    for raw in lines:
        if done:
            raise _Tampered(_("a line came after the sandbox's last line"))
        try:
            line = loads(raw)
        except ValueError as error:
            raise _Tampered(_("a line on the result channel is not plain data ({error})").format(
                error=error)) from None
        if not isinstance(line, dict) or not isinstance(line.get("status"), str):
            raise _Tampered(_("a line on the result channel is not a result"))
        status, name = line["status"], line.get("exercise")
        if status == "done" and name == "":
            done = True
            continue
        if name not in names or name in found:
            raise _Tampered(_("a result for a repeated exercise") if name in found
                            else _("a result for an unknown exercise"))
        if status not in ("ran", "not attempted", "crashed", "tampered"):
            raise _Tampered(_("an unknown status {status!r}").format(status=str(status)[:40]))
        if status != "ran" and not isinstance(line.get("message"), str):
            raise _Tampered(_("a result without its message"))
        found[name] = line
    if done and tail:
        raise _Tampered(_("output came after the sandbox's last line"))
    return found, done


def _judge(exercise: Any, handed_out: list, hidden: list, line: dict) -> tuple[str, str, str, str]:
    """(status, message, handed_out, hidden) for the exercise's line from the sandbox."""
    from utils.checks._core import judge_case

    results = line.get("results")
    if not isinstance(results, list) or len(results) != len(handed_out) + len(hidden):
        raise _Tampered(_("{name}: the sandbox sent the wrong number of results").format(
            name=exercise.name))
    verdicts = {"handed_out": "passed", "hidden": "passed"}
    first = None
    for index, (case, result) in enumerate(zip([*handed_out, *hidden], results, strict=True)):
        which = "handed_out" if index < len(handed_out) else "hidden"
        if not isinstance(result, dict) or len(result) != 1 or not (
                "output" in result or isinstance(result.get("raised"), str)):
            raise _Tampered(_("{name}: a malformed result").format(name=exercise.name))
        if "raised" in result:
            message = result["raised"]
        else:
            try:
                message = judge_case(exercise, case, result["output"])
            except Exception as error:  # noqa: BLE001 - an output the judge could not read
                message = _("{name}: your result could not be checked ({error_type})").format(
                    name=exercise.name, error_type=type(error).__name__)
        if message is not None:
            verdicts[which] = "failed"
            first = first or message
    if first is None:
        return "passed", "", "passed", "passed"
    if verdicts["handed_out"] == "passed":
        first = _("{first} (on a hidden case; the handed-out cases pass)").format(first=first)
    return "failed", first, verdicts["handed_out"], verdicts["hidden"]


def grade_submission(notebook: str | Path, variant: Variant, hidden: int | None,
                     limits: Limits | None = None, *, hide: Sequence[Path] = (),
                     labs_dir: Path = LABS_DIR) -> list[ExerciseGrade]:
    """Grade one submitted notebook: its variant's seed, plus the ``hidden`` seed if given."""
    from utils.checks._plain import dumps

    limits = limits or Limits()
    exercises = lab_exercises(variant.lab, labs_dir)
    seed = int(variant.parameters.get("seed", 0))
    cases = {name: (e.make_cases(seed), e.make_cases(hidden) if hidden is not None else [])
             for name, e in exercises.items()}

    def rows(done: dict[str, tuple[str, str, str, str]], status: str, message: str
             ) -> list[ExerciseGrade]:
        return [ExerciseGrade(variant.student_id, variant.lab, name,
                              *done.get(name, (status, message, "", "")))
                for name in exercises]

    notebook = Path(notebook)
    if notebook.stat().st_size > _MAX_NOTEBOOK_BYTES:
        return rows({}, "crashed", _("the notebook is larger than {mib} MiB").format(
            mib=_MAX_NOTEBOOK_BYTES // 2**20))
    request = dumps({"language": language(),  # the sandbox's own messages speak the grader's
                     "notebook": notebook.read_text(encoding="utf-8", errors="replace"),
                     "checks_module": checks_module(variant.lab, labs_dir),
                     "exercises": [{"name": n, "cases": [*c[0], *c[1]]}
                                   for n, c in cases.items()]})
    outcome = run_isolated(["-m", "utils.teaching.sandbox"], request, limits, list(hide))
    if outcome.returncode == 125 and outcome.stdout.startswith(b"jail: "):
        # the grader's machine failed, not the student: stop the whole run
        why = outcome.stdout[6:200].decode(errors="replace").strip()
        raise RuntimeError(_("the sandbox could not be set up: {why}").format(why=why))
    if outcome.oversized:
        return rows({}, "tampered", _("the sandbox wrote more than {output_mb} MiB").format(
            output_mb=limits.output_mb))
    try:
        found, finished = _parse(outcome.stdout, list(exercises))
        done = {}
        for name, line in found.items():
            if line["status"] != "ran":
                done[name] = (line["status"], line["message"][:_MAX_MESSAGE], "", "")
            else:
                status, message, seen, unseen = _judge(exercises[name], *cases[name], line)
                done[name] = (status, message[:_MAX_MESSAGE], seen, unseen)
    except _Tampered as why:
        return rows({}, "tampered", str(why))
    if outcome.timed_out:
        return rows(done, "timed out", _("the notebook ran longer than {timeout_s:g} s").format(
            timeout_s=limits.timeout_s))
    if not finished:
        return rows(done, "crashed", _("the submission's process died before it finished "
                                       "(exit status {returncode})").format(
            returncode=outcome.returncode))
    return rows(done, "crashed", _("the sandbox sent no result"))


# ------------------------------------------------------------------ a whole class
def _grade_or_missing(path: Path, variant: Variant, hidden: int | None, limits: Limits,
                      hide: Sequence[Path], labs_dir: Path, language_code: str
                      ) -> list[ExerciseGrade]:
    """One submission's rows, whatever happens: the pool must never see an exception."""
    set_language(language_code)  # a pool's or a cluster's worker starts in its own language
    try:
        if not path.is_file():
            return [ExerciseGrade(variant.student_id, variant.lab, name, "not attempted",
                                  _("no submission")) for name in lab_exercises(variant.lab,
                                                                             labs_dir)]
        return grade_submission(path, variant, hidden, limits, hide=hide, labs_dir=labs_dir)
    except Exception as error:  # noqa: BLE001 - the grader's own failure, one student's rows
        try:
            names = list(lab_exercises(variant.lab, labs_dir))
        except Exception:  # noqa: BLE001
            names = ["(all)"]
        return [ExerciseGrade(variant.student_id, variant.lab, name, "crashed",
                              _("the grader could not grade this: {error_type}: {error}").format(
                                  error_type=type(error).__name__, error=error)[:_MAX_MESSAGE])
                for name in names]


def grade_submissions(folder: str | Path, manifest: Mapping[tuple[str, str], Variant], *,
                      secret: bytes | None, limits: Limits | None = None, workers: int = 2,
                      scheduler: str | None = None, security: Any = None,
                      hide: Sequence[Path] = (), labs_dir: Path = LABS_DIR,
                      language_code: str | None = None) -> list[ExerciseGrade]:
    """Grade every manifest entry's ``folder/STUDENT/LAB.ipynb``; rows by student and lab.

    ``secret``: the instructor's secret, for the hidden cases (None: handed-out cases only).
    ``scheduler``: a Dask scheduler's ``tls://`` address, with ``security`` a
    `distributed.security.Security` that requires encryption; otherwise a local
    pool of ``workers`` processes. ``hide``: the grader's files besides the
    submissions folder (secret, manifest, report folder), hidden from every sandbox.
    The secret itself never leaves this process: only the seeds derived from it do.
    ``language_code``: the language of every message ("en" or "zh_CN"; default: this
    process's, `utils.i18n.language`), the sandbox's included, whatever the notebook sets.
    """
    folder, limits = Path(folder).resolve(), limits or Limits()
    hide = [folder, *(Path(p).resolve() for p in hide)]
    language_code = language_code or language()
    args = [(folder / sid / f"{lab}.ipynb", variant,
             hidden_seed(sid, secret, lab) if secret is not None else None, limits, hide,
             labs_dir, language_code) for (sid, lab), variant in sorted(manifest.items())]
    if scheduler is not None:
        from utils.teaching.cluster import grade_on_cluster

        results = grade_on_cluster(_grade_or_missing, args, scheduler, security)
    elif workers <= 1:
        results = [_grade_or_missing(*a) for a in args]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_grade_or_missing, *zip(*args, strict=True)))
    return [row for rows in results for row in rows]


def as_dicts(rows: Sequence[ExerciseGrade]) -> list[dict]:
    """Rows as plain dictionaries (for CSV and comparison)."""
    return [asdict(r) for r in rows]
