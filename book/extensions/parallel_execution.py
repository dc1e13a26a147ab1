"""Execute the book's notebooks several at a time, before Sphinx reads them one by one.

A Sphinx extension (``_config.yml``, ``local_extensions``). In ``cache`` mode
myst-nb executes a notebook while Sphinx reads its page, so the pages run one
after another and one core of a two-core machine waits while the other trains.
Before reading starts, this extension finds the notebooks whose code the
execution cache does not hold, executes them in a pool of worker processes
(each notebook in its own kernel, as myst-nb would: same working folder,
timeout and error setting) and stores each result in the execution cache under
the record myst-nb would have written. When Sphinx then reads the pages, myst-nb
finds every notebook in the cache and only renders it.

The pool has ``$COURSE_WORKERS`` workers, by default one per core the process
may use (``utils.runtime.worker_count``); with one, nothing changes. Each kernel
then gets its share of the cores as its thread count (``OMP_NUM_THREADS``, unless
the caller set one) and as its own ``COURSE_WORKERS`` (``utils.runtime.parallel_map``).
Notebooks that load the same model do not train it twice: the model cache lets
one process train while the others wait for it (``utils.runtime.cache``).
Longest first: the order is by each page's execution time in the last build
(``_build/.execution-times.json``), pages never timed first. A notebook that fails
here is left to myst-nb, which runs it again on its own and reports the error as
usual. Only the English HTML build executes (``execution_cache.executes_notebooks``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path, PurePosixPath

import nbformat
from execution_cache import executes_notebooks, execution_cache
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.cache.db import NbProjectRecord
from jupyter_cache.executors.utils import single_nb_execution
from myst_nb.core.read import create_nb_reader
from sphinx.application import Sphinx
from sphinx.util import logging

from utils.runtime.parallel import WORKERS_VARIABLE, usable_cores, worker_count
from utils.runtime.run_log import DOC_VARIABLE

logger = logging.getLogger(__name__)
TIMES_FILE = ".execution-times.json"


def setup(app: Sphinx) -> dict:
    app.connect("env-before-read-docs", execute_ahead)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def execute_ahead(app: Sphinx, env, docnames: list[str]) -> None:
    config = env.mystnb_config
    if config.execution_mode != "cache" or not executes_notebooks(app):
        return
    workers = worker_count()
    cache = get_cache(str(execution_cache(app)))
    pending = [page for page in (_page(env, doc) for doc in docnames)
               if page is not None and not _cached(cache, page["notebook"])]
    if workers < 2 or len(pending) < 2:
        return
    times_file = Path(app.outdir).parent / TIMES_FILE
    last = json.loads(times_file.read_text()) if times_file.exists() else {}
    pending.sort(key=lambda page: -last.get(page["doc"], float("inf")))
    # The kernels share the cores: each gets its part as threads and as workers of its own.
    threads = os.environ.get("OMP_NUM_THREADS") or str(max(1, usable_cores() // workers))
    logger.info(f"executing {len(pending)} notebooks, {workers} at a time, "
                f"{threads} thread(s) each")
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(execute_notebook, page["path"], page["doc"],
                               nbformat.writes(page["notebook"]), config.execution_timeout,
                               config.execution_allow_errors, threads): page
                   for page in pending}
        for done, future in enumerate(as_completed(futures), 1):
            page = futures[future]
            executed, seconds, error = future.result()
            if error is not None:
                logger.warning(f"{page['doc']} failed when executed ahead; it runs again on "
                               f"its own:\n{error[-2000:]}", type="mystnb", subtype="exec")
                continue
            _store(cache, page, nbformat.reads(executed, as_version=4), seconds)
            last[page["doc"]] = round(seconds, 1)
            logger.info(f"[{done}/{len(pending)}] executed {page['doc']} in {seconds:.1f} s")
    logger.info(f"executed {len(pending)} notebooks in {time.perf_counter() - started:.1f} s")
    times_file.write_text(json.dumps(last, indent=1, sort_keys=True) + "\n")


def _page(env, doc: str) -> dict | None:
    """The notebook of page ``doc`` as myst-nb reads it, or None for a page without one."""
    path = Path(env.doc2path(doc))
    config = env.mystnb_config
    posix = PurePosixPath(path.as_posix())
    if any(posix.match(pattern) for pattern in config.execution_excludepatterns):
        return None
    content = path.read_text(encoding="utf-8")
    reader = create_nb_reader(str(path), env.myst_config, config, content)
    if reader is None:
        return None
    notebook = reader.read(content)
    if not any(cell.cell_type == "code" for cell in notebook.cells):
        return None
    return {"doc": doc, "path": str(path), "notebook": notebook, "read_fmt": reader.read_fmt}


def _cached(cache, notebook) -> bool:
    try:
        cache.match_cache_notebook(notebook)
    except KeyError:
        return False
    return True


def _store(cache, page: dict, executed, seconds: float) -> None:
    """Cache an executed notebook exactly as myst-nb's cache client does."""
    if page["read_fmt"] is not None:
        stage = cache.add_nb_to_project(page["path"], read_data=page["read_fmt"])
    else:
        stage = cache.add_nb_to_project(page["path"])
    NbProjectRecord.remove_tracebacks([stage.pk], cache.db)
    cache.cache_notebook_bundle(CacheBundleIn(executed, stage.uri,
                                              data={"execution_seconds": seconds}),
                                check_validity=False, overwrite=True)


def execute_notebook(path: str, doc: str, notebook_json: str, timeout: int | None,
                     allow_errors: bool, threads: str) -> tuple[str | None, float, str | None]:
    """In a worker: run one notebook in its folder; (executed notebook, seconds, error)."""
    # The kernel inherits these: its thread count, and the page it runs for in the run log.
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = threads
    os.environ[WORKERS_VARIABLE] = threads
    os.environ[DOC_VARIABLE] = f"{doc}|{uuid.uuid4().hex[:12]}"
    notebook = nbformat.reads(notebook_json, as_version=4)
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    if result.err is not None:
        return None, result.time, result.exc_string or repr(result.err)
    return nbformat.writes(notebook), result.time, None
