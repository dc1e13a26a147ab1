"""Checks for lab 06 (fairness): the gap, WEAT, group differences, the swap, group thresholds.

Used in chapter 6. Each check runs the student's function on fresh random
inputs drawn from ``seed`` and compares it with ``utils.fairness`` (itself
tested against fairlearn), looking first for the plausible mistakes the lab
warns about; none prints an expected value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from utils.checks._core import CheckResult, call, exercise_check, fail, passed
from utils.fairness.augment import ENGLISH_GENDER_SWAPS, swap_tokens
from utils.fairness.decisions import apply_thresholds, equal_tpr_thresholds
from utils.fairness.group_metrics import (
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from utils.fairness.weat import weat_effect_size, weat_p_value

__all__ = ["LAB_SWAPS", "check_gap", "check_weat_effect_size", "check_weat_p_value",
           "check_group_differences", "check_swap", "check_group_thresholds", "check_screen",
           "reference_swap"]


def _number_array(value, exercise: str, what: str = "your result") -> np.ndarray:
    try:
        return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value, dtype=float)
    except (TypeError, ValueError):
        fail(f"{exercise}: {what} should be numbers; got {type(value).__name__}")


def _number(value, exercise: str, what: str = "your result") -> float:
    out = _number_array(value, exercise, what)
    if out.size != 1:
        fail(f"{exercise}: {what} should be one number; got shape {out.shape}")
    return float(out.reshape(()))


def _vector(value, n: int, exercise: str) -> np.ndarray:
    if (out := _number_array(value, exercise)).shape != (n,):
        fail(f"{exercise}: expected shape ({n},), one gap per row; got {out.shape}")
    return out


@exercise_check("gap")
def check_gap(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(logits (n, vocab) tensor, female_id, male_id) -> (n,) log P(female) - log P(male)."""
    import torch
    rng = np.random.default_rng([seed, 61])
    logits = torch.tensor(rng.normal(0, 2, (6, 9)), dtype=torch.float32)  # (6, 9)
    f, m = 2, 5
    got = _vector(call(fn, logits, f, m, exercise="gap"), 6, "gap")
    log_p = torch.log_softmax(logits.double(), dim=-1).numpy()
    want = log_p[:, f] - log_p[:, m]
    p = np.exp(log_p)
    if np.allclose(got, -want, atol=1e-4):
        fail("gap: the sign is reversed; the gap is log P(female word) minus log P(male word)")
    if np.allclose(got, p[:, f] - p[:, m], atol=1e-4):
        fail("gap: that is a difference of probabilities; the gap is a difference of "
             "log-probabilities (a log of their ratio)")
    if np.allclose(got, p[:, f] / p[:, m], atol=1e-4):
        fail("gap: that is the ratio of the probabilities; take its (natural) log")
    if np.allclose(got, want / math.log(2), atol=1e-4):
        fail("gap: that is in bits (log base 2); use the natural log, as the chapter does")
    if not np.allclose(got, want, atol=1e-4):
        fail("gap: some gaps are wrong; turn logits into log-probabilities over the whole "
             "vocabulary (log_softmax on the last dimension) before taking the difference")
    passed("gap", 6)


def _weat_sets(rng: np.random.Generator, n: int = 4, dim: int = 6) -> list[np.ndarray]:
    # Unequal norms, so that a dot product differs from a cosine.
    return [rng.normal(shift, 1, (n, dim)) * rng.uniform(0.5, 3, (n, 1))
            for shift in (0.4, 0.0, 0.6, 0.0)]


