"""Pick the compute device once per process. Chapter 4.

Seeding a whole session is a notebook's business (``utils.notebook.set_seed``);
library functions take a seed and use a ``torch.Generator`` or
``utils.runtime.scoped.local_seed``.
"""

from __future__ import annotations

import functools
import os

import torch

__all__ = ["get_device"]


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

