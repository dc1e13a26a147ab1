"""Lab 06's checks pass every right answer and fail each plausible wrong one, saying which.

Right answers accepted: the reference solutions; logit differences for the gap
(the softmax normaliser cancels); float32 tensors, NumPy arrays and lists;
thresholds keyed by NumPy strings; a vectorised ``screen``.

Wrong answers caught, each with a message naming the problem:

- gap: the sign reversed; a difference of probabilities; a ratio of
  probabilities; log base 2; log-probabilities normalised over the wrong axis.
- weat_effect_size: the sign reversed; dot products instead of cosines; the
  population standard deviation; a standard deviation per set.
- weat_p_value: two-sided reported for one-sided; strict '>' (the observed
  split left out); the direction reversed.
- group_differences: each group against the pooled rate; only the first two
  groups; equalized odds from TPR alone.
- swap: capitals lost; possessives missed; substrings swapped inside words;
  a case-sensitive look-up that misses capitalised words.
- group_thresholds: one pooled threshold; the number of positives rounded
  down (TPR below the target); a lower threshold than needed.
- screen: thresholds fitted on the test split.
"""

import itertools
import math

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.fairness import (
    LAB_SWAPS,
    check_gap,
    check_group_differences,
    check_group_thresholds,
    check_screen,
    check_swap,
    check_weat_effect_size,
    check_weat_p_value,
    reference_swap,
)
from utils.fairness import (
    apply_thresholds,
    demographic_parity_difference,
    equal_opportunity_difference,
    equal_tpr_thresholds,
    equalized_odds_difference,
    swap_tokens,
    weat_effect_size,
    weat_p_value,
)


