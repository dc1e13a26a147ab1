"""Teaching with the course: build each lab's student and solution notebooks from one source.

Run ``python -m utils.teaching --help``. Layer: top; the authors' and
instructors' tools, which notebooks never import.
"""

from __future__ import annotations

from utils.teaching.lab_builder import (  # noqa: F401
    LabSourceError,
    build,
    build_notebook,
    split_solution,
    stale,
)

__all__ = ["LabSourceError", "build", "build_notebook", "split_solution", "stale"]
