"""Checks for lab 06 (fairness): the gap, WEAT, group differences, the swap, group thresholds.

Used in chapter 6. Each exercise is data (`utils.checks._core.Exercise`):
cases drawn from a seed, a run that calls the student's function on a copy,
and a judge that computes the answer from the case with ``utils.fairness``
(itself tested against fairlearn) and names the plausible mistake it sees.
The lab asks for the measurements to be written by hand, so the library
functions they replace (fairlearn's, scikit-learn's, the course's) are forbidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from utils.checks import _fairness_decisions as _decisions
from utils.checks._answers import array, close, diagnose, scalar, tokens
from utils.checks._core import CheckResult, Exercise, Wrong, run_check
from utils.fairness.augment import ENGLISH_GENDER_SWAPS
from utils.fairness.augment import swap_tokens as _swap_tokens
from utils.fairness.weat import association as _s
from utils.fairness.weat import weat_effect_size as _d
from utils.fairness.weat import weat_p_value as _p
from utils.i18n import N_, _

__all__ = ["EXERCISES", "LAB_SWAPS", "check_gap", "check_group_differences",
           "check_group_thresholds", "check_screen", "check_swap", "check_weat_effect_size",
           "check_weat_p_value"]

LAB_SWAPS = ENGLISH_GENDER_SWAPS  # the lab's swap table


# ---------------------------------------------------------------- 1. the gap
def _gap_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 61])
    shapes = (((6, 9), 2, 5, 2.0), ((4, 12), 7, 1, 2.0), ((1, 5), 0, 4, 2.0),
              ((3, 10), 3, 8, 60.0))  # the last: probabilities far below float32's smallest
    return [{"logits": rng.normal(0, scale, shape).astype(np.float32), "female_id": f,
             "male_id": m} for shape, f, m, scale in shapes]


def _run_gap(ns, case):
    import torch
    return ns["gap"](torch.from_numpy(case["logits"]), case["female_id"], case["male_id"])


def _judge_gap(case, output):
    z, f, m = np.asarray(case["logits"], np.float64), case["female_id"], case["male_id"]
    log_p = z - np.log(np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - z.max(1, keepdims=True)
    want = log_p[:, f] - log_p[:, m]
    got = array(output, _("your gaps"), want.shape)
    if close(got, want, atol=1e-4, rtol=1e-5):
        return None
    if not np.isfinite(got).all():
        raise Wrong(_("some of your gaps are infinite or nan: a tiny probability underflows to 0 "
                      "before you take its log; take log_softmax of the logits instead"))
    p = np.exp(log_p)
    diagnose(got, {
        _("the sign is reversed; the gap is log P(female word) minus log P(male word)"): -want,
        _("that is a difference of probabilities; the gap is a difference of log-probabilities "
          "(a log of their ratio)"): p[:, f] - p[:, m],
        _("that is the ratio of the probabilities; take its (natural) log"): p[:, f] / p[:, m],
        _("that is in bits (log base 2); use the natural log, as the chapter does"):
            want / math.log(2)}, 1e-4, 1e-5)
    raise Wrong(_("some gaps are wrong; turn logits into log-probabilities over the whole "
                  "vocabulary (log_softmax on the last dimension) before taking the difference"))


# ---------------------------------------------------------------- 2-3. WEAT
def _weat_cases(seed: int, stream: int) -> list[dict]:
    rng = np.random.default_rng([seed, stream])
    sizes = ((4, 4, 4, 4), (4, 4, 3, 5), (3, 5, 4, 4), (5, 5, 2, 6), (4, 4, 4, 4))
    cases = []
    for k, counts in enumerate(sizes):
        shifts = (0.0, 0.4, 0.6, 0.0) if k == len(sizes) - 1 else (0.4, 0.0, 0.6, 0.0)
        # unequal norms, so that a dot product differs from a cosine
        x, y, a, b = (rng.normal(s, 1, (n, 6)) * rng.uniform(0.5, 3, (n, 1))
                      for s, n in zip(shifts, counts, strict=True))
        cases.append({"x": x, "y": y, "a": a, "b": b})
    return cases


def _run_weat(name: str) -> Callable:
    return lambda ns, c: ns[name](c["x"], c["y"], c["a"], c["b"])


def _judge_weat_d(case, output):
    x, y, a, b = (case[k] for k in "xyab")
    got, want = scalar(output, _("your effect size")), _d(x, y, a, b)
    if math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-9):
        return None
    sx, sy = _s(x, a, b), _s(y, a, b)
    s = np.concatenate([sx, sy])
    dot = [(w @ a.T).mean(1) - (w @ b.T).mean(1) for w in (x, y)]
    unit = [w / np.linalg.norm(w, axis=1, keepdims=True) for w in (x, y, a, b)]
    summed = [(w @ unit[2].T).sum(1) - (w @ unit[3].T).sum(1) for w in unit[:2]]
    diagnose(np.array(got), {
        _("the sign is reversed; d is positive when X is closer to A (and Y to B)"): -want,
        _("use cosine similarity, not the dot product: divide by both vectors' lengths"):
            (dot[0].mean() - dot[1].mean()) / np.concatenate(dot).std(ddof=1),
        _("use the sample standard deviation (ddof=1) of s over X and Y together"):
            (sx.mean() - sy.mean()) / s.std(),
        _("s(w, A, B) is a difference of MEAN cosines; a sum weighs the larger of A and B more"):
            (summed[0].mean() - summed[1].mean()) / np.concatenate(summed).std(ddof=1)},
        0.0, 1e-6)
    raise Wrong(_("your effect size is wrong; the denominator is the standard deviation of "
                  "s(w, A, B) over all words of X and Y together, not per set"))


def _judge_weat_p(case, output):
    x, y, a, b = (case[k] for k in "xyab")
    got = scalar(output, _("your p-value"))
    want = _p(x, y, a, b, n_permutations=None)[0]
    if math.isclose(got, want, abs_tol=1e-9):
        return None
    splits = math.comb(len(x) + len(y), len(x))
    two = _p(x, y, a, b, n_permutations=None, alternative="two-sided")[0]
    if not math.isclose(want, two) and math.isclose(got, two, abs_tol=1e-9):
        raise Wrong(_("that is the two-sided p-value (it compares absolute values); Caliskan's "
                      "test is one-sided: count splits whose statistic is at least the observed "
                      "one"))
    diagnose(np.array(got), {
        _("the observed split itself is one of the splits, and its statistic equals itself: "
          "count '>=' not '>'"): want - 1 / splits,
        _("the direction is reversed; count statistics at least as large as the observed one"):
            1 - want + 1 / splits}, 1e-9, 0.0)
    raise Wrong(_("your p-value is wrong; enumerate every way to choose len(x) of the pooled words "
                  "as X_i (the rest are Y_i) and take the share of splits at least as extreme"))


# ---------------------------------------------------------------- 5. the swap
_SWAP_SENTENCES = ["the nurse said that she was tired .",
                   "He finished his report and thanked her .", "the man's hat and the woman's coat",
                   "My Father's house belongs to HIM now",
                   "the manager heated the shell beside the mother",
                   "Women and men ; she herself ; boy's toy"]
_DECOYS = ["manager", "the", "shell", "human", "hero", "sheep", "mankind", "Heather", "omen",
           "them", "hiss", "sons-in-law", "Daughters"]


def _swap_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 65])
    cases = [{"tokens": _SWAP_SENTENCES[i].split()} for i in rng.permutation(6)]
    words = sorted(LAB_SWAPS)
    # random mixtures: every form of a gendered word, and words that contain one
    for _mixture in range(3):
        out = []
        for _word in range(10):
            w = str(rng.choice(words)) if rng.random() < 0.6 else str(rng.choice(_DECOYS))
            w = [w, w.capitalize(), w.upper()][int(rng.integers(3))] if w in LAB_SWAPS else w
            out.append(w + "'s" if rng.random() < 0.2 else w)
        cases.append({"tokens": out})
    return cases


def _gendered(token: str) -> bool:
    t = token.lower()
    return t in LAB_SWAPS or (t.endswith("'s") and t[:-2] in LAB_SWAPS)


_SWAP_RULES = [  # (is this the mistake?, message), tried in order on the wrong tokens
    (lambda t, g, w: not _gendered(t), N_("{t!r} is not a gendered word but was changed; swap "
        "whole tokens only, never parts of a word")),
    (lambda t, g, w: g.lower() == w.lower(), N_("{t!r} lost its capitals; keep a capitalised word "
        "capitalised")),
    (lambda t, g, w: g == t and t != t.lower() and not t.lower().endswith("'s"),
     N_("{t!r} was left unchanged; look words up in lowercase")),
    (lambda t, g, w: g == t and t.lower().endswith("'s"), N_("the possessive {t!r} was not "
        "swapped; strip the 's, swap, put it back")),
    (lambda t, g, w: g == t, N_("{t!r} was left unchanged; every word of LAB_SWAPS is swapped")),
    (lambda t, g, w: g.lower().removesuffix("'s") not in LAB_SWAPS.values(), N_("{t!r} became "
        "{g!r}; swap whole tokens only, never parts of a word")),
    (lambda t, g, w: True, N_("{t!r} was swapped to the wrong word; use LAB_SWAPS")),
]


def _judge_swap(case, output):
    given = case["tokens"]
    got, want = tokens(output, len(given)), _swap_tokens(given, LAB_SWAPS)
    wrong = [(t, g, w) for t, g, w in zip(given, got, want, strict=True) if g != w]
    for rule, message in _SWAP_RULES:
        for t, g, w in wrong:
            if rule(t, g, w):
                raise Wrong(_(message).format(t=t, g=g))
    return None


# ---------------------------------------------------------------- the lab's exercises
_OWN = ("utils.fairness.group_metrics.", "fairlearn.metrics.")
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("gap", ("gap",), _gap_cases, _run_gap, _judge_gap,
             ("utils.fairness.gap.log_prob_gap",)),
    Exercise("weat_effect_size", ("weat_effect_size",), lambda s: _weat_cases(s, 62),
             _run_weat("weat_effect_size"), _judge_weat_d,
             ("utils.fairness.weat.weat_effect_size", "utils.fairness.weat.association")),
    Exercise("weat_p_value", ("weat_p_value",), lambda s: _weat_cases(s, 63)[1:],
             _run_weat("weat_p_value"), _judge_weat_p,
             ("utils.fairness.weat.weat_p_value", "utils.fairness.weat.association",
              "scipy.stats.permutation_test")),
    Exercise("group_differences", ("demographic_parity_difference", "equalized_odds_difference"),
             _decisions.group_cases, _decisions.run_groups, _decisions.judge_groups,
             tuple(p + f for p in _OWN for f in (
                 "demographic_parity_difference", "equalized_odds_difference",
                 "equal_opportunity_difference", "selection_rate", "true_positive_rate",
                 "false_positive_rate")) + ("fairlearn.metrics.MetricFrame.__init__",
                                            "sklearn.metrics.recall_score",
                                            "sklearn.metrics.confusion_matrix")),
    Exercise("swap", ("swap",), _swap_cases, lambda ns, c: ns["swap"](c["tokens"]), _judge_swap,
             ("utils.fairness.augment.swap_tokens", "utils.data.corpus.tasks.swap_gender")),
    Exercise("group_thresholds", ("group_thresholds",), _decisions.threshold_cases,
             _decisions.run_thresholds, _decisions.judge_thresholds,
             ("utils.fairness.decisions.equal_tpr_thresholds",)),
    Exercise("screen", ("screen",), _decisions.screen_cases, _decisions.run_screen,
             _decisions.judge_screen, ("utils.fairness.decisions.equal_tpr_thresholds",)),
)}


def check_gap(gap: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["gap"], {"gap": gap}, seed)


def check_weat_effect_size(weat_effect_size: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["weat_effect_size"], {"weat_effect_size": weat_effect_size}, seed)


def check_weat_p_value(weat_p_value: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["weat_p_value"], {"weat_p_value": weat_p_value}, seed)


def check_group_differences(dpd: Callable, eod: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["group_differences"], {"demographic_parity_difference": dpd,
                                                       "equalized_odds_difference": eod}, seed)


def check_swap(swap: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["swap"], {"swap": swap}, seed)


def check_group_thresholds(group_thresholds: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["group_thresholds"], {"group_thresholds": group_thresholds}, seed)


def check_screen(screen: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["screen"], {"screen": screen}, seed)