@exercise_check("weat_effect_size")
def check_weat_effect_size(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(x, y, a, b) -> Caliskan's d, arrays (n, dim); sample standard deviation."""
    rng = np.random.default_rng([seed, 62])
    for case in range(5):
        x, y, a, b = _weat_sets(rng)
        got = _number(call(fn, x, y, a, b, exercise="weat_effect_size"), "weat_effect_size")
        want = weat_effect_size(x, y, a, b)
        if math.isclose(got, -want, rel_tol=1e-6):
            fail("weat_effect_size: the sign is reversed; d is positive when X is closer "
                 "to A (and Y to B)")
        dots = [(w @ a.T).mean(1) - (w @ b.T).mean(1) for w in (x, y)]
        raw = (dots[0].mean() - dots[1].mean()) / np.concatenate(dots).std(ddof=1)
        if math.isclose(got, raw, rel_tol=1e-6):
            fail("weat_effect_size: use cosine similarity, not the dot product: divide by "
                 "both vectors' lengths")
        if math.isclose(got, want * math.sqrt(8 / 7), rel_tol=1e-6):
            fail("weat_effect_size: use the sample standard deviation (ddof=1) of s over "
                 "X and Y together")
        if not math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
            fail(f"weat_effect_size: wrong on case {case + 1}; the denominator is the standard "
                 "deviation of s(w, A, B) over all words of X and Y together, not per set")
    passed("weat_effect_size", 5)


@exercise_check("weat_p_value")
def check_weat_p_value(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(x, y, a, b) -> exact one-sided permutation p-value over all equal-size splits."""
    rng = np.random.default_rng([seed, 63])
    for case in range(4):
        x, y, a, b = _weat_sets(rng)
        if case == 3:
            x, y = y, x  # a negative effect: a one-sided p near 1
        got = _number(call(fn, x, y, a, b, exercise="weat_p_value"), "weat_p_value")
        want = weat_p_value(x, y, a, b, n_permutations=None)[0]
        two = weat_p_value(x, y, a, b, n_permutations=None, alternative="two-sided")[0]
        if not math.isclose(want, two) and math.isclose(got, two, abs_tol=1e-9):
            fail("weat_p_value: that is the two-sided p-value (it compares absolute values); "
                 "Caliskan's test is one-sided: count splits whose statistic is at least the "
                 "observed one")
        if math.isclose(got, want - 1 / 70, abs_tol=1e-9):
            fail("weat_p_value: the observed split itself is one of the splits, and its "
                 "statistic equals itself: count '>=' not '>'")
        if math.isclose(got, 1 - want + 1 / 70, abs_tol=1e-9):
            fail("weat_p_value: the direction is reversed; count statistics at least as "
                 "large as the observed one")
        if not math.isclose(got, want, abs_tol=1e-9):
            fail(f"weat_p_value: wrong on case {case + 1}; enumerate every way to choose "
                 "len(x) of the pooled words as X_i, the rest as Y_i")
    passed("weat_p_value", 4)


def _group_cases(seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng([seed, 64])
    cases = []
    for n, groups in ((60, ("a", "b")), (90, ("x", "y", "z")), (120, ("p", "q", "r", "s"))):
        g = rng.choice(groups, n, p=rng.dirichlet(np.ones(len(groups)) * 4))
        rates = dict(zip(groups, rng.uniform(0.2, 0.8, len(groups)), strict=True))
        y = (rng.random(n) < 0.5).astype(int)
        pred = (rng.random(n) < np.array([rates[v] for v in g])).astype(int)
        cases.append((y, pred, g))
    return cases


@exercise_check("group_differences")
def check_group_differences(dpd: Callable, eod: Callable, seed: int = 0) -> CheckResult:
    """dpd/eod(y_true, y_pred, *, sensitive_features) -> float, as fairlearn's."""
    for y, pred, g in _group_cases(seed):
        got = _number(call(dpd, y, pred, sensitive_features=g, exercise="group_differences"),
                      "group_differences", "demographic_parity_difference")
        want = demographic_parity_difference(y, pred, sensitive_features=g)
        pooled = selection_rate(y, pred)
        per = [selection_rate(y[g == v], pred[g == v]) for v in np.unique(g)]
        if not math.isclose(want, max(abs(r - pooled) for r in per)) and \
                math.isclose(got, max(abs(r - pooled) for r in per)):
            fail("group_differences: demographic parity compares the groups with each other, "
                 "not each group with the pooled rate of everyone")
        if len(per) > 2 and not math.isclose(want, abs(per[0] - per[1])) and \
                math.isclose(got, abs(per[0] - per[1])):
            fail("group_differences: with more than two groups, take the largest minus the "
                 "smallest group rate, not the first two")
        if not math.isclose(got, want, abs_tol=1e-12):
            fail("group_differences: demographic_parity_difference is wrong; it is the largest "
                 "minus the smallest per-group selection rate P(y_pred = 1 | group)")
        got = _number(call(eod, y, pred, sensitive_features=g, exercise="group_differences"),
                      "group_differences", "equalized_odds_difference")
        want = equalized_odds_difference(y, pred, sensitive_features=g)
        groups = np.unique(g)
        tpr = [true_positive_rate(y[g == v], pred[g == v]) for v in groups]
        fpr = [false_positive_rate(y[g == v], pred[g == v]) for v in groups]
        if not math.isclose(want, max(tpr) - min(tpr)) and math.isclose(got, max(tpr) - min(tpr)):
            fail("group_differences: equalized odds asks for equal false-positive rates too; "
                 "return the larger of the two differences")
        pooled_tpr = true_positive_rate(y, pred)
        if math.isclose(got, max(max(abs(t - pooled_tpr) for t in tpr),
                                 max(abs(f - false_positive_rate(y, pred)) for f in fpr))):
            fail("group_differences: compare the groups' rates with each other, not with the "
                 "pooled rate")
        if not math.isclose(got, want, abs_tol=1e-12):
            fail("group_differences: equalized_odds_difference is wrong; per group compute "
                 "the TPR among y_true = 1 and the FPR among y_true = 0")
    passed("group_differences", 3)


LAB_SWAPS = ENGLISH_GENDER_SWAPS  # the lab's swap table


def reference_swap(tokens: list[str]) -> list[str]:
    """The lab's counterfactual swap: whole tokens, keeping capitals and a possessive 's."""
    return swap_tokens(tokens, LAB_SWAPS)


_SWAP_CASES = ["the nurse said that she was tired .", "He finished his report and thanked her .",
               "the man's hat and the woman's coat", "My Father's house belongs to HIM now",
               "the manager heated the shell beside the mother",
               "Women and men ; she herself ; boy's toy"]


def _gendered(token: str) -> bool:
    t = token.lower()
    return t in LAB_SWAPS or (t.endswith("'s") and t[:-2] in LAB_SWAPS)


def _explain_swap(wrong: list[tuple[str, str, str]]) -> None:
    """Fail with the most telling of the wrong tokens, if any (checked in this order)."""
    rules = [
        (lambda t, g, w: not _gendered(t),
         "{t!r} is not a gendered word but was changed; swap whole tokens only, never parts "
         "of a word"),
        (lambda t, g, w: g.lower() == w.lower(),
         "{t!r} lost its capitals; keep a capitalised word capitalised"),
        (lambda t, g, w: g == t and t != t.lower() and not t.lower().endswith("'s"),
         "{t!r} was left unchanged; look words up in lowercase"),
        (lambda t, g, w: g == t and t.lower().endswith("'s"),
         "the possessive {t!r} was not swapped; strip the 's, swap, put it back"),
        (lambda t, g, w: g == t, "{t!r} was left unchanged; every word of LAB_SWAPS is swapped"),
        (lambda t, g, w: True, "{t!r} was swapped to the wrong word; use LAB_SWAPS"),
    ]
    for rule, message in rules:
        for t, g, w in wrong:
            if rule(t, g, w):
                fail("swap: " + message.format(t=t))


@exercise_check("swap")
def check_swap(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(tokens: list[str]) -> list[str] swapped by LAB_SWAPS, capitals and 's kept."""
    rng = np.random.default_rng([seed, 65])
    cases = [s.split() for s in _SWAP_CASES]
    cases = [cases[i] for i in rng.permutation(len(cases))]
    wrong = []  # (token, student's token, right token) over every case
    for tokens in cases:
        got = call(fn, list(tokens), exercise="swap")
        if not isinstance(got, list) or len(got) != len(tokens):
            fail("swap: return a list with one token per input token")
        want = reference_swap(tokens)
        wrong += [(t, g, w) for t, g, w in zip(tokens, got, want, strict=True) if g != w]
    _explain_swap(wrong)
    passed("swap", len(cases))


def _threshold_split(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    groups = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    shift = np.select([groups == "a", groups == "b"], [0.6, 0.0], -0.4)
    y = (rng.random(n) < 0.4).astype(int)
    scores = 1 / (1 + np.exp(-(1.5 * y + shift + rng.normal(0, 1, n))))
    return scores, y, groups


@exercise_check("group_thresholds")
def check_group_thresholds(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(scores, y_true, groups, target_tpr) -> {group: threshold}, ``score >= t`` selects."""
    rng = np.random.default_rng([seed, 66])
    for target in (0.5, 0.7, 0.85):
        scores, y, groups = _threshold_split(rng, 400)
        got = call(fn, scores, y, groups, target, exercise="group_thresholds")
        if not isinstance(got, dict) or set(map(str, got)) != set(np.unique(groups)):
            fail("group_thresholds: return a dict with one threshold per group")
        got = {str(k): float(v) for k, v in got.items()}
        if len(set(got.values())) == 1:
            fail("group_thresholds: every group got the same threshold; fit one per group "
                 "from that group's positives")
        pred = apply_thresholds(scores, groups, got)
        for g in np.unique(groups):
            positives = (groups == g) & (y == 1)
            tpr, n_pos = pred[positives].mean(), positives.sum()
            if tpr < target - 1e-12:
                fail(f"group_thresholds: group {g}'s true-positive rate is below the target; "
                     "round the number of positives to select up, not down")
            if tpr >= target + 1 / n_pos - 1e-12:
                fail(f"group_thresholds: group {g} selects more positives than it needs; take "
                     "the highest threshold that reaches the target")
    passed("group_thresholds", 3)


@exercise_check("screen")
def check_screen(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(fit, test, target_tpr) -> test predictions with thresholds fitted on ``fit`` only."""
    rng = np.random.default_rng([seed, 67])
    fit, test = _threshold_split(rng, 300), _threshold_split(rng, 300)
    got = call(fn, fit, test, 0.7, exercise="screen")
    try:
        got = np.asarray(got, dtype=int).ravel()
    except (TypeError, ValueError):
        fail("screen: return an array of 0/1 predictions, one per test example")
    if got.shape != (len(test[0]),):
        fail("screen: return one prediction per example of the test split")
    want = apply_thresholds(test[0], test[2], equal_tpr_thresholds(*fit, 0.7))
    cheat = apply_thresholds(test[0], test[2], equal_tpr_thresholds(*test, 0.7))
    if np.array_equal(got, cheat) and not np.array_equal(got, want):
        fail("screen: the thresholds were fitted on the test split; fit them on the fit split "
             "and only apply them to the test split, or the held-out rates mean nothing")
    if not np.array_equal(got, want):
        fail("screen: fit group thresholds on the fit split, then predict 1 where a test "
             "score reaches its group's threshold")
    passed("screen", 1)
