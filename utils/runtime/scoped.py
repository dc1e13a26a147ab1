"""Change a global or a model's setting for one block, and always put it back. Chapter 4.

Library code of the course never leaves global state behind it. Three
settings would otherwise leak out of a function into the caller's session:

- ``local_seed(seed)``: PyTorch's global random stream (which dropout and
  ``nn.init`` draw from, and which takes no ``torch.Generator``) starts from
  ``seed`` inside the block; afterwards it continues exactly where the
  caller's stream was, as if the block had never drawn from it;
- ``eval_mode(model)``: the model and every submodule in evaluation mode
  (dropout off) inside the block; each one's own training flag is restored
  afterwards, even when the block raises;
- ``num_threads(n)`` and ``one_cpu_thread()``: PyTorch's CPU thread count.

Notebooks seed their own session with ``utils.notebook.set_seed`` in their
first cells; library functions use these instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from utils.runtime.device import get_device

__all__ = ["eval_mode", "local_seed", "num_threads", "one_cpu_thread"]


@contextlib.contextmanager
def local_seed(seed: int) -> Iterator[None]:
    """Seed PyTorch's global generators with ``seed`` for the block only. Chapter 4.

    The same ``seed`` gives the same draws inside the block as
    ``torch.manual_seed(seed)`` would, so results are reproducible; the
    caller's generator state (CPU, and CUDA when present) is restored on exit.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in evaluation mode for the block; restore every submodule's mode. Chapter 4.

    Restoring each submodule's own flag (not just the model's) matters when
    they differ: a classifier in training whose frozen encoder stays in
    evaluation mode comes back exactly so. Gradients are not switched off:
    wrap the block in ``torch.no_grad()`` when none are needed.
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training


@contextlib.contextmanager
def num_threads(n: int) -> Iterator[None]:
    """Run PyTorch's CPU operations on ``n`` threads for the block, then restore the count."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the number of threads must be a positive integer; got {n!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def one_cpu_thread() -> Iterator[None]:
    """Run on one CPU thread (nothing changes on a GPU), then restore the setting. Chapter 5.

    Batches of a dozen short sentences are too small to split between threads:
    on a busy 2-core machine two threads ran a training step up to 100 times
    slower than one (measured while writing chapter 5).
    """
    if get_device().type != "cpu":
        yield
        return
    with num_threads(1):
        yield
