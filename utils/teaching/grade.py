"""Grade a folder of submitted labs: each in its own limited processes, checked from a fresh start.

Explained in the instructor's guide (``book/instructors_guide.md``). For each
submission the grader copies the notebook into a new scratch folder, runs it
(``utils.teaching.sandbox execute``) under a time limit, a memory limit and, where
the machine allows it, with no network; then runs the lab's checks in a second,
fresh process (``sandbox check``) with the seed from the manifest. Each
exercise gets one status: passed, failed (with the check's message), not
attempted (the stub is still there), crashed, or timed out.

Submissions are graded in parallel on a local process pool, or on a Dask
cluster when a scheduler address is given; both give the same gradebook.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from utils.teaching.lab_builder import LABS_DIR
from utils.teaching.variants import Variant

__all__ = ["ExerciseGrade", "Limits", "grade_submission", "grade_submissions", "lab_spec"]

STATUSES = ("passed", "failed", "not attempted", "crashed", "timed out")


@dataclass(frozen=True)
class Limits:
    """What one submission may use: seconds per phase, memory in MiB, network or not."""

    timeout_s: float = 120.0
    memory_mb: int = 4096
    cut_network: bool = True


@dataclass(frozen=True)
class ExerciseGrade:
    """One row of the gradebook."""

    student_id: str
    lab: str
    exercise: str
    status: str  # one of STATUSES
    message: str


# ------------------------------------------------------------------ the lab's checks
@cache
def lab_spec(lab: str, labs_dir: Path = LABS_DIR) -> dict:
    """The exercises of a lab as its course source calls their checks.

    Read from ``labs/source/LAB.py`` (the course's copy, never the submission):
    every top-level statement that calls a ``check_*`` function, with the names
    it needs from the student's notebook.
    """
    import jupytext

    source_path = labs_dir / "source" / f"{lab}.py"
    if not source_path.exists():
        raise FileNotFoundError(f"no lab source {source_path}; known labs: "
                                f"{sorted(p.stem for p in (labs_dir / 'source').glob('*.py'))}")
    notebook = jupytext.read(source_path)
    checks_module, exercises, defaults = None, [], {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        if "parameters" in cell.metadata.get("tags", []):
            defaults = _parameter_defaults(tree)
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils.checks."):
                checks_module = node.module
            call = node.value if isinstance(node, ast.Expr) else None
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) \
                    and call.func.id.startswith("check_"):
                exercises.append({"check": call.func.id, "statement": ast.unparse(node),
                                  "needs": _free_names(node)})
    if checks_module is None or not exercises:
        raise ValueError(f"{source_path}: found no `from utils.checks.X import check_...` "
                         "and check calls")
    module = __import__(checks_module, fromlist=["_"])
    for exercise in exercises:
        exercise["exercise"] = getattr(getattr(module, exercise["check"]), "exercise",
                                       exercise["check"].removeprefix("check_"))
    return {"checks_module": checks_module, "exercises": exercises, "defaults": defaults}


def _parameter_defaults(tree: ast.Module) -> dict:
    values = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            values[target.id] = ast.literal_eval(node.value)
    return values


def _free_names(node: ast.AST) -> list[str]:
    """Names a check call reads from the notebook (not the check itself, not ``params``)."""
    bound = {a.arg for n in ast.walk(node) if isinstance(n, ast.Lambda) for a in n.args.args}
    names = []
    for n in ast.walk(node):
        if isinstance(n, ast.Name) and not n.id.startswith("check_") \
                and n.id not in ("params", *bound) and n.id not in names:
            names.append(n.id)
    return names


# ------------------------------------------------------------------ one submission
def _network_cut_available() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0


def _run_limited(args: list[str], cwd: Path, limits: Limits, stdin: bytes = b""
                 ) -> tuple[bytes, bool]:
    """Run ``python -m utils.teaching.sandbox ARGS``; return (stdout, timed_out)."""
    command = [sys.executable, "-m", "utils.teaching.sandbox", *args]
    if limits.cut_network and _network_cut_available():
        command = ["unshare", "-n", *command]
    memory = limits.memory_mb * 2**20
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("COURSE_CHECK_RESULTS", None)

    def limit() -> None:  # runs in the child, before the sandbox starts
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    process = subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               preexec_fn=limit, start_new_session=True)
    try:
        out, _ = process.communicate(stdin, timeout=limits.timeout_s)
        return out, False
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the whole group: children of the child too
        out, _ = process.communicate()
        return out, True


def grade_submission(notebook: str | Path, variant: Variant, limits: Limits = Limits(),
                     labs_dir: Path = LABS_DIR) -> list[ExerciseGrade]:
    """Grade one submitted notebook against its variant's parameters."""
    spec = lab_spec(variant.lab, labs_dir)
    names = sorted({n for e in spec["exercises"] for n in e["needs"]})

    def rows(status: str, message: str, done: dict | None = None) -> list[ExerciseGrade]:
        done = done or {}
        return [ExerciseGrade(variant.student_id, variant.lab, e["exercise"],
                              *done.get(e["exercise"], (status, message)))
                for e in spec["exercises"]]

    scratch = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        work = scratch / "work"
        work.mkdir()
        shutil.copy(notebook, work / "submission.ipynb")
        payload, timed_out = _run_limited(["execute", "submission.ipynb", json.dumps(names)],
                                          work, limits)
        if timed_out:
            return rows("timed out", f"the notebook ran longer than {limits.timeout_s:g} s")
        if not payload:
            return rows("crashed", "the notebook's process died before it finished")
        work.mkdir(exist_ok=True)  # the submission may have deleted its own folder
        check_spec = {"checks_module": spec["checks_module"], "exercises": spec["exercises"],
                      "parameters": {**spec["defaults"], **variant.parameters}}
        out, timed_out = _run_limited(["check", json.dumps(check_spec)], work, limits, payload)
        done = {}
        for line in out.decode(errors="replace").splitlines():
            row = json.loads(line)
            done[row["exercise"]] = (row["status"], row["message"])
        if timed_out:
            return rows("timed out", f"a check ran longer than {limits.timeout_s:g} s", done)
        return rows("crashed", "the checker's process died", done)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ------------------------------------------------------------------ a whole class
def _submissions(folder: Path, manifest: dict[tuple[str, str], Variant]
                 ) -> list[tuple[Path, Variant]]:
    """Pair each submitted ``STUDENT/LAB.ipynb`` with its manifest entry."""
    pairs = []
    for (student_id, lab), variant in sorted(manifest.items()):
        path = folder / student_id / f"{lab}.ipynb"
        pairs.append((path, variant))
    return pairs


def _grade_or_missing(path: Path, variant: Variant, limits: Limits, labs_dir: Path
                      ) -> list[ExerciseGrade]:
    if not path.exists():
        spec = lab_spec(variant.lab, labs_dir)
        return [ExerciseGrade(variant.student_id, variant.lab, e["exercise"], "not attempted",
                              "no submission") for e in spec["exercises"]]
    return grade_submission(path, variant, limits, labs_dir)


def grade_submissions(folder: str | Path, manifest: dict[tuple[str, str], Variant], *,
                      limits: Limits = Limits(), workers: int = 2,
                      scheduler: str | None = None, labs_dir: Path = LABS_DIR
                      ) -> list[ExerciseGrade]:
    """Grade every manifest entry's submission in ``folder``; rows sorted by student and lab.

    ``scheduler``: the address of a Dask scheduler (``tcp://host:8786``) to fan
    the work out over a cluster; otherwise a local pool of ``workers`` processes.
    """
    pairs = _submissions(Path(folder), manifest)
    args = [(path, variant, limits, labs_dir) for path, variant in pairs]
    if scheduler is not None:
        from distributed import Client

        with Client(scheduler) as client:
            futures = [client.submit(_grade_or_missing, *a, pure=False) for a in args]
            results = client.gather(futures)
    elif workers <= 1:
        results = [_grade_or_missing(*a) for a in args]
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(_grade_or_missing, *zip(*args, strict=True)))
    return [row for rows in results for row in rows]


def as_dicts(rows: Sequence[ExerciseGrade]) -> list[dict]:
    """Rows as plain dictionaries (for CSV and comparison)."""
    return [asdict(r) for r in rows]