def _fails(check, *args, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check(*args)


# ---------------------------------------------------------------- gap
def test_gap_accepts_right_answers():
    assert check_gap(lambda z, f, m: torch.log_softmax(z, -1)[:, f]
                     - torch.log_softmax(z, -1)[:, m]).passed
    assert check_gap(lambda z, f, m: (z[:, f] - z[:, m]).numpy()).passed  # normaliser cancels
    assert check_gap(lambda z, f, m: (z[:, f] - z[:, m]).tolist(), seed=3).passed


@pytest.mark.parametrize("wrong, phrase", [
    (lambda z, f, m: z[:, m] - z[:, f], "sign is reversed"),
    (lambda z, f, m: z.softmax(-1)[:, f] - z.softmax(-1)[:, m], "difference of probabilities"),
    (lambda z, f, m: z.softmax(-1)[:, f] / z.softmax(-1)[:, m], "ratio"),
    (lambda z, f, m: (z[:, f] - z[:, m]) / math.log(2), "bits"),
    (lambda z, f, m: torch.log_softmax(z, 0)[:, f] - torch.log_softmax(z, 0)[:, m],
     "log_softmax on the last dimension"),
])
def test_gap_catches(wrong, phrase):
    _fails(check_gap, wrong, phrase=phrase)


# ---------------------------------------------------------------- WEAT
def _s(w, a, b, unit=True):
    if unit:
        w, a, b = (m / np.linalg.norm(m, axis=1, keepdims=True) for m in (w, a, b))
    return (w @ a.T).mean(1) - (w @ b.T).mean(1)


def test_weat_accepts_right_answers():
    assert check_weat_effect_size(weat_effect_size).passed
    assert check_weat_effect_size(lambda *v: np.float32(weat_effect_size(*v)), seed=2).passed
    assert check_weat_p_value(lambda *v: weat_p_value(*v, n_permutations=None)[0]).passed


@pytest.mark.parametrize("wrong, phrase", [
    (lambda x, y, a, b: -weat_effect_size(x, y, a, b), "sign is reversed"),
    (lambda x, y, a, b: (_s(x, a, b, False).mean() - _s(y, a, b, False).mean())
     / np.concatenate([_s(x, a, b, False), _s(y, a, b, False)]).std(ddof=1), "cosine"),
    (lambda x, y, a, b: (_s(x, a, b).mean() - _s(y, a, b).mean())
     / np.concatenate([_s(x, a, b), _s(y, a, b)]).std(), "ddof=1"),
    (lambda x, y, a, b: (_s(x, a, b).mean() - _s(y, a, b).mean())
     / ((_s(x, a, b).std(ddof=1) + _s(y, a, b).std(ddof=1)) / 2), "not per set"),
])
def test_weat_effect_size_catches(wrong, phrase):
    _fails(check_weat_effect_size, wrong, phrase=phrase)


def _p(x, y, a, b, mode):
    s = _s(np.concatenate([x, y]), a, b)
    obs = s[:len(x)].sum() - s[len(x):].sum()
    stats = np.array([2 * s[list(c)].sum() - s.sum()
                      for c in itertools.combinations(range(len(s)), len(x))])
    if mode == "two":
        return np.mean(np.abs(stats) >= abs(obs) - 1e-12)
    if mode == "strict":
        return np.mean(stats > obs + 1e-12)
    return np.mean(stats <= obs + 1e-12)


@pytest.mark.parametrize("mode, phrase", [("two", "two-sided"), ("strict", "'>=' not '>'"),
                                          ("less", "direction is reversed")])
def test_weat_p_value_catches(mode, phrase):
    _fails(check_weat_p_value, lambda *v: _p(*v, mode), phrase=phrase)


# ---------------------------------------------------------------- group differences
def _pooled_dp(y, p, *, sensitive_features):
    g, p = np.asarray(sensitive_features), np.asarray(p)
    return max(abs(p[g == v].mean() - p.mean()) for v in np.unique(g))


def _first_two_dp(y, p, *, sensitive_features):
    g, p = np.asarray(sensitive_features), np.asarray(p)
    groups = np.unique(g)
    return abs(p[g == groups[0]].mean() - p[g == groups[1]].mean())


def test_group_differences_accept_right_answers():
    assert check_group_differences(demographic_parity_difference, equalized_odds_difference).passed
    import fairlearn.metrics as fm
    assert check_group_differences(fm.demographic_parity_difference, fm.equalized_odds_difference,
                                   seed=5).passed


@pytest.mark.parametrize("dp, eo, phrase", [
    (_pooled_dp, equalized_odds_difference, "pooled rate"),
    (_first_two_dp, equalized_odds_difference, "not the first two"),
    (demographic_parity_difference, equal_opportunity_difference, "false-positive rates too"),
])
def test_group_differences_catch(dp, eo, phrase):
    _fails(check_group_differences, dp, eo, phrase=phrase)


# ---------------------------------------------------------------- swap
def _lowercased(tokens):
    return [LAB_SWAPS.get(t.lower(), t) for t in tokens]


def _no_possessive(tokens):
    return [t if t.lower().endswith("'s") else reference_swap([t])[0] for t in tokens]


def _substrings(tokens):
    out = []
    for t in tokens:
        for a, b in (("man", "woman"), ("he", "she")):
            t = t.replace(a, b)
        out.append(reference_swap([t])[0] if t.lower() in LAB_SWAPS else t)
    return out


def _case_sensitive(tokens):
    return [LAB_SWAPS.get(t, t) for t in tokens]


def test_swap_accepts_the_reference():
    assert check_swap(reference_swap).passed
    assert check_swap(lambda tokens: swap_tokens(tokens, LAB_SWAPS)).passed


@pytest.mark.parametrize("wrong, phrase", [
    (_lowercased, "lost its capitals"), (_no_possessive, "possessive"),
    (_substrings, "never parts of a word"), (_case_sensitive, "look words up in lowercase"),
])
def test_swap_catches(wrong, phrase):
    _fails(check_swap, wrong, phrase=phrase)


# ---------------------------------------------------------------- thresholds
def _pooled_threshold(scores, y, groups, target):
    t = equal_tpr_thresholds(scores, y, np.zeros(len(y), dtype=int), target)["0"]
    return {str(g): t for g in np.unique(groups)}


def _rounded_down(scores, y, groups, target):
    out = {}
    for g in np.unique(groups):
        pos = np.sort(np.asarray(scores)[(np.asarray(groups) == g) & (np.asarray(y) == 1)])[::-1]
        out[g] = pos[max(1, int(target * len(pos))) - 1]
    return out


def _too_low(scores, y, groups, target):
    return {g: t - 0.05 for g, t in equal_tpr_thresholds(scores, y, groups, target).items()}


def test_thresholds_accept_right_answers():
    assert check_group_thresholds(equal_tpr_thresholds).passed
    assert check_group_thresholds(lambda *a: {np.str_(k): v for k, v in
                                              equal_tpr_thresholds(*a).items()}, seed=4).passed
    assert check_screen(lambda fit, test, t: apply_thresholds(
        test[0], test[2], equal_tpr_thresholds(*fit, t))).passed


@pytest.mark.parametrize("wrong, phrase", [
    (_pooled_threshold, "same threshold"), (_rounded_down, "round the number"),
    (_too_low, "more positives than it needs"),
])
def test_thresholds_catch(wrong, phrase):
    _fails(check_group_thresholds, wrong, phrase=phrase)


def test_screen_catches_thresholds_fitted_on_the_test_split():
    _fails(check_screen, lambda fit, test, t: apply_thresholds(
        test[0], test[2], equal_tpr_thresholds(*test, t)), phrase="fitted on the test split")


def test_stubs_pass_through_as_not_attempted():
    with pytest.raises(ExerciseNotImplemented):
        check_swap(lambda tokens: not_implemented("swap"))
