"""Lab 06's checks accept right answers written several ways and fail each wrong one, saying which.

For every exercise: two correct implementations that are not the check's
reference (a loop and a vectorised one) pass at several seeds; an answer that
edits its inputs in place to agree with a wrong result fails; an answer that
calls a library function the lab asks to write by hand (fairlearn's, the
course's) fails; and the plausible mistakes fail with a message naming them.
"""

import itertools
import math

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed, ExerciseNotImplemented, not_implemented
from utils.checks.fairness import (
    EXERCISES,
    LAB_SWAPS,
    check_gap,
    check_group_differences,
    check_group_thresholds,
    check_screen,
    check_swap,
    check_weat_effect_size,
    check_weat_p_value,
)

SEEDS = (0, 1, 2**31 - 1)  # the last: the top of the grader's seed range


def _fails(check, *answer, phrase, seed=0):
    with pytest.raises(CheckFailed, match=phrase):
        check(*answer, seed=seed)


def test_every_exercise_has_cases_and_no_reference_is_public():
    import utils.checks.fairness as module
    assert set(EXERCISES) == {"gap", "weat_effect_size", "weat_p_value", "group_differences",
                              "swap", "group_thresholds", "screen"}
    assert all(len(e.make_cases(3)) >= 2 for e in EXERCISES.values())
    assert not [n for n in vars(module) if n.startswith("reference")]


# ---------------------------------------------------------------- gap
def gap_loop(logits, f, m):
    out = []
    for row in logits.double().tolist():
        top = max(row)
        norm = top + math.log(sum(math.exp(v - top) for v in row))
        out.append((row[f] - norm) - (row[m] - norm))
    return out


def gap_logit_difference(logits, f, m):
    return (logits[:, f] - logits[:, m]).numpy()  # the normaliser cancels


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [gap_loop, gap_logit_difference])
def test_gap_accepts_right_answers(right, seed):
    assert check_gap(right, seed=seed).passed


@pytest.mark.parametrize("wrong, phrase", [
    (lambda z, f, m: z[:, m] - z[:, f], "sign is reversed"),
    (lambda z, f, m: z.softmax(-1)[:, f] - z.softmax(-1)[:, m], "difference of probabilities"),
    (lambda z, f, m: z.softmax(-1)[:, f] / z.softmax(-1)[:, m], "ratio"),
    (lambda z, f, m: (z[:, f] - z[:, m]) / math.log(2), "bits"),
    (lambda z, f, m: torch.log_softmax(z, 0)[:, f] - torch.log_softmax(z, 0)[:, m],
     "log_softmax on the last dimension"),
    (lambda z, f, m: z.softmax(-1).log()[:, f] - z.softmax(-1).log()[:, m], "underflows"),
    (lambda z, f, m: (z[:, f] - z[:, m]).sum(), "single number"),
])
def test_gap_catches(wrong, phrase):
    _fails(check_gap, wrong, phrase=phrase)


def test_gap_catches_an_answer_that_edits_the_logits():
    def copy_male_into_female(z, f, m):
        z[:, f] = z[:, m]  # a check computing its answer afterwards would now expect zeros
        return torch.zeros(len(z))
    _fails(check_gap, copy_male_into_female, phrase="some gaps are wrong")


def test_gap_forbids_the_course_function():
    from utils.fairness import log_prob_gap
    _fails(check_gap, lambda z, f, m: log_prob_gap(z.softmax(-1)[:, f], z.softmax(-1)[:, m]),
           phrase="calls `utils.fairness.gap.log_prob_gap`")


# ---------------------------------------------------------------- WEAT
def _s(w, a, b, unit=True):
    if unit:
        w, a, b = (m / np.linalg.norm(m, axis=1, keepdims=True) for m in (w, a, b))
    return (w @ a.T).mean(1) - (w @ b.T).mean(1)


