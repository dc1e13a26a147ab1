"""Pick the compute device once, and seed every random number generator of a session.

Explained in chapter 4. The device is chosen once per process. ``set_seed``
seeds Python, NumPy and PyTorch together so that a notebook's run can be
repeated exactly; only a notebook's first cells call it. Library functions
never reseed the global streams: they take a seed and use a
``torch.Generator`` or ``utils.lm.scoped.local_seed``.
"""

from __future__ import annotations

import functools
import os
import random

import numpy as np
import torch

__all__ = ["get_device", "set_seed"]


@functools.lru_cache(maxsize=1)
def get_device() -> torch.device:
    """Return the device every notebook uses: ``$COURSE_DEVICE``, else CUDA when present, else CPU.

    Explained in chapter 4.
    """
    forced = os.environ.get("COURSE_DEVICE", "").strip()
    if forced:
        try:
            device = torch.device(forced)
        except RuntimeError as err:
            raise ValueError(
                f"COURSE_DEVICE={forced!r} is not a device torch knows; use 'cpu' or 'cuda'"
            ) from err
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"COURSE_DEVICE={forced!r} asks for CUDA, but no GPU is available")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and PyTorch's random number generators with ``seed``.

    Explained in chapter 4. For a notebook's first cells: it changes the whole
    session's random streams, which no library function of the course does.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
