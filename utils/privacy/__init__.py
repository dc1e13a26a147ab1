"""Privacy: exposure of planted secrets, membership inference, DP-SGD. Chapter 8.
"""

from __future__ import annotations

from utils.privacy.exposure import (  # noqa: F401
    exposure,
)

__all__ = [
    "exposure",
]