def d_loop(x, y, a, b):
    def cos(u, v):
        return float(u @ v) / math.sqrt(float(u @ u) * float(v @ v))

    def s(w):
        return sum(cos(w, v) for v in a) / len(a) - sum(cos(w, v) for v in b) / len(b)

    sx, sy = [s(w) for w in x], [s(w) for w in y]
    pooled = sx + sy
    mean = sum(pooled) / len(pooled)
    sd = math.sqrt(sum((v - mean) ** 2 for v in pooled) / (len(pooled) - 1))
    return (sum(sx) / len(sx) - sum(sy) / len(sy)) / sd


def d_torch(x, y, a, b):
    x, y, a, b = (torch.nn.functional.normalize(torch.tensor(m), dim=1) for m in (x, y, a, b))
    s = torch.cat([x, y]) @ a.T
    s = s.mean(1) - (torch.cat([x, y]) @ b.T).mean(1)
    return (s[:len(x)].mean() - s[len(x):].mean()) / s.std()  # torch's std is the sample one


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [d_loop, d_torch])
def test_weat_effect_size_accepts_right_answers(right, seed):
    assert check_weat_effect_size(right, seed=seed).passed


def _summed(x, y, a, b):
    x, y, a, b = (m / np.linalg.norm(m, axis=1, keepdims=True) for m in (x, y, a, b))
    sx, sy = [(w @ a.T).sum(1) - (w @ b.T).sum(1) for w in (x, y)]
    return (sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1)


@pytest.mark.parametrize("wrong, phrase", [
    (lambda x, y, a, b: -d_loop(x, y, a, b), "sign is reversed"),
    (lambda x, y, a, b: (_s(x, a, b, False).mean() - _s(y, a, b, False).mean())
     / np.concatenate([_s(x, a, b, False), _s(y, a, b, False)]).std(ddof=1), "cosine"),
    (lambda x, y, a, b: (_s(x, a, b).mean() - _s(y, a, b).mean())
     / np.concatenate([_s(x, a, b), _s(y, a, b)]).std(), "ddof=1"),
    (lambda x, y, a, b: (_s(x, a, b).mean() - _s(y, a, b).mean())
     / ((_s(x, a, b).std(ddof=1) + _s(y, a, b).std(ddof=1)) / 2), "not per set"),
    (_summed, "MEAN cosines"),
    (lambda x, y, a, b: np.array([d_loop(x, y, a, b)] * 2), "single number"),
])
def test_weat_effect_size_catches(wrong, phrase):
    _fails(check_weat_effect_size, wrong, phrase=phrase)


def test_weat_effect_size_catches_an_answer_that_edits_its_inputs():
    def flatten_targets(x, y, a, b):
        y[:] = x  # X and Y the same: a check reading them afterwards would expect d = 0
        return 0.0
    _fails(check_weat_effect_size, flatten_targets, phrase="effect size is wrong")


def test_weat_forbids_the_course_functions():
    from utils.fairness import weat_effect_size, weat_p_value
    _fails(check_weat_effect_size, weat_effect_size, phrase="calls `utils.fairness.weat")
    _fails(check_weat_p_value, lambda *v: weat_p_value(*v, n_permutations=None)[0],
           phrase="calls `utils.fairness.weat")


def _stats(x, y, a, b):
    s = _s(np.concatenate([x, y]), a, b)
    observed = s[:len(x)].sum() - s[len(x):].sum()
    return observed, np.array([2 * s[list(c)].sum() - s.sum()
                               for c in itertools.combinations(range(len(s)), len(x))])


def p_loop(x, y, a, b):
    observed, stats = _stats(x, y, a, b)
    return sum(1 for t in stats if t >= observed - 1e-9) / len(stats)


def p_masks(x, y, a, b):
    pooled = torch.tensor(np.concatenate([x, y]))
    unit = torch.nn.functional.normalize
    s = (unit(pooled, dim=1) @ unit(torch.tensor(a), dim=1).T).mean(1) \
        - (unit(pooled, dim=1) @ unit(torch.tensor(b), dim=1).T).mean(1)
    masks = torch.tensor([[i in c for i in range(len(s))]
                          for c in itertools.combinations(range(len(s)), len(x))])
    stats = torch.where(masks, s, -s).sum(1)
    return float((stats >= stats[0] - 1e-9).double().mean())  # the first split is the observed


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [p_loop, p_masks])
def test_weat_p_value_accepts_right_answers(right, seed):
    assert check_weat_p_value(right, seed=seed).passed


