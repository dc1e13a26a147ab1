"""A demonstration class for the warm-up lab: honest, broken and hostile submissions.

Explained in the instructor's guide. ``python -m utils.teaching.demo OUT/``
builds a class (roster, secret, variants, submissions), grades it and writes
the report, so an instructor can see every status before grading real work.
The same kinds of submission are the grader's end-to-end test.
"""

from __future__ import annotations

import argparse
import copy
import csv
import secrets
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

from utils.teaching.lab_builder import LABS_DIR

__all__ = ["EXPECTED", "KINDS", "make_class"]

LAB = "00_warmup"
EXERCISES = ("softmax", "log_softmax", "sample_categorical", "sequence_log_prob")
_CORRECT = dict.fromkeys(EXERCISES, "passed")


def _cell(notebook: nbformat.NotebookNode, defines: str) -> nbformat.NotebookNode:
    for cell in notebook.cells:
        if cell.cell_type == "code" and f"def {defines}(" in cell.source:
            return cell
    raise KeyError(defines)


def _prepend(defines: str, code: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(notebook: nbformat.NotebookNode) -> None:
        cell = _cell(notebook, defines)
        cell.source = code + "\n" + cell.source
    return edit


def _replace(defines: str, code: str) -> Callable[[nbformat.NotebookNode], None]:
    def edit(notebook: nbformat.NotebookNode) -> None:
        _cell(notebook, defines).source = code
    return edit


def _partly(notebook: nbformat.NotebookNode) -> None:
    # log-softmax that overflows on large logits; the last two exercises left as stubs
    _replace("log_softmax", "def log_softmax(logits):\n"
             "    return torch.log(logits.exp() / logits.exp().sum(-1, keepdim=True))\n"
             "check_log_softmax(log_softmax, seed=params.seed)")(notebook)
    student = nbformat.read(LABS_DIR / f"{LAB}.ipynb", as_version=4)
    for name in ("sample_categorical", "sequence_log_prob"):
        _cell(notebook, name).source = _cell(student, name).source


def _infinite_loop(notebook: nbformat.NotebookNode) -> None:
    _prepend("softmax", "while True:\n    pass")(notebook)


def _monkeypatch(notebook: nbformat.NotebookNode) -> None:
    _replace("softmax", "import utils.checks.warmup as warmup_checks\n"
             "def always_passes(*args, **kwargs):\n"
             "    print('✅ softmax: passed all 3 checks.')\n"
             "warmup_checks.check_softmax = always_passes\n"
             "check_softmax = always_passes\n"
             "def softmax(logits):\n"
             "    return logits.exp()  # forgets to normalise\n"
             "check_softmax(softmax, seed=params.seed)")(notebook)


def _fake_passed(notebook: nbformat.NotebookNode) -> None:
    _replace("sequence_log_prob", "def sequence_log_prob(step_probs, tokens):\n"
             "    return float(step_probs[0, tokens[0]])  # only the first step, not a log\n"
             "print('✅ sequence_log_prob: passed all 2 checks.')")(notebook)


_DELETE_AROUND = """import pathlib, shutil
for place in (pathlib.Path('.'), pathlib.Path('..')):
    for path in place.resolve().iterdir():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)"""

# What each kind of submission does, and the grade each exercise must get.
KINDS: dict[str, Callable[[nbformat.NotebookNode], None] | None] = {
    "correct": lambda nb: None,
    "partly_correct": _partly,
    "untouched": None,  # the student notebook as handed out
    "syntax_error": _replace("softmax", "def softmax(logits):\n    return (logits.exp(\n"),
    "infinite_loop": _infinite_loop,
    "memory_hog": _prepend("softmax", "hog = bytearray(64 * 2**30)"),
    "sys_exit": _prepend("log_softmax", "import sys\nsys.exit(0)"),
    "deletes_files": _prepend("softmax", _DELETE_AROUND),
    "missing_import": _prepend("sample_categorical", "import a_module_that_does_not_exist"),
    "monkeypatched_check": _monkeypatch,
    "fake_passed_line": _fake_passed,
}
EXPECTED: dict[str, dict[str, str]] = {
    "correct": _CORRECT,
    "partly_correct": {"softmax": "passed", "log_softmax": "failed",
                       "sample_categorical": "not attempted",
                       "sequence_log_prob": "not attempted"},
    "untouched": dict.fromkeys(EXERCISES, "not attempted"),
    "syntax_error": {**_CORRECT, "softmax": "crashed"},
    "infinite_loop": dict.fromkeys(EXERCISES, "timed out"),
    "memory_hog": {**_CORRECT, "softmax": "crashed"},
    "sys_exit": {**_CORRECT, "log_softmax": "crashed"},
    "deletes_files": _CORRECT,
    "missing_import": {**_CORRECT, "sample_categorical": "crashed"},
    "monkeypatched_check": {**_CORRECT, "softmax": "failed"},
    "fake_passed_line": {**_CORRECT, "sequence_log_prob": "failed"},
}


def make_class(folder: str | Path, kinds: list[str], secret: bytes | None = None
               ) -> tuple[Path, Path, dict[str, str]]:
    """Roster, variants and one submission per entry of ``kinds`` (student ids s00, s01, ...).

    Returns the submissions folder, the manifest and each student's kind.
    """
    from utils.teaching.variants import assign

    folder = Path(folder)
    roster = [(f"s{i:02d}", kind) for i, kind in enumerate(kinds)]
    with open(folder / "roster.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("student_id", "name"), *roster])
    variants = assign(roster, LABS_DIR / f"{LAB}.ipynb", folder / "handed_out",
                      secret or secrets.token_bytes(32))
    solution = nbformat.read(LABS_DIR / "solutions" / f"{LAB}.ipynb", as_version=4)
    for variant in variants:
        handed_out = nbformat.read(folder / "handed_out" / variant.notebook, as_version=4)
        edit = KINDS[variant.name]
        if edit is None:
            submission = handed_out
        else:  # the solution's code with the variant's injected parameters
            submission = copy.deepcopy(solution)
            injected = [c for c in handed_out.cells
                        if "injected-parameters" in c.metadata.get("tags", [])]
            at = next(i for i, c in enumerate(submission.cells)
                      if "parameters" in c.metadata.get("tags", []))
            submission.cells[at + 1:at + 1] = injected
            edit(submission)
        target = folder / "submissions" / variant.student_id / f"{LAB}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission, target)
    return folder / "submissions", folder / "handed_out" / "manifest.csv", dict(roster)


def main(argv: list[str] | None = None) -> int:
    from utils.teaching.grade import Limits, grade_submissions
    from utils.teaching.report import write_gradebook, write_html_report
    from utils.teaching.variants import read_manifest

    parser = argparse.ArgumentParser(prog="python -m utils.teaching.demo", description=__doc__)
    parser.add_argument("out", help="an empty folder for the demo class and its report")
    parser.add_argument("--students", type=int, default=len(KINDS),
                        help="class size; kinds of submission repeat (default: one of each)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", help="a Dask scheduler's address")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(KINDS)
    kinds = [names[i % len(names)] for i in range(args.students)]
    submissions, manifest, _ = make_class(out, kinds)
    start = time.perf_counter()
    rows = grade_submissions(submissions, read_manifest(manifest), workers=args.workers,
                             scheduler=args.scheduler, limits=Limits(timeout_s=args.timeout))
    print(f"graded {args.students} submissions in {time.perf_counter() - start:.1f} s "
          f"({'Dask' if args.scheduler else f'{args.workers} local workers'})")
    print(f"wrote {write_gradebook(rows, out / 'report' / 'gradebook.csv')}")
    print(f"wrote {write_html_report(rows, out / 'report' / 'report.html')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
