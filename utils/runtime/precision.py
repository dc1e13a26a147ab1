"""Pick the arithmetic precision of the output layer once per process. Performance page.

Like the device (``utils.runtime.device.get_device``), the precision is one
choice for the whole process, read from ``$COURSE_PRECISION``:

- ``float32`` (the default): every matrix product in float32, as everywhere else.
- ``bfloat16``: the language model's output layer and loss (the largest matrix
  products of a training step) multiply in bfloat16, accumulating in float32;
  the softmax, the loss, the LSTM and the optimizer stay in float32. Used only
  where the hardware multiplies bfloat16 natively (``bf16_supported``); elsewhere
  the process falls back to float32, since emulated bfloat16 is slower, not faster.
- ``auto``: ``bfloat16`` where supported, else ``float32``.

The default is float32 because a cached model must not depend on which machine
trained it; the performance page measures what bfloat16 gains, and
``tests/test_precision.py`` checks that a notebook-sized run's validation
perplexity stays within 1 % of float32's.
"""

from __future__ import annotations

import functools
import os

import torch

from utils.runtime.device import get_device

__all__ = ["PRECISIONS", "bf16_supported", "get_precision", "matmul_dtype"]

PRECISIONS = ("float32", "bfloat16", "auto")


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices in hardware (AVX-512 BF16 or AMX; a GPU)."""
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():
        return False
    cpu = getattr(torch, "cpu", None)
    checks = [getattr(cpu, name, None) for name in ("_is_avx512_bf16_supported",
                                                    "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


@functools.cache
def get_precision(device: torch.device | None = None) -> str:
    """``float32`` or ``bfloat16``: ``$COURSE_PRECISION`` resolved for ``device``.

    Explained on the performance page. ``device`` defaults to ``get_device()``.
    ``bfloat16`` (asked for, or chosen by ``auto``) falls back to ``float32`` on a
    device without native bfloat16 matrix products.
    """
    device = get_device() if device is None else torch.device(device)
    asked = os.environ.get("COURSE_PRECISION", "").strip().lower() or "float32"
    aliases = {"fp32": "float32", "bf16": "bfloat16"}
    asked = aliases.get(asked, asked)
    if asked not in PRECISIONS:
        raise ValueError(f"COURSE_PRECISION={asked!r}; use one of {PRECISIONS}")
    if asked == "float32":
        return "float32"
    return "bfloat16" if bf16_supported(device) else "float32"


def matmul_dtype(device: torch.device | None = None) -> torch.dtype | None:
    """The dtype the output layer multiplies in: ``torch.bfloat16``, or None for float32."""
    return torch.bfloat16 if get_precision(device) == "bfloat16" else None
