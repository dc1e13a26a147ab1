"""A demonstration class: honest, broken and hostile submissions to lab 03, graded as a class.

Explained in the instructor's guide. ``python -m utils.teaching.demo OUT/``
builds a class (roster, secret, variants, submissions), grades it and writes
the report, so an instructor can see every status, tampering included, before
grading real work. The helpers that turn a lab's solution into a submission
(`make_class`, `wrap`, `insert_after`, ...) also build the grader's red-team
suite (``tests/test_grader_redteam.py``).
"""

from __future__ import annotations

import argparse
import copy
import csv
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import nbformat

from utils.teaching.lab_builder import LABS_DIR

__all__ = ["EXPECTED", "KINDS", "Edit", "append", "compose", "insert_after", "make_class",
           "prepend", "replace", "spoil_unless"]

Edit = Callable[[nbformat.NotebookNode], None]
LAB = "03_maximum_likelihood"
EXERCISES = ("nll", "perplexity", "bigram_mle", "add_k", "ece")
_CORRECT = dict.fromkeys(EXERCISES, "passed")


def _cell_index(notebook: nbformat.NotebookNode, defines: str) -> int:
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and f"def {defines}(" in cell.source:
            return index
    raise KeyError(defines)


def prepend(defines: str, code: str) -> Edit:
    """Put ``code`` at the top of the cell that defines ``defines``."""
    def edit(notebook: nbformat.NotebookNode) -> None:
        cell = notebook.cells[_cell_index(notebook, defines)]
        cell.source = code + "\n" + cell.source
    return edit


def replace(defines: str, code: str) -> Edit:
    """Replace the whole cell that defines ``defines`` with ``code``."""
    def edit(notebook: nbformat.NotebookNode) -> None:
        notebook.cells[_cell_index(notebook, defines)].source = code
    return edit


def insert_after(defines: str, code: str) -> Edit:
    """A new code cell right after the one that defines ``defines``."""
    def edit(notebook: nbformat.NotebookNode) -> None:
        at = _cell_index(notebook, defines)
        notebook.cells.insert(at + 1, nbformat.v4.new_code_cell(code))
    return edit


def append(code: str) -> Edit:
    """A new code cell at the end of the notebook (after its own demonstrations)."""
    def edit(notebook: nbformat.NotebookNode) -> None:
        notebook.cells.append(nbformat.v4.new_code_cell(code))
    return edit


def spoil_unless(name: str, condition: str, setup: str = "") -> Edit:
    """Keep the solution's ``name`` only while ``condition`` holds; otherwise a wrong answer.

    An attack that works makes its condition true and so earns a pass it did
    not deserve; the red-team suite expects "failed", which only a grader that
    stopped the attack gives.
    """
    return insert_after(name, f"""{setup}
_real_{name} = {name}
def {name}(*args, **kwargs):
    out = _real_{name}(*args, **kwargs)
    return out if ({condition}) else out * 1.5 + 0.25
""")


def compose(*edits: Edit) -> Edit:
    def edit(notebook: nbformat.NotebookNode) -> None:
        for one in edits:
            one(notebook)
    return edit


def _stub(name: str, lab: str = LAB) -> Edit:
    def edit(notebook: nbformat.NotebookNode) -> None:
        student = nbformat.read(LABS_DIR / f"{lab}.ipynb", as_version=4)
        notebook.cells[_cell_index(notebook, name)].source = \
            student.cells[_cell_index(student, name)].source
    return edit


_PATCH_CHECKS = """import utils.checks._core as core
import utils.checks.maximum_likelihood as checks
for exercise in checks.EXERCISES.values():
    object.__setattr__(exercise, "judge", lambda case, output: None)
core.judge_case = lambda *args, **kwargs: None
checks.check_nll = lambda *args, **kwargs: print("✅ nll: passed all 9 cases.")"""

_HARD_CODED = """import numpy as np
from utils.checks.maximum_likelihood import EXERCISES as _E
_seen = [v for c in _E["nll"].make_cases(params.seed) for v in c.values()
         if isinstance(v, np.ndarray)]
def _handed_out(x):
    x = np.asarray(x)
    return any(a.shape == x.shape and np.allclose(a, x) for a in _seen)"""

_FORGE = """import os, stat
for fd in range(3, 64):
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode) and fd != 0:
            os.write(fd, {line!r})
    except OSError:
        pass"""

