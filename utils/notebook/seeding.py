"""Seed a notebook's whole session: Python's, NumPy's and PyTorch's global streams. Chapter 4.

Only a notebook's (or lab's) first cells call ``set_seed``: it changes every
random stream of the session, which no library function of the course does
(they take a seed and draw inside ``utils.runtime.local_seed`` or from a
``torch.Generator``; ``tests/test_global_seeding.py`` checks it).
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["set_seed"]


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators with ``seed``. Chapter 4."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
