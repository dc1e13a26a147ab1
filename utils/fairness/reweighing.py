"""Reweighing: training data in which group and label are independent. Chapter 6.

Kamiran & Calders (2012) give each (group, label) cell the weight

    w(a, y) = P(A = a) P(Y = y) / P(A = a, Y = y),

the ratio of the cell's frequency if group and label were independent to its
observed frequency. Under these weights every group has the overall base rate
and keeps its share of the data, so a model trained on them sees no
association between group and label; it changes the data, not the learner.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["reweighing_weights", "weighted_cell_shares"]


def reweighing_weights(groups, y_true) -> np.ndarray:
    """One weight per example, P(group) P(label) / P(group, label) of its cell."""
    groups, y_true = np.asarray(groups).ravel(), np.asarray(y_true).ravel()
    if len(groups) != len(y_true):
        raise ValueError(f"groups and y_true must have the same length; got "
                         f"{len(groups)} and {len(y_true)}")
    weights = np.empty(len(groups), dtype=float)
    for g in np.unique(groups):
        in_group = groups == g
        for label in np.unique(y_true):
            cell = in_group & (y_true == label)
            if cell.any():
                weights[cell] = in_group.mean() * np.mean(y_true == label) / cell.mean()
    return weights


def weighted_cell_shares(groups, y_true, weights) -> pd.DataFrame:
    """The weighted share of each (group, label) cell: rows groups, columns labels, sum 1."""
    frame = pd.DataFrame({"group": np.asarray(groups).ravel(),
                          "label": np.asarray(y_true).ravel(),
                          "weight": np.asarray(weights, dtype=float).ravel()})
    table = frame.pivot_table(index="group", columns="label", values="weight",
                              aggfunc="sum", fill_value=0.0)
    return table / table.to_numpy().sum()