# What each kind of submission does, and the grade each exercise must get.
KINDS: dict[str, Edit | None] = {
    "correct": lambda nb: None,
    "partly_correct": compose(
        replace("nll", "def nll(logits, targets):\n"
                "    return float(-torch.log_softmax(logits, -1)[range(len(targets)), targets]"
                ".sum())  # forgets the mean\n"), _stub("add_k"), _stub("ece")),
    "untouched": None,  # the student notebook as handed out
    "syntax_error": replace("nll", "def nll(logits, targets):\n    return (logits.exp(\n"),
    "infinite_loop": prepend("nll", "while True:\n    pass"),
    "memory_hog": prepend("perplexity", "hog = bytearray(64 * 2**30)"),
    "sys_exit": prepend("bigram_mle", "import sys\nsys.exit(0)"),
    "missing_import": prepend("add_k", "import a_module_that_does_not_exist"),
    "patches_the_checks": compose(insert_after("nll", _PATCH_CHECKS),
                                  spoil_unless("nll", "False")),
    "hard_coded_for_its_seed": spoil_unless("nll", "_handed_out(args[0])", _HARD_CODED),
    "edits_its_input": replace("perplexity", "def perplexity(token_log_probs):\n"
                               "    token_log_probs.zero_()  # the log-probabilities, in place\n"
                               "    return 1.0\n"),
    "forged_result_line": prepend("ece", _FORGE.format(
        line=b'{"exercise":"ece","status":"passed","message":""}\n')),
}
EXPECTED: dict[str, dict[str, str]] = {
    "correct": _CORRECT,
    "partly_correct": {**_CORRECT, "nll": "failed", "add_k": "not attempted",
                       "ece": "not attempted"},
    "untouched": dict.fromkeys(EXERCISES, "not attempted"),
    "syntax_error": {**_CORRECT, "nll": "crashed"},
    "infinite_loop": dict.fromkeys(EXERCISES, "timed out"),
    "memory_hog": {**_CORRECT, "perplexity": "crashed"},
    "sys_exit": {**_CORRECT, "bigram_mle": "crashed"},
    "missing_import": {**_CORRECT, "add_k": "crashed"},
    "patches_the_checks": {**_CORRECT, "nll": "failed"},
    "hard_coded_for_its_seed": {**_CORRECT, "nll": "failed"},
    "edits_its_input": {**_CORRECT, "perplexity": "failed"},
    "forged_result_line": dict.fromkeys(EXERCISES, "tampered"),
}


def make_class(folder: str | Path, kinds: Mapping[str, tuple[str, Edit | None]],
               secret: bytes | None = None) -> tuple[Path, dict, dict[str, str]]:
    """Variants and one submission per entry of ``kinds`` (student id -> (lab, edit)).

    Each submission is the lab's solution with the student's injected
    parameters, changed by ``edit`` (None: the student notebook as handed out).
    Returns the submissions folder, the merged manifest and each student's lab.
    """
    from utils.teaching.variants import assign, read_manifest

    folder = Path(folder)
    secret = secret or secrets.token_bytes(32)
    manifest: dict = {}
    for lab in sorted({lab for lab, _ in kinds.values()}):
        roster = [(sid, sid) for sid, (lab_of, _) in kinds.items() if lab_of == lab]
        handed_out = folder / "handed_out" / lab
        assign(roster, LABS_DIR / f"{lab}.ipynb", handed_out, secret)
        manifest.update(read_manifest(handed_out / "manifest.csv"))
        solution = nbformat.read(LABS_DIR / "solutions" / f"{lab}.ipynb", as_version=4)
        for sid, _ in roster:
            variant = nbformat.read(handed_out / sid / f"{lab}.ipynb", as_version=4)
            edit = kinds[sid][1]
            submission = variant if edit is None else _with_parameters(solution, variant)
            if edit is not None:
                edit(submission)
            target = folder / "submissions" / sid / f"{lab}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(submission, target)
    return folder / "submissions", manifest, {sid: lab for sid, (lab, _) in kinds.items()}


def _with_parameters(solution: nbformat.NotebookNode, variant: nbformat.NotebookNode
                     ) -> nbformat.NotebookNode:
    """The solution's code with the variant's injected parameters cell."""
    submission = copy.deepcopy(solution)
    injected = [c for c in variant.cells if "injected-parameters" in c.metadata.get("tags", [])]
    at = next(i for i, c in enumerate(submission.cells)
              if "parameters" in c.metadata.get("tags", []))
    submission.cells[at + 1:at + 1] = injected
    return submission


def main(argv: list[str] | None = None) -> int:
    from utils.i18n import LANGUAGES, _, set_language
    from utils.teaching.grade import Limits, grade_submissions
    from utils.teaching.report import write_gradebook, write_html_report

    parser = argparse.ArgumentParser(prog="python -m utils.teaching.demo", description=__doc__)
    parser.add_argument("out", help="an empty folder for the demo class and its report")
    parser.add_argument("--students", type=int, default=len(KINDS),
                        help="class size; kinds of submission repeat (default: one of each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--language", choices=LANGUAGES, default="en",
                        help="the language of the report and the checks' messages (default en)")
    args = parser.parse_args(argv)
    set_language(args.language)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(KINDS)
    kinds = {f"s{i:02d}": names[i % len(names)] for i in range(args.students)}
    with open(out / "roster.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("student_id", "kind"), *kinds.items()])
    secret = secrets.token_bytes(32)
    submissions, manifest, _labs = make_class(out, {s: (LAB, KINDS[k]) for s, k in kinds.items()},
                                          secret)
    start = time.perf_counter()
    rows = grade_submissions(submissions, manifest, secret=secret, workers=args.workers,
                             limits=Limits(timeout_s=args.timeout),
                             hide=[out / "handed_out", out / "report"])
    print(_("graded {submissions} submissions in {seconds:.1f} s ({workers} local "
            "workers)").format(submissions=args.students, seconds=time.perf_counter() - start,
                               workers=args.workers))
    tampered = sorted({r.student_id for r in rows if r.status == "tampered"})
    print(_("tampering: {who}").format(
        who=_(", ").join(f"{s} ({kinds[s]})" for s in tampered) or _("none")))
    for path in (write_gradebook(rows, out / "report" / "gradebook.csv"),
                 write_html_report(rows, out / "report" / "report.html")):
        print(_("wrote {path}").format(path=path))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
