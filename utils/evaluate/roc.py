"""ROC curves and the area under them, for any detector that scores items. Chapters 8 and 9.

One call shape, scikit-learn's ``(scores, labels)``: a higher score means
"more likely positive" (a training-set member in chapter 8, machine text in
chapter 9), and label 1 marks the positives. ``scores_and_labels`` builds that
pair from the positives' and the negatives' scores given apart.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

__all__ = ["auroc", "roc_curve", "scores_and_labels"]


def scores_and_labels(positive_scores, negative_scores) -> tuple[np.ndarray, np.ndarray]:
    """The positives' and the negatives' scores as one ``(scores, labels)`` pair. Chapters 8, 9.

    ``roc_curve(*scores_and_labels(members, non_members))`` is the ROC curve of
    a membership attack whose scores were kept in two arrays.
    """
    pos = np.asarray(positive_scores, dtype=float).reshape(-1)
    neg = np.asarray(negative_scores, dtype=float).reshape(-1)
    return np.concatenate([pos, neg]), np.r_[np.ones(len(pos), int), np.zeros(len(neg), int)]


def _check_scores(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels).astype(int)
    if s.shape != y.shape or s.ndim != 1:
        raise ValueError(f"scores and labels must be 1-d and equally long; "
                         f"got {s.shape}, {y.shape}")
    if not set(np.unique(y)) == {0, 1}:
        raise ValueError("labels must contain both classes, 1 (positive) and 0 (negative)")
    if np.isnan(s).any():
        raise ValueError("scores must not be NaN")
    return s, y


def roc_curve(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    """False- and true-positive rates at every threshold, from (0, 0) to (1, 1). Chapters 8 and 9.

    An item is flagged positive when its score is at least the threshold. Tied
    scores move together, so the curve has one point per distinct score. Scores
    may be infinite.
    """
    s, y = _check_scores(scores, labels)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_tie = np.r_[s[1:] != s[:-1], True]  # (n,): the end of each group of equal scores
    tp = np.cumsum(y)[last_of_tie]
    fp = np.cumsum(1 - y)[last_of_tie]
    return np.r_[0.0, fp / fp[-1]], np.r_[0.0, tp / tp[-1]]


def auroc(scores, labels) -> float:
    """Area under the ROC curve: P(a positive outscores a negative), ties half. Chapters 8, 9.

    The Mann-Whitney form, from mid-ranks, so infinite scores are fine.
    """
    s, y = _check_scores(scores, labels)
    ranks = rankdata(s)  # mid-ranks of tied scores
    n_pos, n_neg = int(y.sum()), int((1 - y).sum())
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
