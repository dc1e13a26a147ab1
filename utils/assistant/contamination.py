"""Contamination: how much of an evaluation prompt a training set already contains. Chapter 5.

A benchmark measures generalisation only if its prompts were not trained on.
The usual check counts word n-grams an evaluation prompt shares with the
training data (GPT-3's report used 13-grams); a prompt shorter than ``n`` words
counts as one n-gram, itself, so a copied short prompt is still caught.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["contaminated", "ngram_overlap", "ngrams"]


def ngrams(words: Sequence[str], n: int) -> set[tuple[str, ...]]:
    """The word n-grams of ``words``; the whole sequence if it is shorter than ``n``."""
    if n < 1:
        raise ValueError(f"n must be at least 1; got {n!r}")
    words = tuple(words)
    if len(words) <= n:
        return {words} if words else set()
    return {words[i:i + n] for i in range(len(words) - n + 1)}


def ngram_overlap(train: Iterable[Sequence[str]], evaluation: Iterable[Sequence[str]],
                  n: int) -> list[float]:
    """For each evaluation prompt, the share of its n-grams that occur in ``train``."""
    seen: set[tuple[str, ...]] = set()
    for prompt in train:
        seen |= ngrams(prompt, n)
    shares = []
    for prompt in evaluation:
        grams = ngrams(prompt, n)
        shares.append(len(grams & seen) / len(grams) if grams else 0.0)
    return shares


def contaminated(train: Iterable[Sequence[str]], evaluation: Iterable[Sequence[str]],
                 n: int, threshold: float = 1.0) -> float:
    """The share of evaluation prompts whose n-gram overlap with ``train`` is >= ``threshold``.

    With ``threshold=1`` a prompt counts when every one of its n-grams was
    trained on; lower thresholds flag partial overlap too.
    """
    shares = ngram_overlap(train, evaluation, n)
    if not shares:
        raise ValueError("no evaluation prompts")
    return sum(s >= threshold for s in shares) / len(shares)
