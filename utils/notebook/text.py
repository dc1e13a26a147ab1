"""Counts in plain English for the sentences notebooks print ("1 poison set", "4 times").

Layer: top; notebooks import it, nothing in ``utils`` does.
"""

from __future__ import annotations

__all__ = ["counted", "times"]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and ``noun``, the noun in the plural unless ``n`` is exactly 1.

    >>> counted(1, "poison set"), counted(4, "poison set"), counted(0, "copy", "copies")
    ('1 poison set', '4 poison sets', '0 copies')
    >>> counted(12000, "token")
    '12,000 tokens'
    """
    word = noun if n == 1 else (plural or noun + "s")
    return f"{n:,} {word}"


def times(n: int) -> str:
    """How often something happened: "once", "twice", "3 times", "0 times".

    >>> [times(n) for n in (0, 1, 2, 64)]
    ['0 times', 'once', 'twice', '64 times']
    """
    return {1: "once", 2: "twice"}.get(n, f"{n:,} times")
