"""Group fairness metrics with fairlearn's call shape ``(y_true, y_pred, *, sensitive_features)``.

Chapter 6. Each ``*_difference`` is the largest minus the smallest per-group
value (fairlearn's default ``method="between_groups"``), so it works for two
groups or more:

- demographic parity: P(Y_hat = 1 | A = a) equal for every group a;
- equal opportunity: true-positive rates equal;
- equalized odds: true- and false-positive rates both equal (Hardt et al. 2016),
  reported as the larger of the two differences;
- predictive parity: among those selected, the share of positives
  P(Y = 1 | Y_hat = 1, A = a) equal for every group (Chouldechova 2017), the
  half of sufficiency (calibration within groups) that a decision's
  "selected" value carries.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["selection_rate", "true_positive_rate", "false_positive_rate", "by_group",
           "demographic_parity_difference", "equal_opportunity_difference",
           "equalized_odds_difference", "positive_predictive_value",
           "predictive_parity_difference", "group_report"]


def _arrays(y_true, y_pred, sensitive_features) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    groups = np.asarray(sensitive_features).ravel()
    if not len(y_true) == len(y_pred) == len(groups):
        raise ValueError(f"y_true, y_pred and sensitive_features must have the same length; got "
                         f"{len(y_true)}, {len(y_pred)}, {len(groups)}")
    return y_true, y_pred, groups


def selection_rate(y_true, y_pred) -> float:
    """P(Y_hat = 1): the share selected (``y_true`` is unused, as in fairlearn)."""
    return float(np.mean(np.asarray(y_pred) == 1))


def true_positive_rate(y_true, y_pred) -> float:
    """P(Y_hat = 1 | Y = 1); 0 when there are no positives (fairlearn's convention)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    positives = y_true == 1
    return float(np.mean(y_pred[positives] == 1)) if positives.any() else 0.0


def false_positive_rate(y_true, y_pred) -> float:
    """P(Y_hat = 1 | Y = 0); 0 when there are no negatives."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    negatives = y_true != 1
    return float(np.mean(y_pred[negatives] == 1)) if negatives.any() else 0.0


def positive_predictive_value(y_true, y_pred) -> float:
    """P(Y = 1 | Y_hat = 1); 0 when nobody is selected (scikit-learn's ``zero_division=0``)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    selected = y_pred == 1
    return float(np.mean(y_true[selected] == 1)) if selected.any() else 0.0


def by_group(metric, y_true, y_pred, *, sensitive_features) -> pd.Series:
    """``metric(y_true, y_pred)`` computed separately on each group, indexed by group."""
    y_true, y_pred, groups = _arrays(y_true, y_pred, sensitive_features)
    values = {g: metric(y_true[groups == g], y_pred[groups == g]) for g in np.unique(groups)}
    return pd.Series(values, name=getattr(metric, "__name__", "metric"))


def _spread(metric, y_true, y_pred, sensitive_features) -> float:
    values = by_group(metric, y_true, y_pred, sensitive_features=sensitive_features)
    return float(values.max() - values.min())


def demographic_parity_difference(y_true, y_pred, *, sensitive_features) -> float:
    """Largest minus smallest per-group selection rate."""
    return _spread(selection_rate, y_true, y_pred, sensitive_features)


def equal_opportunity_difference(y_true, y_pred, *, sensitive_features) -> float:
    """Largest minus smallest per-group true-positive rate."""
    return _spread(true_positive_rate, y_true, y_pred, sensitive_features)


def equalized_odds_difference(y_true, y_pred, *, sensitive_features) -> float:
    """The larger of the true-positive-rate and false-positive-rate differences."""
    return max(_spread(true_positive_rate, y_true, y_pred, sensitive_features),
               _spread(false_positive_rate, y_true, y_pred, sensitive_features))


def predictive_parity_difference(y_true, y_pred, *, sensitive_features) -> float:
    """Largest minus smallest per-group positive predictive value (precision)."""
    return _spread(positive_predictive_value, y_true, y_pred, sensitive_features)


def group_report(y_true, y_pred, *, sensitive_features) -> pd.DataFrame:
    """Per group: size, base rate, selection rate, TPR, FPR and accuracy, one row each."""
    y_true, y_pred, groups = _arrays(y_true, y_pred, sensitive_features)
    rows = {}
    for g in np.unique(groups):
        t, p = y_true[groups == g], y_pred[groups == g]
        rows[g] = {"n": len(t), "base_rate": float(np.mean(t == 1)),
                   "selection_rate": selection_rate(t, p), "tpr": true_positive_rate(t, p),
                   "fpr": false_positive_rate(t, p), "accuracy": float(np.mean(t == p))}
    return pd.DataFrame.from_dict(rows, orient="index")
