"""Lab 06's decision exercises as data: group differences, group thresholds, the held-out screen.

Used in chapter 6 through ``utils.checks.fairness``. Each judge computes the
answer from its case with ``utils.fairness`` (tested against fairlearn).
"""

from __future__ import annotations

import math

import numpy as np

from utils.checks._answers import array, diagnose, scalar
from utils.checks._core import Wrong
from utils.fairness.decisions import apply_thresholds as _apply
from utils.fairness.decisions import equal_tpr_thresholds as _thresholds
from utils.fairness.group_metrics import demographic_parity_difference as _dpd
from utils.fairness.group_metrics import equalized_odds_difference as _eod
from utils.i18n import _


# ---------------------------------------------------------------- 4. group differences
def group_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 64])
    cases = []
    for n, groups in ((60, ["a", "b"]), (90, ["x", "y", "z"]), (120, ["p", "q", "r", "s"]),
                      (40, [0, 1, 2])):
        g = rng.choice(len(groups), n, p=rng.dirichlet(np.ones(len(groups)) * 4))
        y = (rng.random(n) < 0.5).astype(np.int64)
        k = len(groups)  # every group holds both labels
        g[: 2 * k], y[: 2 * k] = np.tile(np.arange(k), 2), np.repeat([0, 1], k)
        rates = rng.uniform(0.2, 0.8, len(groups))
        pred = (rng.random(n) < rates[g]).astype(np.int64)
        if isinstance(groups[0], int):  # integer groups; one selects everyone, one no one
            pred[g == 0], pred[g == 1] = 1, 0
        cases.append({"y_true": y, "y_pred": pred, "groups": [groups[i] for i in g]})
    return cases


def run_groups(ns, case):
    y, pred, g = case["y_true"], case["y_pred"], np.asarray(case["groups"])
    return {"dp": ns["demographic_parity_difference"](y, pred, sensitive_features=g),
            "eo": ns["equalized_odds_difference"](y, pred, sensitive_features=g)}


def _rates(y, pred, g, label):
    return [float(np.mean(pred[(g == v) & (y == label)] == 1)) for v in np.unique(g)]


def judge_groups(case, output):
    if not isinstance(output, dict) or set(output) != {"dp", "eo"}:
        raise Wrong(_("the check could not read your two results"))
    y, pred, g = case["y_true"], case["y_pred"], np.asarray(case["groups"])
    dp = scalar(output["dp"], _("your demographic_parity_difference"))
    eo = scalar(output["eo"], _("your equalized_odds_difference"))
    per = [float(np.mean(pred[g == v] == 1)) for v in np.unique(g)]
    if not math.isclose(dp, _dpd(y, pred, sensitive_features=g), abs_tol=1e-12):
        diagnose(np.array(dp), {
            _("demographic parity compares the groups with each other, not each group with the "
              "pooled rate of everyone"): max(abs(r - np.mean(pred)) for r in per),
            _("with more than two groups, take the largest minus the smallest group rate, not "
              "the first two"): abs(per[0] - per[1]),
            _("a difference of rates is largest minus smallest, not a ratio"): min(per) / max(per)},
            1e-12, 0.0)
        raise Wrong(_("your demographic_parity_difference is wrong; it is the largest minus the "
                      "smallest per-group selection rate P(y_pred = 1 | group)"))
    if math.isclose(eo, _eod(y, pred, sensitive_features=g), abs_tol=1e-12):
        return None
    tpr, fpr = _rates(y, pred, g, 1), _rates(y, pred, g, 0)
    diagnose(np.array(eo), {
        _("equalized odds asks for equal false-positive rates too; return the larger of the "
          "two differences"): max(tpr) - min(tpr),
        _("take the LARGER of the TPR and FPR differences, not their average"):
            (max(tpr) - min(tpr) + max(fpr) - min(fpr)) / 2,
        _("compare the groups' rates with each other, not with the pooled rate"): max(
            max(abs(t - np.mean(pred[y == 1])) for t in tpr),
            max(abs(f - np.mean(pred[y == 0])) for f in fpr))}, 1e-12, 0.0)
    raise Wrong(_("your equalized_odds_difference is wrong; per group compute the TPR among "
                  "y_true = 1 and the FPR among y_true = 0"))


