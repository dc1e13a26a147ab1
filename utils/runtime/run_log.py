"""A log of the runs a notebook trained or loaded, for the book's execution report. Chapter 4.

When the book is built, its Sphinx extension (``book/extensions/run_report.py``)
sets ``COURSE_RUN_LOG`` to a file and ``COURSE_RUN_DOC`` to the page being
executed; every notebook kernel inherits both, and ``cached_run`` appends one
JSON line per run to the file. The execution report reads it back to show, for
each notebook, which models it trained and what its run cost cold and warm.
Outside a book build the variables are unset and nothing is written.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["LOG_VARIABLE", "DOC_VARIABLE", "log_run", "read_run_log"]

LOG_VARIABLE = "COURSE_RUN_LOG"
DOC_VARIABLE = "COURSE_RUN_DOC"  # "<page>|<execution id>", set anew before each page is read


def log_run(name: str, *, trained: bool, seconds: float, train_time_s: float,
            key: str = "") -> None:
    """Append one line for a finished ``cached_run`` when a book build asked for a log."""
    path = os.environ.get(LOG_VARIABLE, "").strip()
    if not path:
        return
    doc, _, execution = os.environ.get(DOC_VARIABLE, "").partition("|")
    line = json.dumps({"doc": doc, "execution": execution, "name": name, "key": key,
                       "trained": trained,
                       "seconds": round(seconds, 3), "train_time_s": round(train_time_s, 3),
                       "time": time.time()})
    # One write of one short line in append mode: lines from two processes never interleave.
    with open(path, "a", encoding="utf-8") as log:
        log.write(line + "\n")


def read_run_log(path: str | Path) -> Iterator[dict[str, Any]]:
    """The log's entries in the order written; a line cut short by a crash is skipped."""
    path = Path(path)
    if not path.exists():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and {"doc", "execution", "name", "trained"} <= entry.keys():
            yield entry
