"""Exposure of a planted secret, computed exactly by ranking every candidate. Used in chapter 8."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral

import numpy as np

__all__ = ["exposure", "extrapolated_exposure"]


def exposure(log_probs: Sequence[float] | np.ndarray, index: int) -> float:
    """Exposure in bits of candidate ``index`` among all candidates (Carlini et al. 2019).

    Used in chapter 8. ``log_probs[i]`` is a model's log-probability of candidate
    i (any base). exposure = log2(number of candidates) - log2(rank), where the
    rank is 1 + the number of candidates scored strictly higher + half the other
    candidates scored equally (so a model that scores all alike gives about 1 bit).
    """
    scores = np.asarray(log_probs, dtype=float).reshape(-1)
    if scores.size == 0:
        raise ValueError("log_probs is empty: exposure needs at least one candidate")
    if np.isnan(scores).any():
        raise ValueError("log_probs holds nan; score every candidate")
    if isinstance(index, bool) or not isinstance(index, Integral) \
            or not 0 <= index < scores.size:
        raise ValueError(f"index must be an integer from 0 to {scores.size - 1} (one of the "
                         f"{scores.size} candidates); got {index!r}")
    target = scores[index]
    higher = int(np.sum(scores > target))
    ties = int(np.sum(scores == target)) - 1
    rank = 1 + higher + ties / 2
    return math.log2(len(scores)) - math.log2(rank)


def extrapolated_exposure(log_probs: Sequence[float] | np.ndarray, index: int) -> float:
    """Exposure beyond the rank's cap, from a skew-normal fit to the other candidates' scores.

    Used in chapter 8, after Carlini et al. (2019): exact exposure stops at
    log2(number of candidates) once the candidate ranks first. Fitting a
    skew-normal distribution to the other candidates' scores and taking
    -log2 P(score >= the candidate's) continues the scale past that cap; where
    the rank is informative the two agree closely.
    """
    from scipy import stats

    scores = np.asarray(log_probs, dtype=float)
    others = np.delete(scores, index)
    shape, loc, scale = stats.skewnorm.fit(others)
    return float(-stats.skewnorm.logsf(scores[index], shape, loc, scale) / math.log(2))
