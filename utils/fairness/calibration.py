"""Calibration within groups, and what demographic parity does to it. Chapter 6.

Two criteria from Barocas, Hardt & Narayanan's book, for a score S, an outcome
Y and a group A:

- *independence* (demographic parity for a score): S is independent of A, so
  every threshold selects the same share of every group;
- *sufficiency* (calibration within groups): P(Y = 1 | S = s, A = a) = s for
  every group a, so a score means the same whatever the group.

When the groups' base rates P(Y = 1 | A = a) differ, no score satisfies both:
the mean score of a calibrated group equals its base rate, and equal score
distributions force equal means. ``equal_selection_scores`` imposes independence
on a score, and ``calibration_by_group`` measures what it does to sufficiency.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from utils.fairness.decisions import resume_design, split_audit

__all__ = ["quantile_edges", "reliability", "calibration_by_group", "equal_selection_scores",
           "calibration_experiment"]


def quantile_edges(scores, n_bins: int) -> np.ndarray:
    """Bin edges at the quantiles of ``scores``, widened to [0, 1] so every score falls in a bin."""
    edges = np.quantile(np.asarray(scores, dtype=float), np.linspace(0, 1, n_bins + 1))
    edges[0], edges[-1] = 0.0, 1.0
    return edges


def _bin_ids(scores: np.ndarray, edges: np.ndarray) -> np.ndarray:
    # Bins are (e[i-1], e[i]], the lowest closed below: scikit-learn's calibration_curve rule.
    return np.searchsorted(edges[1:-1], scores)


def reliability(scores, y_true, groups, edges) -> pd.DataFrame:
    """Per group and non-empty bin: size, mean score and observed positive rate."""
    scores, y_true = np.asarray(scores, dtype=float), np.asarray(y_true)
    groups, edges = np.asarray(groups), np.asarray(edges, dtype=float)
    bins = _bin_ids(scores, edges)
    rows = []
    for g in np.unique(groups):
        for b in np.unique(bins[groups == g]):
            inside = (groups == g) & (bins == b)
            rows.append({"group": g, "bin": int(b), "n": int(inside.sum()),
                         "mean_score": float(scores[inside].mean()),
                         "observed_rate": float(np.mean(y_true[inside] == 1))})
    return pd.DataFrame(rows)


def calibration_by_group(scores, y_true, groups, edges) -> pd.DataFrame:
    """Per group: size, base rate, mean score, their difference and the binned calibration error.

    ``in_the_large`` is mean score minus base rate (positive: the score promises
    more positives than the group has). ``calibration_error`` is the expected
    calibration error, the bins' |mean score - observed rate| weighted by their
    share of the group.
    """
    table = reliability(scores, y_true, groups, edges)
    table["gap"] = (table["mean_score"] - table["observed_rate"]).abs()
    out = {}
    for g, part in table.groupby("group"):
        n = part["n"].sum()
        weights = part["n"] / n
        base_rate = float((part["observed_rate"] * weights).sum())
        mean_score = float((part["mean_score"] * weights).sum())
        out[g] = {"n": int(n), "base_rate": base_rate, "mean_score": mean_score,
                  "in_the_large": mean_score - base_rate,
                  "calibration_error": float((part["gap"] * weights).sum())}
    return pd.DataFrame.from_dict(out, orient="index")


def equal_selection_scores(fit_scores, fit_groups, scores, groups) -> np.ndarray:
    """Each score moved to the pooled quantile of its rank within its own group.

    The ranks and the pooled distribution come from the fitted half
    (``fit_scores``, ``fit_groups``). There every group ends with the same score
    distribution, so any single threshold on the new score is a set of group
    thresholds with equal selection rates: demographic parity at every
    threshold at once. The order within a group is kept.
    """
    fit_scores, fit_groups = np.asarray(fit_scores, dtype=float), np.asarray(fit_groups)
    scores, groups = np.asarray(scores, dtype=float), np.asarray(groups)
    out = np.empty_like(scores)
    for g in np.unique(groups):
        own = np.sort(fit_scores[fit_groups == g])
        if own.size == 0:
            raise ValueError(f"group {g!r} does not occur in the fitted scores")
        mine = groups == g
        below = np.searchsorted(own, scores[mine], side="left")
        at_most = np.searchsorted(own, scores[mine], side="right")
        rank = (below + at_most) / (2 * own.size)  # mid-rank: ties share one quantile
        out[mine] = np.quantile(fit_scores, np.clip(rank, 0.0, 1.0))
    return out


def _scores_by_split(frame: pd.DataFrame, seed: int, group: str, n_bins: int):
    """Yield (half, score name, scores, labels, groups, bin edges) for one split."""
    train, test = split_audit(frame, seed)
    columns = resume_design(frame, group)[0].columns
    x, y, a = resume_design(train, group)
    model = LogisticRegression(max_iter=2000).fit(x.reindex(columns=columns, fill_value=0.0), y)
    fit_scores = model.predict_proba(x.reindex(columns=columns, fill_value=0.0))[:, 1]
    edges = quantile_edges(fit_scores, n_bins)
    for split, part in (("train", train), ("test", test)):
        xs, ys, gs = resume_design(part, group)
        s = model.predict_proba(xs.reindex(columns=columns, fill_value=0.0))[:, 1]
        yield split, "model score", s, ys, gs, edges
        yield split, "equal selection rates", equal_selection_scores(fit_scores, a, s, gs), \
            ys, gs, edges


def calibration_experiment(frame: pd.DataFrame, seeds=(0, 1, 2), *, group: str = "race",
                           n_bins: int = 5, per_bin: bool = False) -> pd.DataFrame:
    """For each split: a probability model's calibration within groups, before and after parity.

    The model is a logistic regression on the résumé and the first name without
    class weights, so its scores estimate P(call-back). "model score" is its
    score; "equal selection rates" is the same score after
    ``equal_selection_scores``. One row per seed, half, score and group, with
    the columns of ``calibration_by_group``, or with ``per_bin`` one row per
    bin too, with those of ``reliability``. The bins are quantiles of the
    fitted half's model scores.
    """
    measure = reliability if per_bin else calibration_by_group
    tables = []
    for seed in seeds:
        for split, score, values, y, groups, edges in _scores_by_split(frame, seed, group, n_bins):
            table = measure(values, y, groups, edges)
            if not per_bin:
                table = table.rename_axis("group").reset_index()
            tables.append(table.assign(seed=seed, split=split, score=score))
    out = pd.concat(tables, ignore_index=True)
    first = ["seed", "split", "score", "group"]
    return out[first + [c for c in out.columns if c not in first]]
