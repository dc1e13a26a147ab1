"""The book executes its notebooks side by side, and myst-nb then only renders them.

A small Sphinx project with three notebooks, each of which writes when it
started and stopped, is built with the book's extension. In the side-by-side
build each notebook also waits (up to a minute) to see another one running, so
the check does not hang on how fast a loaded machine starts a kernel. Catches:
an extension that executes nothing (myst-nb would then run the pages one by one
and log "Executing notebook"); executions that never overlap; results stored
under a record myst-nb does not find; kernels that do not get their thread
share or their page's name for the run log; a failing notebook that is
reported as executed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from tests.conftest import ROOT

CONF = """
extensions = ["myst_nb", "execution_cache", "parallel_execution"]
nb_execution_mode = "cache"
nb_execution_cache_path = {cache!r}
exclude_patterns = ["_build"]
"""

CELL = """
import json, os, time
start = time.time()
time.sleep(1)
print(json.dumps({{"name": {name!r}, "start": start, "stop": time.time(),
                  "threads": os.environ.get("OMP_NUM_THREADS"),
                  "workers": os.environ.get("COURSE_WORKERS"),
                  "doc": os.environ.get("COURSE_RUN_DOC", "").split("|")[0]}}))
"""

# Marks this notebook as running and waits until it sees another one running (a
# start mark without a stop mark), or until every other notebook has started.
RENDEZVOUS = """
import time
from pathlib import Path
marks, me = Path({marks!r}), {name!r}
(marks / (me + ".start")).touch()
def running_peer():
    return any(not (marks / (p.stem + ".stop")).exists()
               for p in marks.glob("*.start") if p.stem != me)
deadline, saw_peer = time.time() + 60, False
while time.time() < deadline:
    if running_peer():
        saw_peer = True
        time.sleep(1)
        break
    if len(list(marks.glob("*.start"))) == {count}:
        break
    time.sleep(0.05)
(marks / (me + ".stop")).touch()
print("saw a running peer:", saw_peer)
"""


def _project(folder: Path, names: list[str], failing: str | None = None,
             rendezvous: bool = False) -> None:
    folder.mkdir()
    marks = folder.parent / "marks"
    marks.mkdir()
    good = [name for name in names if name != failing]
    (folder / "conf.py").write_text(CONF.format(cache=str(folder / ".jupyter_cache")))
    toctree = "\n".join(names)
    (folder / "index.md").write_text(f"# Index\n\n```{{toctree}}\n{toctree}\n```\n")
    for name in names:
        source = "raise RuntimeError('a broken notebook')" if name == failing else CELL.format(
            name=name)
        cells = [nbformat.v4.new_markdown_cell(f"# {name}"), nbformat.v4.new_code_cell(source)]
        if rendezvous and name != failing:
            cells.insert(1, nbformat.v4.new_code_cell(RENDEZVOUS.format(
                marks=str(marks), name=name, count=len(good))))
        notebook = nbformat.v4.new_notebook(cells=cells)
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        nbformat.write(notebook, folder / f"{name}.ipynb")


def _build(folder: Path, env_workers: str) -> subprocess.CompletedProcess:
    env = {"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "HOME": str(folder),
           "PYTHONPATH": f"{ROOT / 'book' / 'extensions'}:{ROOT}", "COURSE_WORKERS": env_workers}
    return subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-v", str(folder),
                           str(folder / "_build" / "html")], capture_output=True, text=True,
                          env=env, timeout=300)


def _page(folder: Path, name: str) -> str:
    return (folder / "_build" / "html" / f"{name}.html").read_text(encoding="utf-8")


def _outputs(folder: Path, names: list[str]) -> dict[str, dict]:
    found = {}
    for name in names:
        page = _page(folder, name)
        start = page.index('{"name"')
        found[name] = json.loads(page[start:page.index("}", start) + 1].replace("&quot;", '"'))
    return found


@pytest.mark.slow
def test_notebooks_run_side_by_side_and_are_then_read_from_the_cache(tmp_path):
    names = ["first", "second", "third", "broken"]
    _project(tmp_path / "book", names, failing="broken", rendezvous=True)
    result = _build(tmp_path / "book", "2")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "executing 4 notebooks, 2 at a time" in log, log[-3000:]
    # The three that ran come from the cache; the broken one is run again and reported.
    assert log.count("Using cached notebook") == 3, log[-3000:]
    assert "broken failed when executed ahead" in log, log[-3000:]
    assert log.count("Executing notebook using") == 1, "myst-nb executed a good page again"
    assert "Executing notebook failed" in log, textwrap.shorten(log, 3000)
    good = names[:3]
    runs = _outputs(tmp_path / "book", good)
    pages = {name: _page(tmp_path / "book", name) for name in good}
    saw_peer = [name for name, page in pages.items() if "saw a running peer: True" in page]
    assert saw_peer, "no notebook saw another one running"
    for name, run in runs.items():
        assert run["doc"] == name and run["threads"] == run["workers"], run
    times = json.loads((tmp_path / "book" / "_build" / ".execution-times.json").read_text())
    assert set(times) == set(good) and all(t >= 1 for t in times.values()), times


@pytest.mark.slow
def test_one_worker_leaves_execution_to_myst_nb(tmp_path):
    _project(tmp_path / "book", ["first", "second"])
    result = _build(tmp_path / "book", "1")
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "at a time" not in log and log.count("Executing notebook using") == 2, log[-3000:]
