"""Chapter 6: calibration within groups, demographic parity on a score, reweighing.

Reliability curves against scikit-learn's ``calibration_curve``, predictive
parity against fairlearn's ``MetricFrame``, reweighing weights against a hand
computation. Thresholds on the résumé data come from a pilot over splits 0 to
9, quoted beside each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_score

from utils.fairness import (
    calibration_by_group,
    calibration_experiment,
    equal_selection_scores,
    positive_predictive_value,
    predictive_parity_difference,
    quantile_edges,
    reliability,
    resume_audit,
    reweighing_weights,
    weighted_cell_shares,
)


def _calibrated_sample(seed: int, n: int = 3000):
    """Scores drawn per group with different base rates, and labels drawn from the scores."""
    rng = np.random.default_rng(seed)
    groups = rng.choice(["a", "b"], n)
    scores = np.where(groups == "a", rng.beta(2, 8, n), rng.beta(4, 6, n))
    return scores, (rng.random(n) < scores).astype(int), groups


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_reliability_equals_sklearn_calibration_curve(strategy):
    scores, y, groups = _calibrated_sample(0)
    for g in ("a", "b"):
        own = scores[groups == g]
        edges = (np.linspace(0, 1, 9) if strategy == "uniform"
                 else np.quantile(own, np.linspace(0, 1, 9)))
        ours = reliability(own, y[groups == g], np.full(own.size, g), edges)
        observed, predicted = calibration_curve(y[groups == g], own, n_bins=8, strategy=strategy)
        assert np.allclose(ours["observed_rate"], observed)
        assert np.allclose(ours["mean_score"], predicted)


def test_calibration_error_small_for_calibrated_large_for_shifted():
    scores, y, groups = _calibrated_sample(1)
    edges = quantile_edges(scores, 10)
    calibrated = calibration_by_group(scores, y, groups, edges)
    assert calibrated["calibration_error"].max() < 0.04  # sampling noise alone
    assert np.allclose(calibrated["base_rate"], [y[groups == g].mean() for g in ("a", "b")])
    shifted = calibration_by_group(np.clip(scores + 0.1, 0, 1), y, groups, edges)
    assert shifted["calibration_error"].min() > 0.08
    assert shifted["in_the_large"].min() > 0.08


def test_equal_selection_scores_equalise_every_threshold_and_keep_order():
    scores, _, groups = _calibrated_sample(2)
    mapped = equal_selection_scores(scores, groups, scores, groups)
    for threshold in np.quantile(scores, [0.2, 0.5, 0.8, 0.95]):
        rates = [np.mean(mapped[groups == g] >= threshold) for g in ("a", "b")]
        assert abs(rates[0] - rates[1]) < 0.02
    for g in ("a", "b"):
        order = np.argsort(scores[groups == g])
        assert np.all(np.diff(mapped[groups == g][order]) >= 0)
    before = [np.mean(scores[groups == g] >= np.median(scores)) for g in ("a", "b")]
    assert abs(before[0] - before[1]) > 0.3  # the control: the raw scores were far apart


def test_predictive_parity_equals_fairlearn_metric_frame():
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    groups = rng.choice(["a", "b", "c"], 500)
    frame = MetricFrame(metrics=lambda t, q: precision_score(t, q, zero_division=0),
                        y_true=y, y_pred=p, sensitive_features=groups)
    assert predictive_parity_difference(y, p, sensitive_features=groups) == pytest.approx(
        frame.difference())
    assert positive_predictive_value(y, np.zeros(500)) == 0.0


def test_reweighing_weights_by_hand_and_independence():
    groups = np.array(["a"] * 6 + ["b"] * 4)
    y = np.array([1, 1, 1, 1, 0, 0, 1, 0, 0, 0])
    # P(a) = .6, P(b) = .4, P(y=1) = .5; cells: (a,1) .4, (a,0) .2, (b,1) .1, (b,0) .3.
    expected = {("a", 1): .6 * .5 / .4, ("a", 0): .6 * .5 / .2,
                ("b", 1): .4 * .5 / .1, ("b", 0): .4 * .5 / .3}
    weights = reweighing_weights(groups, y)
    assert np.allclose(weights, [expected[(g, label)] for g, label in zip(groups, y, strict=True)])
    shares = weighted_cell_shares(groups, y, weights)
    assert np.allclose(shares.to_numpy(), np.outer([.6, .4], [.5, .5]))  # rows a, b; cols 0, 1
    assert weights.sum() == pytest.approx(len(y))  # the data keep their size
    raw = weighted_cell_shares(groups, y, np.ones(len(y)))
    assert not np.allclose(raw.to_numpy(), np.outer(raw.sum(axis=1), raw.sum(axis=0)))


def test_reweighing_the_audit_gives_each_race_the_overall_call_back_rate():
    frame = resume_audit()
    weights = reweighing_weights(frame["race"], frame["called"])
    for race in ("white", "black"):
        mine = (frame["race"] == race).to_numpy()
        rate = np.average(frame["called"].to_numpy()[mine], weights=weights[mine])
        assert rate == pytest.approx(frame["called"].mean())


def test_parity_on_the_resume_score_breaks_calibration_within_groups():
    # Pilot, splits 0-9, held-out half: calibration in the large of the model score
    # black -0.001 to +0.008, white -0.006 to +0.000; after equal selection rates
    # black +0.011 to +0.023, white -0.020 to -0.014 (base rates 0.064 and 0.096).
    table = calibration_experiment(resume_audit(), seeds=(0, 1, 2))
    test = table[table["split"] == "test"].set_index(["score", "group", "seed"])
    before, after = test.loc["model score"], test.loc["equal selection rates"]
    assert before["in_the_large"].abs().max() < 0.01
    assert after.loc["black", "in_the_large"].min() > 0.01
    assert after.loc["white", "in_the_large"].max() < -0.01
    # Independence: the group means of the score, far apart before, close after.
    gap = lambda t: (t.loc["white", "mean_score"] - t.loc["black", "mean_score"]).abs()  # noqa: E731
    assert gap(before).min() > 0.015 and gap(after).max() < 0.01