def _p(x, y, a, b, mode):
    observed, stats = _stats(x, y, a, b)
    return {"two": np.mean(np.abs(stats) >= abs(observed) - 1e-12),
            "strict": np.mean(stats > observed + 1e-12),
            "less": np.mean(stats <= observed + 1e-12),
            "sampled": np.mean(stats[::3] >= observed - 1e-12)}[mode]


@pytest.mark.parametrize("mode, phrase", [("two", "two-sided"), ("strict", "'>=' not '>'"),
                                          ("less", "direction is reversed"),
                                          ("sampled", "enumerate every way")])
def test_weat_p_value_catches(mode, phrase):
    _fails(check_weat_p_value, lambda *v: _p(*v, mode), phrase=phrase)


def test_weat_p_value_catches_an_answer_that_edits_its_inputs():
    def scale_to_nothing(x, y, a, b):
        x *= 0  # all-zero targets: nan everywhere for a check that reads them afterwards
        return 1.0
    _fails(check_weat_p_value, scale_to_nothing, phrase="p-value is wrong")


# ---------------------------------------------------------------- group differences
def dp_loop(y_true, y_pred, *, sensitive_features):
    counts = {}
    for p, g in zip(list(y_pred), list(sensitive_features), strict=True):
        chosen, total = counts.get(g, (0, 0))
        counts[g] = (chosen + (p == 1), total + 1)
    rates = [c / t for c, t in counts.values()]
    return max(rates) - min(rates)


def eo_loop(y_true, y_pred, *, sensitive_features):
    spreads = []
    for label in (1, 0):
        keep = [i for i, y in enumerate(y_true) if y == label]
        spreads.append(dp_loop(None, [y_pred[i] for i in keep],
                               sensitive_features=[sensitive_features[i] for i in keep]))
    return max(spreads)


def dp_pandas(y_true, y_pred, *, sensitive_features):
    import pandas as pd
    rates = pd.Series(np.asarray(y_pred) == 1).groupby(np.asarray(sensitive_features)).mean()
    return rates.max() - rates.min()


def eo_pandas(y_true, y_pred, *, sensitive_features):
    import pandas as pd
    frame = pd.DataFrame({"y": y_true, "p": np.asarray(y_pred) == 1,
                          "g": np.asarray(sensitive_features)})
    rates = frame.groupby(["y", "g"])["p"].mean().unstack()
    return float((rates.max(axis=1) - rates.min(axis=1)).max())


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("dp, eo", [(dp_loop, eo_loop), (dp_pandas, eo_pandas)])
def test_group_differences_accept_right_answers(dp, eo, seed):
    assert check_group_differences(dp, eo, seed=seed).passed


def _pooled_dp(y, p, *, sensitive_features):
    g, p = np.asarray(sensitive_features), np.asarray(p)
    return max(abs(p[g == v].mean() - p.mean()) for v in np.unique(g))


def _first_two_dp(y, p, *, sensitive_features):
    g, p = np.asarray(sensitive_features), np.asarray(p)
    groups = np.unique(g)
    return abs(p[g == groups[0]].mean() - p[g == groups[1]].mean())


def _tpr_only(y, p, *, sensitive_features):
    keep = np.asarray(y) == 1
    return dp_pandas(None, np.asarray(p)[keep], sensitive_features=sensitive_features[keep])


def _mean_eo(y, p, *, sensitive_features):
    keep = np.asarray(y) == 1
    g = sensitive_features
    return (dp_pandas(None, p[keep], sensitive_features=g[keep])
            + dp_pandas(None, p[~keep], sensitive_features=g[~keep])) / 2


@pytest.mark.parametrize("dp, eo, phrase", [
    (_pooled_dp, eo_pandas, "pooled rate"),
    (_first_two_dp, eo_pandas, "not the first two"),
    (dp_pandas, _tpr_only, "false-positive rates too"),
    (dp_pandas, _mean_eo, "not their average"),
])
def test_group_differences_catch(dp, eo, phrase):
    _fails(check_group_differences, dp, eo, phrase=phrase)


