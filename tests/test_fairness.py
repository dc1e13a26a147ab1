"""Chapter 6's library: group metrics equal fairlearn's, WEAT, the real data, post-processing.

Fixed seeds throughout; thresholds that depend on data come from a pilot run
and are stated next to the assertion.
"""

from __future__ import annotations

import itertools
import math

import fairlearn.metrics as fm
import numpy as np
import pytest

from utils.data import CorpusConfig, occupation_she_probability
from utils.fairness import (
    WEAT_TESTS,
    apply_thresholds,
    counterfactual_sentences,
    demographic_parity_difference,
    equal_opportunity_difference,
    equal_tpr_thresholds,
    equalized_odds_difference,
    glove_vectors,
    resume_audit,
    resume_design,
    selection_rate,
    split_audit,
    true_gaps,
    weat,
    weat_effect_size,
    weat_p_value,
)

PAIRS = [(demographic_parity_difference, fm.demographic_parity_difference),
         (equal_opportunity_difference, fm.equal_opportunity_difference),
         (equalized_odds_difference, fm.equalized_odds_difference)]


@pytest.mark.parametrize("seed", range(6))
def test_group_metrics_equal_fairlearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 400))
    y, p = rng.integers(0, 2, n), rng.integers(0, 2, n)
    groups = rng.choice(["a", "b", "c"][: 2 + seed % 2], n)
    for ours, theirs in PAIRS:
        assert ours(y, p, sensitive_features=groups) == pytest.approx(
            theirs(y, p, sensitive_features=groups), abs=1e-12)
    assert selection_rate(y, p) == pytest.approx(fm.selection_rate(y, p))


def test_group_metrics_by_hand():
    y = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    p = np.array([1, 0, 1, 0, 1, 1, 0, 0])
    g = np.array(["a"] * 4 + ["b"] * 4)
    # a: selection 2/4, TPR 1/2, FPR 1/2; b: selection 2/4, TPR 1, FPR 0.
    assert demographic_parity_difference(y, p, sensitive_features=g) == 0.0
    assert equal_opportunity_difference(y, p, sensitive_features=g) == 0.5
    assert equalized_odds_difference(y, p, sensitive_features=g) == 0.5


def _s(w, a, b):
    return np.mean([np.dot(w, x) / np.linalg.norm(w) / np.linalg.norm(x) for x in a]) - \
        np.mean([np.dot(w, x) / np.linalg.norm(w) / np.linalg.norm(x) for x in b])


def test_weat_effect_size_and_exact_p_by_brute_force():
    rng = np.random.default_rng(1)
    x, y, a, b = (rng.normal(size=(4, 5)) + shift for shift in (0.3, 0.0, 0.5, 0.0))
    s = np.array([_s(w, a, b) for w in np.concatenate([x, y])])
    d = (s[:4].mean() - s[4:].mean()) / s.std(ddof=1)
    assert weat_effect_size(x, y, a, b) == pytest.approx(d)
    observed = s[:4].sum() - s[4:].sum()
    stats = [s[list(c)].sum() - np.delete(s, list(c)).sum()
             for c in itertools.combinations(range(8), 4)]
    p_one, exact = weat_p_value(x, y, a, b, n_permutations=None)
    assert exact and p_one == pytest.approx(np.mean(np.array(stats) >= observed - 1e-12))
    p_two, _ = weat_p_value(x, y, a, b, n_permutations=None, alternative="two-sided")
    assert p_two == pytest.approx(np.mean(np.abs(stats) >= abs(observed) - 1e-12))
    # The statistic is antisymmetric under swapping X and Y, so the exact two-sided
    # p is twice the one-sided one when the effect is positive.
    if observed > 0:
        assert p_two == pytest.approx(min(1.0, 2 * p_one))


def test_weat_sampled_p_is_close_to_exact_and_seeded():
    g = glove_vectors()
    x, y, a, b, _ = WEAT_TESTS["math/arts vs male/female terms"]
    exact = weat(g, x, y, a, b, n_permutations=None)
    sampled = weat(g, x, y, a, b, n_permutations=5000, seed=3)
    assert exact.exact and not sampled.exact
    assert sampled == weat(g, x, y, a, b, n_permutations=5000, seed=3)
    assert abs(sampled.p_value - exact.p_value) < 0.01


def test_glove_words_read_in_row_order():
    g = glove_vectors()
    assert len(g.words) == g.matrix.shape[0] == 400_000
    assert g.words[:4] == ("the", ",", ".", "of") and g.words[-1] == "sandberger"
    m = g.matrix / np.linalg.norm(g.matrix, axis=1, keepdims=True)
    query = m[g.index["king"]] - m[g.index["man"]] + m[g.index["woman"]]
    best = [g.words[i] for i in np.argsort(-(m[:50_000] @ query))[:3]]
    assert "queen" in best


