"""Checks for lab 08 (privacy): exposure by enumeration, the loss-threshold attack, DP clipping.

Used in chapter 8. Each exercise is data (`utils.checks._core.Exercise`):
cases drawn from a seed, built so that the plausible mistakes give different
answers; a run that calls the student's function on a copy; and a judge that
computes the answer from the case (with ``utils.privacy``) and names the
mistake it recognises. The library functions each exercise replaces are forbidden.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from utils.checks._answers import array, diagnose, items, scalar
from utils.checks._core import CheckResult, Exercise, Wrong, run_check
from utils.evaluate.roc import auroc as _auroc
from utils.evaluate.roc import scores_and_labels as _scores_and_labels
from utils.i18n import N_, _
from utils.privacy.exposure import exposure as _exposure

__all__ = ["EXERCISES", "check_attack_auc", "check_clip_and_noise", "check_exposure",
           "check_threshold_attack"]

_AUC_FUNCTIONS = ("sklearn.metrics.roc_auc_score", "sklearn.metrics.roc_curve",
                  "sklearn.metrics.auc", "utils.evaluate.roc.auroc", "utils.evaluate.roc.roc_curve",
                  "utils.privacy.membership.auroc", "utils.privacy.membership.roc_curve",
                  "scipy.stats.mannwhitneyu")


def _as_given(case: dict, *names: str) -> list:
    """The case's arrays as the student receives them: tensors, or NumPy arrays."""
    import torch
    wrap = torch.from_numpy if case.get("tensors", True) else np.asarray
    return [wrap(np.asarray(case[n])) for n in names]


# ---------------------------------------------------------------- 1. exposure
# Where the canary ranks, as the message names it (a case keeps the English word).
_PLACES = (N_("top"), N_("middle"), N_("high"), N_("bottom"))


def _exposure_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 81])
    cases = []
    for k, (n, where, rounding) in enumerate((
            (1000, "top", None), (1000, "middle", None), (10**5, "high", None),
            (64, "bottom", None), (400, "middle", 0), (50, "top", -3), (1, "top", None))):
        scores = rng.normal(-40.0, 3.0, n)
        if rounding is not None:  # tied scores: rank is 1 + higher + half the ties
            scores = np.round(scores, rounding)
        order = np.argsort(-scores, kind="stable")
        index = order[{"top": 0, "middle": n // 2, "high": 9, "bottom": n - 1}[where]]
        cases.append({"log_probs": scores, "index": int(index), "where": where,
                      "tensors": k % 2 == 0})
    return cases


def _judge_exposure(case, output):
    scores, index = np.asarray(case["log_probs"]), case["index"]
    got, want = scalar(output, _("your exposure")), _exposure(scores, index)
    if math.isclose(got, want, abs_tol=1e-6):
        return None
    n, target = len(scores), scores[index]
    higher, ties = int(np.sum(scores > target)), int(np.sum(scores == target)) - 1
    if not math.isfinite(got):
        raise Wrong(_("your exposure is not a finite number; ranks start at 1 (the most likely "
                      "candidate has rank 1), so log2(rank) is finite"))
    rank = 1 + higher + ties / 2
    diagnose(np.array(got), {
        _("ties: a candidate scored exactly like this one is as likely to rank above it as "
          "below, so count each such candidate as half a rank"): (
            math.log2(n) - math.log2(1 + higher), math.log2(n) - math.log2(1 + higher + ties)),
        _("your rank is off by one: the most likely candidate has rank 1, so rank = 1 + the "
          "number of candidates scored strictly higher (+ half the ties)"): (
            math.log2(n) - math.log2(rank + 1), math.log2(n) - math.log2(max(rank - 1, 1e-300))),
        _("exposure is measured in bits: use log base 2, not 10 or e"): (
            math.log10(n) - math.log10(rank), math.log(n) - math.log(rank)),
        _("you ranked from the wrong end: rank 1 must be the candidate with the HIGHEST "
          "log-probability"): math.log2(n) - math.log2(1 + int(np.sum(scores < target)) + ties / 2),
    }, 1e-6)
    raise Wrong(_("your exposure is wrong for a candidate ranked {where} among {n}; "
                  "exposure = log2(number of candidates) - log2(rank)").format(
        where=_(case["where"]), n=n))


# ---------------------------------------------------------------- 2. the attack's AUC
def _losses(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    return rng.gamma(4.0, 1.0, n) - shift  # members have lower losses: shift > 0


def _auc_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 82])
    cases = []
    for k, (shift, rounding) in enumerate(((1.0, None), (0.3, 1), (0.0, 0), (20.0, None))):
        members, nonmembers = _losses(rng, 200, shift), _losses(rng, 300, 0.0)
        if rounding is not None:  # rounded losses tie, as short common sentences do
            members, nonmembers = np.round(members, rounding), np.round(nonmembers, rounding)
        cases.append({"members": members, "nonmembers": nonmembers, "tensors": k % 2 == 0})
    cases.append({"members": np.full(5, 2.5), "nonmembers": np.full(7, 2.5), "tensors": True})
    return cases


def _judge_auc(case, output):
    members, nonmembers = np.asarray(case["members"]), np.asarray(case["nonmembers"])
    got = scalar(output, _("your AUC"))
    want = _auroc(*_scores_and_labels(-members, -nonmembers))
    if math.isclose(got, want, abs_tol=1e-6):
        return None
    m, n = members[:, None], nonmembers[None, :]
    diagnose(np.array(got), {
        _("your AUC is for 'member if the loss is HIGH'; members are fitted better, so a low "
          "loss should count as evidence of membership"): 1 - want,
        _("with tied losses, count a tie between a member and a non-member as half a correct "
          "ordering"): (np.mean(m < n), np.mean(m <= n))}, 1e-6)
    raise Wrong(_("your AUC differs from P(a member's loss < a non-member's loss) (ties half) on "
                  "{n_members} members and {n_nonmembers} non-members").format(
        n_members=len(members), n_nonmembers=len(nonmembers)))


# ---------------------------------------------------------------- 3. the threshold attack
def _threshold_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 83])
    # evaluation non-members differ from calibration ones (higher losses): the choices differ
    return [{"calibration": _losses(rng, 500, 0.0), "members": _losses(rng, 400, 1.0),
             "nonmembers": _losses(rng, 400, -0.6), "max_fpr": f, "tensors": f != 0.05}
            for f in (0.01, 0.05, 0.2, 0.001)]  # 0.001 of 500: not one false positive allowed