def test_group_differences_catch_an_answer_that_edits_the_labels():
    def zero_predictions(y_true, y_pred, *, sensitive_features):
        y_pred[:] = 0  # nobody selected: a check reading the array afterwards would expect 0
        return 0.0
    _fails(check_group_differences, zero_predictions, eo_pandas, phrase="is wrong")


@pytest.mark.parametrize("library", ["fairlearn", "course"])
def test_group_differences_forbid_library_metrics(library):
    if library == "fairlearn":
        import fairlearn.metrics as fm
        dp, eo = fm.demographic_parity_difference, fm.equalized_odds_difference
    else:
        from utils.fairness import demographic_parity_difference as dp
        from utils.fairness import equalized_odds_difference as eo
    _fails(check_group_differences, dp, eo, phrase="calls `")

    def by_metric_frame(y_true, y_pred, *, sensitive_features):
        import fairlearn.metrics as fm
        frame = fm.MetricFrame(metrics=lambda t, p: np.mean(p == 1), y_true=y_true,
                               y_pred=y_pred, sensitive_features=sensitive_features)
        return frame.difference()
    _fails(check_group_differences, by_metric_frame, eo_pandas, phrase="MetricFrame")


# ---------------------------------------------------------------- swap
def swap_loop(tokens):
    out = []
    for token in tokens:
        stem, end = (token[:-2], "'s") if token.lower().endswith("'s") else (token, "")
        new = LAB_SWAPS.get(stem.lower(), stem)
        if new is not stem and stem == stem.upper() and len(stem) > 1:
            new = new.upper()
        elif new is not stem and stem[0].isupper():
            new = new[0].upper() + new[1:]
        out.append(new + end)
    return out


def swap_regex(tokens):
    import re

    def one(match):
        word, end = match.group(1), match.group(2) or ""
        new = LAB_SWAPS[word.lower()]
        new = new.upper() if word.isupper() and len(word) > 1 else (
            new.title() if word.istitle() else new)
        return new + end
    pattern = re.compile(r"^(" + "|".join(LAB_SWAPS) + r")('s)?$", re.IGNORECASE)
    return [pattern.sub(one, t) for t in tokens]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [swap_loop, swap_regex])
def test_swap_accepts_right_answers(right, seed):
    assert check_swap(right, seed=seed).passed


def _lowercased(tokens):
    return [LAB_SWAPS.get(t.lower(), t) for t in tokens]


def _no_possessive(tokens):
    return [t if t.lower().endswith("'s") else swap_loop([t])[0] for t in tokens]


def _substrings(tokens):
    out = []
    for t in tokens:
        for a, b in (("man", "woman"), ("he", "she")):
            t = t.replace(a, b)
        out.append(swap_loop([t])[0] if t.lower() in LAB_SWAPS else t)
    return out


def _case_sensitive(tokens):
    return [LAB_SWAPS.get(t, t) for t in tokens]


@pytest.mark.parametrize("wrong, phrase", [
    (_lowercased, "lost its capitals"), (_no_possessive, "possessive"),
    (_substrings, "never parts of a word"), (_case_sensitive, "look words up in lowercase"),
    (lambda tokens: " ".join(swap_loop(tokens)), "list of tokens"),
])
def test_swap_catches(wrong, phrase):
    _fails(check_swap, wrong, phrase=phrase)


def test_swap_catches_an_answer_that_edits_the_tokens_and_forbids_the_library():
    def empty(tokens):
        tokens.clear()  # a check comparing with its own input afterwards would expect []
        return tokens
    _fails(check_swap, empty, phrase="one token per input token")
    from utils.fairness import swap_tokens
    _fails(check_swap, lambda t: swap_tokens(t, LAB_SWAPS), phrase="calls `utils.fairness")


