"""utils.evaluate.roc, the one ROC curve and AUROC of the course, against scikit-learn.

Chapters 8 (membership inference) and 9 (machine-text detection) both read
their detectors through it, so it is checked where they differ most: many
tied scores (losses rounded, ranks), infinite scores (a text the true
language cannot produce), and positives and negatives given apart.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from utils.evaluate import auroc, roc_curve, scores_and_labels


def _scores(seed: int, n: int = 300, decimals: int = 1):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    return np.round(rng.normal(labels * 0.7, 1.0), decimals), labels  # rounding makes ties


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals", [0, 1, 6])  # from mostly ties to almost none
def test_roc_and_auroc_match_scikit_learn(seed, decimals):
    scores, labels = _scores(seed, decimals=decimals)
    assert len(np.unique(scores)) < len(scores) or decimals == 6
    fpr, tpr = roc_curve(scores, labels)
    sk_fpr, sk_tpr, _ = sk_roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc_score(labels, scores))


def test_tied_scores_move_together_and_count_half():
    # One positive and one negative share a score: one diagonal step, area 1/2 of it.
    fpr, tpr = roc_curve([3.0, 2.0, 2.0, 1.0], [1, 1, 0, 0])
    np.testing.assert_allclose(fpr, [0, 0, 0.5, 1])
    np.testing.assert_allclose(tpr, [0, 0.5, 1, 1])
    assert auroc([3.0, 2.0, 2.0, 1.0], [1, 1, 0, 0]) == pytest.approx(0.875)
    assert auroc([1.0, 1.0], [1, 0]) == 0.5


def test_infinite_scores_are_ordinary_extremes():
    assert auroc([math.inf, 2.0, 1.0, -math.inf], [1, 1, 0, 0]) == 1.0
    finite = auroc([1e9, 2.0, 1.0, -1e9], [0, 1, 0, 1])
    assert auroc([math.inf, 2.0, 1.0, -math.inf], [0, 1, 0, 1]) == finite
    fpr, tpr = roc_curve([math.inf, -math.inf], [1, 0])
    np.testing.assert_allclose(fpr, [0, 0, 1])
    np.testing.assert_allclose(tpr, [0, 1, 1])


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="both classes"):
        auroc([1.0, 2.0], [1, 1])
    with pytest.raises(ValueError, match="NaN"):
        roc_curve([1.0, math.nan], [1, 0])
    with pytest.raises(ValueError, match="equally long"):
        roc_curve([1.0, 2.0, 3.0], [1, 0])


def test_scores_and_labels_pools_two_groups():
    members, outsiders = np.array([0.5, 2.0]), np.array([1.0, -1.0, 0.0])
    scores, labels = scores_and_labels(members, outsiders)
    np.testing.assert_array_equal(scores, [0.5, 2.0, 1.0, -1.0, 0.0])
    np.testing.assert_array_equal(labels, [1, 1, 0, 0, 0])
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