# ---------------------------------------------------------------- 6-7. group thresholds
def _split(rng: np.random.Generator, n: int) -> dict:
    groups = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    shift = np.select([groups == "a", groups == "b"], [0.6, 0.0], -0.4)
    y = (rng.random(n) < 0.4).astype(np.int64)
    groups[:3], y[:3] = ["a", "b", "c"], 1  # every group has a positive
    scores = 1 / (1 + np.exp(-(1.5 * y + shift + rng.normal(0, 1, n))))
    return {"scores": scores, "y_true": y, "groups": [str(v) for v in groups]}


def threshold_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 66])
    return [{**_split(rng, n), "target_tpr": t} for n, t in
            ((400, 0.5), (400, 0.7), (400, 0.85), (60, 1.0), (30, 0.3))]  # small: few positives


def run_thresholds(ns, c):
    return ns["group_thresholds"](c["scores"], c["y_true"], np.asarray(c["groups"]),
                                  c["target_tpr"])


def judge_thresholds(case, output):
    groups, y, target = np.asarray(case["groups"]), case["y_true"], case["target_tpr"]
    names = set(np.unique(groups).tolist())
    if not isinstance(output, dict) or set(output) != names:
        raise Wrong(_("return a dict with one threshold per group, keyed by the group"))
    got = {g: scalar(v, _("group {g}'s threshold").format(g=g)) for g, v in output.items()}
    if len(set(got.values())) == 1:
        raise Wrong(_("every group got the same threshold; fit one per group from that group's "
                      "positives"))
    pred = _apply(case["scores"], groups, got)
    for g in sorted(names):
        positives = (groups == g) & (y == 1)
        tpr = pred[positives].mean()
        if tpr < target - 1e-12:
            raise Wrong(_("group {g}'s true-positive rate is below the target; round the number "
                          "of positives to select up, not down").format(g=g))
        if tpr >= target + 1 / positives.sum() - 1e-12:
            raise Wrong(_("group {g} selects more positives than it needs; take the highest "
                          "threshold that reaches the target").format(g=g))
    return None


def screen_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 67])
    return [{"fit": _split(rng, 300), "test": _split(rng, n), "target_tpr": t}
            for n, t in ((300, 0.7), (120, 0.5))]


def _triple(split: dict) -> tuple:
    return split["scores"], split["y_true"], np.asarray(split["groups"])


def run_screen(ns, c):
    return ns["screen"](_triple(c["fit"]), _triple(c["test"]), c["target_tpr"])


def judge_screen(case, output):
    fit, test, target = _triple(case["fit"]), _triple(case["test"]), case["target_tpr"]
    got = array(output, _("your decisions"), (len(test[0]),))
    if not np.isin(got, (0, 1)).all():
        raise Wrong(_("return 0/1 decisions (1 = selected), not scores"))
    want = _apply(test[0], test[2], _thresholds(*fit, target))
    pooled = (np.concatenate(part) for part in zip(fit, test, strict=True))
    if np.array_equal(got, want):
        return None
    diagnose(got, {
        _("the thresholds were fitted on the test split; fit them on the fit split and only apply "
          "them to the test split, or the held-out rates mean nothing"):
            _apply(test[0], test[2], _thresholds(*test, target)),
        _("the thresholds were fitted on both splits together; fit them on the fit split only"):
            _apply(test[0], test[2], _thresholds(*pooled, target))}, 0.0, 0.0)
    raise Wrong(_("fit group thresholds on the fit split, then predict 1 where a test score "
                  "reaches its group's threshold"))