def _run_threshold(ns, c):
    return ns["threshold_attack"](*_as_given(c, "calibration", "members", "nonmembers"),
                                  c["max_fpr"])


def _widest(losses: np.ndarray, threshold: float, max_fpr: float) -> bool:
    """True when the next loss above ``threshold`` would break the false-positive budget."""
    above = losses[losses > threshold]
    return above.size == 0 or float(np.mean(losses <= above.min())) > max_fpr


def _judge_threshold(case, output):
    calibration, max_fpr = np.asarray(case["calibration"]), case["max_fpr"]
    members, nonmembers = np.asarray(case["members"]), np.asarray(case["nonmembers"])
    threshold, tpr, fpr = (scalar(v, w) for v, w in zip(
        items(output, 3, _("(threshold, tpr, fpr)")),
        (_("your threshold"), _("your TPR"), _("your FPR")), strict=True))
    if math.isnan(threshold):
        raise Wrong(_("your threshold is nan"))
    if float(np.mean(calibration <= threshold)) > max_fpr:
        if float(np.mean(nonmembers <= threshold)) <= max_fpr \
                and _widest(nonmembers, threshold, max_fpr):
            raise Wrong(_("your threshold was chosen on the evaluation non-members; choose it on "
                          "the calibration losses, then measure TPR and FPR on fresh data"))
        if float(np.mean(calibration >= threshold)) <= max_fpr:
            raise Wrong(_("'member' must mean a loss AT OR BELOW the threshold (members are "
                          "fitted better), not above it"))
        raise Wrong(_("on the calibration non-members your threshold flags more than max_fpr "
                      "of them as members"))
    if not _widest(calibration, threshold, max_fpr):
        raise Wrong(_("your threshold is stricter than it needs to be: take the largest loss "
                      "threshold that keeps the calibration false-positive rate within max_fpr"))
    if abs(tpr - float(np.mean(members <= threshold))) > 1e-9 \
            or abs(fpr - float(np.mean(nonmembers <= threshold))) > 1e-9:
        raise Wrong(_("your TPR or FPR is not the share of evaluation members or non-members "
                      "with a loss at or below your threshold"))
    return None


# ---------------------------------------------------------------- 4. clipping and noise
def _clip_cases(seed: int) -> list[dict]:
    rng = np.random.default_rng([seed, 84])
    cases = []
    for batch, dim, clip, expected, low, high in (
            (6, 5, 1.0, 8.0, 0.2, 3.0), (10, 40, 0.5, 10.0, 0.5, 4.0), (3, 7, 2.0, 4.0, 0.3, 2.0),
            (5, 6, 1.5, 5.0, 0.1, 0.9)):  # the last: every gradient already within the norm
        grads = rng.normal(size=(batch, dim))
        norms = np.linspace(low, high, batch) * clip  # each row's norm, as a multiple of C
        grads *= (norms / np.linalg.norm(grads, axis=1))[:, None]
        cases.append({"grads": grads, "max_grad_norm": clip, "noise_multiplier": 0.0,
                      "expected_batch_size": expected, "noise_seed": 0})
    cases.append({"grads": rng.normal(size=(4, 20000)), "max_grad_norm": 0.5,
                  "noise_multiplier": 3.0, "expected_batch_size": 8.0, "noise_seed": seed})
    return cases


