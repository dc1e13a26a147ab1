"""Train independent small models side by side, one process per core. Performance page.

A grid of small LSTMs (chapter 10's scaling law) is many runs that share
nothing but their data. One small run cannot keep two cores busy (its matrix
products are too small to split), but two runs can, one each. ``parallel_map``
calls a function on each item in a pool of worker processes, every call on one
CPU thread, and returns the results in the items' order.

The number of workers is ``$COURSE_WORKERS``, by default one per core this
process may use; with one worker, or one item, or on a GPU, the calls run here,
one after another, still on one thread each. Since every call runs on one thread
whatever the number of workers, the numbers do not depend on it. The workers are
started afresh (``spawn``), so the function must be importable from a module,
not defined in a notebook; the model cache lets the workers write their runs
side by side (``utils.runtime.cache``).
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from tqdm.auto import tqdm

from utils.runtime.device import get_device
from utils.runtime.run import is_cached
from utils.runtime.scoped import num_threads

__all__ = ["WORKERS_VARIABLE", "parallel_map", "train_side_by_side", "usable_cores",
           "worker_count"]

WORKERS_VARIABLE = "COURSE_WORKERS"
T = TypeVar("T")
R = TypeVar("R")
C = TypeVar("C")


def usable_cores() -> int:
    """The number of cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_count() -> int:
    """``$COURSE_WORKERS``, else ``usable_cores()``."""
    asked = os.environ.get(WORKERS_VARIABLE, "").strip()
    if asked:
        if not asked.isdigit() or int(asked) < 1:
            raise ValueError(f"{WORKERS_VARIABLE}={asked!r}; give a whole number, at least 1")
        return int(asked)
    return usable_cores()


def _call_on_one_thread(fn: Callable[[T], R], item: T) -> R:
    with num_threads(1):
        return fn(item)


def parallel_map(fn: Callable[[T], R], items: Iterable[T], *,
                 initializer: Callable[..., Any] | None = None,
                 initargs: Sequence[Any] = (), workers: int | None = None,
                 desc: str | None = None) -> list[R]:
    """``[fn(item) for item in items]``, the calls spread over worker processes.

    ``initializer(*initargs)`` runs once in each worker first (and once here when
    the calls run here): hand large shared inputs to it rather than to every call.
    ``desc`` names a progress bar, which counts finished calls; None shows none.
    """
    items = list(items)
    workers = min(worker_count() if workers is None else workers, len(items))
    bar = tqdm(total=len(items), desc=desc, unit="run", disable=desc is None)
    try:
        if workers > 1 and get_device().type == "cpu":
            try:
                return _in_workers(fn, items, initializer, tuple(initargs), workers, bar)
            except BrokenProcessPool as err:  # e.g. a sandbox that allows no new processes
                warnings.warn(f"worker processes failed ({err}); running the calls here",
                              RuntimeWarning, stacklevel=2)
                bar.reset()
        if initializer is not None:
            initializer(*initargs)
        results = []
        for item in items:
            results.append(_call_on_one_thread(fn, item))
            bar.update(1)
        return results
    finally:
        bar.close()


def _in_workers(fn, items, initializer, initargs, workers, bar) -> list:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=initializer,
                             initargs=initargs) as pool:
        futures = [pool.submit(_call_on_one_thread, fn, item) for item in items]
        for _ in as_completed(futures):
            bar.update(1)
    return [future.result() for future in futures]


def train_side_by_side(train: Callable[[C], R], configs: Iterable[C], *, run_name: str,
                       initializer: Callable[..., Any] | None = None,
                       initargs: Sequence[Any] = (), desc: str | None = None) -> list[R]:
    """``[train(config) for config in configs]``, the runs the cache lacks trained side by side.

    ``train`` is a module-level function that trains (or loads) the cached run
    ``run_name`` of one config, such as chapter 10's ``trained_clip``; the other
    arguments are ``parallel_map``'s. When every run is cached they are loaded
    here, one after another: starting workers (a torch import each) would cost
    more than loading.
    """
    configs = list(configs)
    workers = 1 if all(is_cached(run_name, config) for config in configs) else None
    return parallel_map(train, configs, initializer=initializer, initargs=initargs,
                        workers=workers, desc=desc)