# ---------------------------------------------------------------- thresholds
def thresholds_loop(scores, y_true, groups, target):
    out = {}
    for g in sorted(set(groups.tolist())):
        positives = sorted((s for s, y, h in zip(scores, y_true, groups, strict=True)
                            if h == g and y == 1), reverse=True)
        k = 1
        while k / len(positives) < target - 1e-12:
            k += 1
        out[g] = positives[k - 1]
    return out


def thresholds_quantile(scores, y_true, groups, target):
    out = {}
    for g in np.unique(groups):
        positives = np.sort(scores[(groups == g) & (y_true == 1)])
        n = len(positives)
        out[str(g)] = float(positives[n - max(1, math.ceil(round(target * n, 9)))])
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [thresholds_loop, thresholds_quantile])
def test_thresholds_accept_right_answers(right, seed):
    assert check_group_thresholds(right, seed=seed).passed


def _pooled_threshold(scores, y, groups, target):
    t = thresholds_quantile(scores, y, np.zeros(len(y), dtype=int), target)["0"]
    return {str(g): t for g in np.unique(groups)}


def _rounded_down(scores, y, groups, target):
    out = {}
    for g in np.unique(groups):
        pos = np.sort(scores[(groups == g) & (y == 1)])[::-1]
        out[str(g)] = pos[max(1, int(target * len(pos))) - 1]
    return out


def _too_low(scores, y, groups, target):
    return {g: t - 0.05 for g, t in thresholds_quantile(scores, y, groups, target).items()}


@pytest.mark.parametrize("wrong, phrase", [
    (_pooled_threshold, "same threshold"), (_rounded_down, "round the number"),
    (_too_low, "more positives than it needs"),
    (lambda *a: list(thresholds_quantile(*a).values()), "one threshold per group"),
])
def test_thresholds_catch(wrong, phrase):
    _fails(check_group_thresholds, wrong, phrase=phrase)


def test_thresholds_catch_an_answer_that_edits_the_labels_and_forbid_the_library():
    def no_positives_left(scores, y_true, groups, target):
        result = _rounded_down(scores, y_true, groups, target)
        y_true[:] = 0  # no positives: nothing left for a check reading them afterwards
        return result
    _fails(check_group_thresholds, no_positives_left, phrase="round the number")
    from utils.fairness import equal_tpr_thresholds
    _fails(check_group_thresholds, equal_tpr_thresholds, phrase="calls `utils.fairness")


def screen_loop(fit, test, target):
    limits = thresholds_loop(*fit, target)
    return [int(s >= limits[g]) for s, g in zip(test[0], test[2], strict=True)]


def screen_vectorised(fit, test, target):
    limits = thresholds_quantile(*fit, target)
    return (test[0] >= np.vectorize(limits.get)(test[2])).astype(int)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [screen_loop, screen_vectorised])
def test_screen_accepts_right_answers(right, seed):
    assert check_screen(right, seed=seed).passed


@pytest.mark.parametrize("wrong, phrase", [
    (lambda fit, test, t: screen_vectorised(test, test, t), "fitted on the test split"),
    (lambda fit, test, t: screen_vectorised(
        tuple(np.concatenate(p) for p in zip(fit, test, strict=True)), test, t), "both splits"),
    (lambda fit, test, t: test[0] * 0 + 0.5, "0/1 decisions"),
])
def test_screen_catches(wrong, phrase):
    _fails(check_screen, wrong, phrase=phrase)


def test_screen_catches_an_answer_that_edits_the_test_split():
    def overwrite_test(fit, test, target):
        for part, value in zip(test, fit, strict=True):
            part[:] = value[: len(part)]  # makes the test split a copy of the fit split
        return screen_vectorised(fit, fit, target)[: len(test[0])]
    _fails(check_screen, overwrite_test, phrase="fit group thresholds on the fit split")
    from utils.fairness import apply_thresholds, equal_tpr_thresholds
    _fails(check_screen, lambda fit, test, t: apply_thresholds(
        test[0], test[2], equal_tpr_thresholds(*fit, t)), phrase="calls `utils.fairness")


def test_stubs_pass_through_as_not_attempted():
    with pytest.raises(ExerciseNotImplemented):
        check_swap(lambda tokens: not_implemented("swap"))

