"""Re-execute every notebook when the course's code changes, not only when the notebook does.

A Sphinx extension (``_config.yml``, ``local_extensions``). myst-nb's execution
cache reuses a notebook's outputs while its code cells are unchanged; but a
notebook's outputs also depend on the ``utils`` package and on the pinned
libraries, and a change there would leave the book showing outputs of the old
code. This extension keeps a fingerprint of that code beside the execution
cache. When it differs from the last English build's, it empties the execution
cache and marks every page for re-reading, so the build executes every notebook
again (the model cache still spares the training that did not change). The
Chinese build and the message extraction leave both alone: they read the
English build's outputs and execute nothing.

With it, a successful ``make book`` is the test that every notebook and lab
runs on the current code, and ``make test`` does not need to execute them a
second time.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from pathlib import Path

from sphinx.application import Sphinx

# What a notebook's outputs depend on besides its own cells.
CODE = ("utils/**/*.py", "pyproject.toml", "requirements-lock.txt", "references.bib")
FINGERPRINT_FILE = "course-code.sha256"


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", forget_outputs_of_old_code)
    app.connect("env-get-outdated", reread_everything_after_a_code_change)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def fingerprint(root: Path, patterns: Iterable[str] = CODE) -> str:
    """SHA-256 over the paths and contents of the files that make a notebook's outputs."""
    digest = hashlib.sha256()
    files = sorted({path for pattern in patterns for path in root.glob(pattern) if path.is_file()})
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def execution_cache(app: Sphinx) -> Path:
    configured = app.config.nb_execution_cache_path
    return Path(configured) if configured else Path(app.outdir).parent / ".jupyter_cache"


def executes_notebooks(app: Sphinx) -> bool:
    """Only the English HTML build executes; the Chinese one and the message extraction
    read its cache, so they must neither empty it nor record the code they saw."""
    return app.builder.name != "gettext" and (app.config.language or "en") == "en"


def forget_outputs_of_old_code(app: Sphinx) -> None:
    if not executes_notebooks(app):
        return
    cache = execution_cache(app)
    marker = cache.parent / FINGERPRINT_FILE
    now = fingerprint(Path(app.srcdir))
    before = marker.read_text().strip() if marker.exists() else None
    app.course_code_changed = before != now
    if app.course_code_changed and cache.exists():
        shutil.rmtree(cache)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(now + "\n")


def reread_everything_after_a_code_change(app: Sphinx, env, added, changed, removed) -> list[str]:
    if not getattr(app, "course_code_changed", False):
        return []
    return sorted(set(env.found_docs) - set(added) - set(removed))
