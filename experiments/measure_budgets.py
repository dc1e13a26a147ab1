"""Measure the course's time budgets: the whole book cold, the slowest notebook cold, the tests.

Explained on the performance page. Three numbers decide whether the course is
"fast on CPU":

1. the whole book executed from an empty model cache: ``make book`` with
   ``COURSE_CACHE_DIR`` pointing at a new, empty folder and the book's
   execution cache (``_build/.jupyter_cache``) removed, so that every notebook
   runs; the sum of the notebooks' execution times that jupyter-cache recorded
   (a later notebook loads the models an earlier one trained, as on a reader's
   new machine), and the wall time of that execution, which runs the notebooks
   side by side, and of the whole ``make book``;
2. the slowest notebook of (1) executed again on its own from another empty
   model cache: the cold time a reader waits who opens that notebook first;
3. ``make test`` after that build, with the model cache the build filled, its
   wall time (``--skip-test`` leaves it out).

Given notebooks on the command line, (1) executes just those, in that order and
in one empty model cache, with ``jupyter nbconvert`` instead of ``make book``: a
quick check of the script, or a budget for one chapter. Notebooks run with one
thread (``OMP_NUM_THREADS=1``), as ``make test`` runs them, in scratch copies.

    python experiments/measure_budgets.py                       # everything (long)
    python experiments/measure_budgets.py --skip-test \\
        notebooks/01_foundation_models.ipynb notebooks/03_maximum_likelihood.ipynb

``--from-jupyter-cache`` only reads the execution times that the last
``make book`` stored; they are cold times only if that build started from an
empty model cache.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_CACHE = ROOT / "_build" / ".jupyter_cache"


def _env(model_cache: Path) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "COURSE_CACHE_DIR": str(model_cache)}


def execute(notebook: Path, model_cache: Path, timeout_s: int) -> float:
    """Execute a scratch copy of ``notebook`` in its folder; the wall time in seconds."""
    env = _env(model_cache)
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / notebook.name
        cmd = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
               f"--ExecutePreprocessor.timeout={timeout_s}", "--output", str(out),
               str(notebook)]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=notebook.parent, env=env, check=True, capture_output=True)
        return time.perf_counter() - start


def cold_notebooks(notebooks: list[Path], model_cache: Path, timeout_s: int) -> dict[str, float]:
    """The notebooks in order, from the one (empty) model cache ``model_cache``."""
    times = {}
    for notebook in notebooks:
        times[notebook.relative_to(ROOT).as_posix()] = seconds = execute(
            notebook, model_cache, timeout_s)
        print(f"{seconds:7.1f} s  {notebook.relative_to(ROOT)}", flush=True)
    return times


def cold_book(model_cache: Path) -> tuple[dict[str, float], dict[str, float]]:
    """``make book`` from the empty ``model_cache`` with no execution cache.

    Returns each notebook's execution time, and the wall times of the whole
    ``make book`` and of its notebooks' execution, which runs them side by side
    (``book/extensions/parallel_execution.py``).
    """
    shutil.rmtree(JUPYTER_CACHE, ignore_errors=True)
    start = time.perf_counter()
    build = subprocess.run(["make", "book"], cwd=ROOT, env=_env(model_cache), check=True,
                           capture_output=True, text=True)
    walls = {"make_book_s": time.perf_counter() - start}
    executed = re.search(r"executed (\d+) notebooks in ([\d.]+) s", build.stdout + build.stderr)
    if executed:
        walls["execution_wall_s"] = float(executed[2])
    return jupyter_cache_times(), walls


def cold_alone(notebook: Path, timeout_s: int) -> float:
    """One notebook from an empty model cache of its own."""
    cache = Path(tempfile.mkdtemp(prefix="course-cold-cache-"))
    try:
        return execute(notebook, cache, timeout_s)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def jupyter_cache_times(build: Path = JUPYTER_CACHE) -> dict[str, float]:
    """Execution seconds per notebook as the last ``make book`` recorded them."""
    from jupyter_cache import get_cache

    times = {}
    for record in get_cache(build).list_cache_records():
        seconds = (record.data or {}).get("execution_seconds")
        if seconds is not None:
            times[Path(record.uri).relative_to(ROOT).as_posix()] = float(seconds)
    return times


def timed_make_test(model_cache: Path) -> float:
    """Wall time of ``make test`` in the repository, with the model cache ``model_cache``."""
    start = time.perf_counter()
    subprocess.run(["make", "test"], cwd=ROOT, env=_env(model_cache), check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to execute instead of make book")
    parser.add_argument("--skip-test", action="store_true", help="do not time make test")
    parser.add_argument("--from-jupyter-cache", action="store_true",
                        help="read the last make book's times instead of executing")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per notebook")
    parser.add_argument("--json", type=Path, help="also write the budgets to this file")
    args = parser.parse_args(argv)
    if args.from_jupyter_cache:
        times = jupyter_cache_times()
        report({"notebooks": times}, args.json)
        return
    model_cache = Path(tempfile.mkdtemp(prefix="course-cold-cache-"))
    try:
        if args.notebooks:
            times = cold_notebooks([n.resolve() for n in args.notebooks], model_cache,
                                   args.timeout)
        else:
            times, walls = cold_book(model_cache)
        budgets: dict = {"notebooks": times, **(walls if not args.notebooks else {})}
        slowest = max(times, key=times.get)
        budgets["slowest_alone_cold_s"] = cold_alone(ROOT / slowest, args.timeout)
        if not args.skip_test:
            budgets["make_test_s"] = timed_make_test(model_cache)
    finally:
        shutil.rmtree(model_cache, ignore_errors=True)
    report(budgets, args.json)


def report(budgets: dict, json_path: Path | None) -> None:
    """Print the budgets (and write them as JSON to ``json_path``)."""
    times = budgets["notebooks"]
    slowest = max(times, key=times.get)
    budgets.update(book_s=sum(times.values()), slowest=slowest, slowest_s=times[slowest],
                   load_average=os.getloadavg())
    print(f"book from an empty model cache: {budgets['book_s']:.1f} s over {len(times)} "
          f"notebooks; slowest {slowest} {times[slowest]:.1f} s")
    if "make_book_s" in budgets:
        print(f"make book: {budgets['make_book_s']:.1f} s; its notebooks, side by side: "
              f"{budgets.get('execution_wall_s', float('nan')):.1f} s")
    if "slowest_alone_cold_s" in budgets:
        print(f"slowest notebook alone from an empty model cache: "
              f"{budgets['slowest_alone_cold_s']:.1f} s")
    if "make_test_s" in budgets:
        print(f"make test: {budgets['make_test_s']:.1f} s")
    print(f"load average: {' '.join(f'{x:.2f}' for x in budgets['load_average'])}")
    if json_path is not None:
        json_path.write_text(json.dumps(budgets, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