def _run_clip(ns, c):
    import torch

    def once():
        return ns["clip_and_noise"](torch.from_numpy(c["grads"]), c["max_grad_norm"],
                                    c["noise_multiplier"], c["expected_batch_size"],
                                    torch.Generator().manual_seed(c["noise_seed"]))
    return once() if c["noise_multiplier"] == 0 else [once(), once()]  # noise: twice, same seed


def _judge_clip(case, output):
    grads, clip, sigma = np.asarray(case["grads"]), case["max_grad_norm"], case["noise_multiplier"]
    expected, (batch, dim) = case["expected_batch_size"], grads.shape
    norms = np.linalg.norm(grads, axis=1, keepdims=True)
    right = (grads * np.minimum(1.0, clip / norms)).sum(0) / expected
    if sigma > 0:
        first, again = (array(v, _("your private gradient"), (dim,))
                        for v in items(output, 2, _("the gradient")))
        if not np.array_equal(first, again):
            raise Wrong(_("two calls with generators seeded alike gave different noise: draw it "
                          "with torch.normal(..., generator=generator), not from the global "
                          "stream"))
        return _judge_noise(first - right, sigma, clip, expected, batch)
    got = array(output, _("your private gradient"), (dim,))
    if np.allclose(got, right, atol=1e-5):
        return None
    total = grads.sum(0)
    batch_clipped = total * min(1.0, clip / np.linalg.norm(total))
    diagnose(got, {
        _("you clipped the batch's summed gradient; DP-SGD clips EACH example's gradient to norm "
          "max_grad_norm before summing"): (batch_clipped / expected, batch_clipped / batch),
        _("divide by the expected batch size L, not the batch's actual size: the actual size "
          "would itself reveal who was sampled"): right * expected / batch,
        _("a gradient already shorter than max_grad_norm must stay as it is: clipping scales by "
          "min(1, C / norm), never up"): (grads * clip / norms).sum(0) / expected}, 1e-5)
    raise Wrong(_("with no noise your result should be the sum of the clipped per-example "
                  "gradients divided by the expected batch size; it is not"))


def _judge_noise(noise: np.ndarray, sigma: float, clip: float, expected: float, batch: int):
    """The noise left after subtracting the clipped mean: N(0, (sigma C / L)^2) per coordinate."""
    sd, spread = sigma * clip / expected, float(noise.std())
    if abs(float(noise.mean())) > 5 * spread / math.sqrt(noise.size):
        raise Wrong(_("your noise does not average to zero around the clipped sum; add Gaussian "
                      "noise of mean 0"))
    for wrong, why in ((sigma / expected, _("the noise's standard deviation must be "
                          "noise_multiplier * max_grad_norm (the sum's sensitivity is C)")),
                       (sigma * clip / batch, _("divide the noise by the expected batch size too")),
                       (sigma * clip, _("divide the noisy sum by the expected batch size"))):
        if abs(spread - wrong) < 0.05 * wrong and abs(wrong - sd) > 0.1 * wrong:
            raise Wrong(why)
    if abs(spread - sd) > 0.05 * sd:
        raise Wrong(_("the noise in your gradient has the wrong size; add Gaussian noise with "
                      "standard deviation noise_multiplier * max_grad_norm to the SUM, then divide "
                      "by L"))
    return None


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("exposure", ("exposure_of",), _exposure_cases,
             lambda ns, c: ns["exposure_of"](*_as_given(c, "log_probs"), c["index"]),
             _judge_exposure, ("utils.privacy.exposure.exposure",
                               "utils.privacy.canary.canary_exposure")),
    Exercise("attack_auc", ("attack_auc",), _auc_cases,
             lambda ns, c: ns["attack_auc"](*_as_given(c, "members", "nonmembers")),
             _judge_auc, _AUC_FUNCTIONS),
    Exercise("threshold_attack", ("threshold_attack",), _threshold_cases, _run_threshold,
             _judge_threshold, ("utils.privacy.membership.threshold_at_fpr",
                                "utils.privacy.membership.attack_rates",
                                "utils.privacy.membership.tpr_at_fpr", *_AUC_FUNCTIONS)),
    Exercise("clip_and_noise", ("clip_and_noise",), _clip_cases, _run_clip, _judge_clip,
             ("utils.privacy.dpsgd.clip_and_sum", "utils.privacy.dpsgd.gaussian_noise",
              "utils.privacy.dpsgd.private_gradient")),
)}


def check_exposure(exposure_of: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["exposure"], {"exposure_of": exposure_of}, seed)


def check_attack_auc(attack_auc: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["attack_auc"], {"attack_auc": attack_auc}, seed)


def check_threshold_attack(threshold_attack: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["threshold_attack"], {"threshold_attack": threshold_attack}, seed)


def check_clip_and_noise(clip_and_noise: Callable, seed: int = 0) -> CheckResult:
    return run_check(EXERCISES["clip_and_noise"], {"clip_and_noise": clip_and_noise}, seed)