def test_weat_on_glove_career_family_significant_control_not():
    # Exact permutation tests (12,870 splits each). Pilot: career/family d = 1.71,
    # p = 7.8e-5; control d = 0.38, p = 0.23 (Caliskan et al. report d = 1.81 on
    # GloVe Common Crawl 840B 300-d; these vectors are GloVe 6B 50-d).
    g = glove_vectors()
    career = weat(g, *WEAT_TESTS["male/female names vs career/family"][:4], n_permutations=None)
    control = weat(g, *WEAT_TESTS["control: names split at random vs career/family"][:4],
                   n_permutations=None)
    assert career.effect_size > 1.0 and career.p_value < 0.05
    assert control.p_value > 0.05


def test_true_gap_is_the_planted_log_odds():
    config = CorpusConfig()
    p = np.array(list(occupation_she_probability(config.gender_skew).values()))
    assert np.allclose(true_gaps(config), np.log(p / (1 - p)))
    assert np.allclose(true_gaps(config, "the {} finished"), np.log(p / (1 - p)))


def test_counterfactual_sentences_balance_the_pronouns():
    text = [["the", "nurse", "said", "that", "she", "was", "busy", "."],
            ["the", "cat", "sat", "on", "the", "mat", "."],
            ["the", "pilot", "finished", "his", "report", "."]]
    out = counterfactual_sentences(text)
    assert out[:3] == text and len(out) == 5  # the scene has nothing to swap
    assert out[3][4] == "he" and out[4][3] == "her"
    words = [w for s in out for w in s]
    assert words.count("she") == words.count("he")


def test_post_processing_equalises_tpr_on_its_split():
    frame = resume_audit()
    # Bertrand & Mullainathan's headline: 9.65 % vs 6.45 % call-backs.
    rates = frame.groupby("race")["called"].mean()
    assert rates["white"] == pytest.approx(0.0965, abs=5e-4)
    assert rates["black"] == pytest.approx(0.0645, abs=5e-4)
    from sklearn.linear_model import LogisticRegression
    train, test = split_audit(frame, seed=0)
    x, y, a = resume_design(train)
    model = LogisticRegression(class_weight="balanced", max_iter=2000).fit(x, y)
    scores = model.predict_proba(x)[:, 1]
    thresholds = equal_tpr_thresholds(scores, y, a, target_tpr=0.6)
    fitted = apply_thresholds(scores, a, thresholds)
    assert equal_opportunity_difference(y, fitted, sensitive_features=a) < 0.03
    for g in ("white", "black"):
        n_pos = int(((a == g) & (y == 1)).sum())
        tpr = fitted[(a == g) & (y == 1)].mean()
        assert 0.6 <= tpr < 0.6 + 1 / n_pos + 1e-12
    xt, yt, at = resume_design(test)
    held_out = apply_thresholds(model.predict_proba(xt.reindex(columns=x.columns,
                                                               fill_value=0.0))[:, 1],
                                at, thresholds)
    gap = equal_opportunity_difference(yt, held_out, sensitive_features=at)
    assert math.isfinite(gap) and 0.0 <= gap <= 1.0  # reported, not promised


def test_remedies_shrink_the_disparity_they_target():
    # Split seed 0, race audited, equalized-odds constraint. Pilot on the fitted half:
    # EO difference unconstrained 0.18, constraint in training 0.012, group thresholds'
    # TPR difference 0.003, ThresholdOptimizer's 0.016; held out: 0.29, 0.05, 0.11, 0.04.
    # Reweighed data: DP difference 0.016 fitted (unconstrained 0.19), EO difference
    # 0.10 held out.
    from utils.fairness import remedy_experiment
    results = remedy_experiment(resume_audit(), seeds=(0,)).set_index(["split", "model"])
    fit = results.loc["train"]
    assert fit.loc["unconstrained", "eo_difference"] > 0.1
    assert fit.loc["constraint in training", "eo_difference"] < 0.05
    assert fit.loc["group thresholds", "tpr_difference"] < 0.03
    assert fit.loc["ThresholdOptimizer", "tpr_difference"] < 0.03
    assert fit.loc["reweighed data", "dp_difference"] < 0.05
    held_out = results.loc["test"]
    for model in ("reweighed data", "constraint in training", "group thresholds",
                  "ThresholdOptimizer"):
        assert held_out.loc[model, "eo_difference"] < held_out.loc["unconstrained", "eo_difference"]


def test_the_name_list_filters_people_not_words():
    from utils.fairness import person_names

    names = person_names()
    assert {"mary", "john", "denise", "monique", "smith"} <= names
    assert not {"nurse", "doctor", "she", "mother", "quarterback"} & names
    assert all(name == name.lower() for name in names)
