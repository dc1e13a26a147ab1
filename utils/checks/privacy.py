"""Checks for lab 08 (privacy): exposure by enumeration, the loss-threshold attack, DP clipping.

Used in chapter 8. Each check runs the student's function on fresh random
inputs built so that the plausible mistakes give measurably different
answers, compares with ``utils.privacy`` and names the mistake it recognises.
None prints an expected value.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

from utils.checks._core import CheckResult, as_tensor, call, exercise_check, fail, passed
from utils.privacy.exposure import exposure as reference_exposure
from utils.privacy.membership import auc as reference_auc


def _scalar(value, name: str, what: str) -> float:
    tensor = as_tensor(value, name, what)
    if tensor.numel() != 1:
        fail(f"{name}: {what} should be one number; yours has {tensor.numel()} values")
    return float(tensor.reshape(()))


@exercise_check("exposure")
def check_exposure(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(log_probs, index) -> exposure in bits. Catches: a rank off by one, log base 10 or e,
    ranking from the least likely end."""
    name = "exposure"
    rng = np.random.default_rng([seed, 81])
    cases = 0
    for n, position in ((1000, "top"), (1000, "middle"), (10**5, "high"), (64, "bottom")):
        scores = rng.normal(-40.0, 3.0, n)  # continuous: no ties
        order = np.argsort(-scores)  # most likely first
        index = int({"top": order[0], "middle": order[n // 2], "high": order[9],
                     "bottom": order[-1]}[position])
        for kind in (np.asarray, torch.tensor):
            value = _scalar(call(fn, kind(scores), index, exercise=name), name, "the exposure")
            cases += 1
            right = reference_exposure(scores, index)
            if abs(value - right) < 1e-6:
                continue
            rank = 1 + int(np.sum(scores > scores[index]))
            if not math.isfinite(value):
                fail(f"{name}: your exposure is {value} for the most likely candidate; ranks "
                     "start at 1 (the best candidate has rank 1), so log2(rank) is finite")
            if abs(value - (math.log2(n) - math.log2(rank + 1))) < 1e-6 or abs(
                    value - (math.log2(n) - math.log2(max(rank - 1, 1e-300)))) < 1e-6:
                fail(f"{name}: your rank is off by one: the most likely candidate has rank 1, "
                     "so rank = 1 + the number of candidates scored strictly higher")
            if abs(value - (math.log10(n) - math.log10(rank))) < 1e-6 or abs(
                    value - (math.log(n) - math.log(rank))) < 1e-6:
                fail(f"{name}: exposure is measured in bits: use log base 2, not 10 or e")
            if abs(value - (math.log2(n) - math.log2(n + 1 - rank))) < 1e-6:
                fail(f"{name}: you ranked from the wrong end: rank 1 must be the candidate with "
                     "the HIGHEST log-probability")
            fail(f"{name}: for a candidate ranked {position} among {n} your exposure is wrong; "
                 "exposure = log2(number of candidates) - log2(rank)")
    passed(name, cases)


def _losses(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    return rng.gamma(4.0, 1.0, n) - shift  # members have lower losses: shift > 0


@exercise_check("attack_auc")
def check_attack_auc(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(member_losses, nonmember_losses) -> AUC of "member if loss is low".
    Catches: the direction reversed (1 - AUC), ties not counted as half."""
    name = "attack_auc"
    rng = np.random.default_rng([seed, 82])
    cases = 0
    for shift, rounding in ((1.0, None), (0.3, 1), (0.0, 0)):
        members, nonmembers = _losses(rng, 200, shift), _losses(rng, 300, 0.0)
        if rounding is not None:  # rounded losses tie, as short common sentences do
            members, nonmembers = np.round(members, rounding), np.round(nonmembers, rounding)
        value = _scalar(call(fn, torch.tensor(members), torch.tensor(nonmembers), exercise=name),
                        name, "the AUC")
        cases += 1
        right = reference_auc(-members, -nonmembers)
        if abs(value - right) < 1e-6:
            continue
        if abs(value - (1 - right)) < 1e-6:
            fail(f"{name}: your AUC is for 'member if the loss is HIGH'; members are fitted "
                 "better, so a low loss should count as evidence of membership")
        strict = np.mean(-members[:, None] > -nonmembers[None, :])
        if rounding is not None and abs(value - strict) < 1e-6:
            fail(f"{name}: with tied losses, count a tie between a member and a non-member "
                 "as half a correct ordering")
        fail(f"{name}: your AUC differs from P(a member's loss < a non-member's loss) "
             f"(ties half) on {len(members)} members and {len(nonmembers)} non-members")
    passed(name, cases)


def _widest(losses: np.ndarray, threshold: float, max_fpr: float) -> bool:
    """True when the next loss above ``threshold`` would break the false-positive budget."""
    above = losses[losses > threshold]
    return above.size == 0 or float(np.mean(losses <= above.min())) > max_fpr


@exercise_check("threshold_attack")
def check_threshold_attack(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(calibration_nonmember_losses, member_losses, nonmember_losses, max_fpr)
    -> (threshold, tpr, fpr). Catches: the threshold chosen on the evaluation set, a
    threshold that breaks the false-positive budget, the direction reversed."""
    name = "threshold_attack"
    rng = np.random.default_rng([seed, 83])
    cases = 0
    for max_fpr in (0.01, 0.05, 0.2):
        calibration = _losses(rng, 500, 0.0)
        # evaluation non-members differ from calibration ones (higher losses): the choices differ
        members, nonmembers = _losses(rng, 400, 1.0), _losses(rng, 400, -0.6)
        result = call(fn, torch.tensor(calibration), torch.tensor(members),
                      torch.tensor(nonmembers), max_fpr, exercise=name)
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            fail(f"{name}: return three numbers, (threshold, tpr, fpr)")
        cases += 1
        threshold, tpr, fpr = (_scalar(v, name, w) for v, w in
                               zip(result, ("the threshold", "the TPR", "the FPR"), strict=True))
        cal_fpr = float(np.mean(calibration <= threshold))
        widest = _widest(calibration, threshold, max_fpr)
        eval_chosen = (float(np.mean(nonmembers <= threshold)) <= max_fpr
                       and _widest(nonmembers, threshold, max_fpr))
        if cal_fpr > max_fpr:
            if eval_chosen:
                fail(f"{name}: your threshold was chosen on the evaluation non-members; choose "
                     "it on the calibration losses, then measure TPR and FPR on fresh data")
            if float(np.mean(calibration >= threshold)) <= max_fpr:
                fail(f"{name}: 'member' must mean a loss AT OR BELOW the threshold (members are "
                     "fitted better), not above it")
            fail(f"{name}: on the calibration non-members your threshold flags more than "
                 "max_fpr of them as members")
        if not widest:
            fail(f"{name}: your threshold is stricter than it needs to be: take the largest "
                 "loss threshold that keeps the calibration false-positive rate within max_fpr")
        right_tpr = float(np.mean(members <= threshold))
        right_fpr = float(np.mean(nonmembers <= threshold))
        if abs(tpr - right_tpr) > 1e-9 or abs(fpr - right_fpr) > 1e-9:
            fail(f"{name}: your TPR or FPR is not the share of evaluation members or non-members "
                 "with a loss at or below your threshold")
    passed(name, cases)


@exercise_check("clip_and_noise")
def check_clip_and_noise(fn: Callable, seed: int = 0) -> CheckResult:
    """fn(per_example_grads (B, d), max_grad_norm, noise_multiplier, expected_batch_size,
    generator) -> the private gradient (d,). Catches: clipping the batch's gradient instead of
    each example's, dividing by the actual batch size, noise not scaled by the clipping norm."""
    name = "clip_and_noise"
    gen = torch.Generator().manual_seed(seed)
    cases = 0
    for batch, dim, clip, expected in ((6, 5, 1.0, 8.0), (10, 40, 0.5, 10.0), (3, 7, 2.0, 4.0)):
        grads = torch.randn(batch, dim, generator=gen, dtype=torch.float64)
        grads *= torch.linspace(0.2, 3.0, batch, dtype=torch.float64)[:, None] * clip
        value = as_tensor(call(fn, grads.clone(), clip, 0.0, expected, torch.Generator(),
                               exercise=name), name)
        cases += 1
        if tuple(value.shape) != (dim,):
            fail(f"{name}: return one gradient of shape ({dim},), summed over the batch; "
                 f"yours has shape {tuple(value.shape)}")
        norms = grads.norm(dim=1, keepdim=True)
        right = (grads * (clip / norms).clamp(max=1.0)).sum(0) / expected
        if torch.allclose(value, right, atol=1e-5):
            continue
        total = grads.sum(0)
        batch_clipped = total * min(1.0, clip / float(total.norm()))
        if torch.allclose(value, batch_clipped / expected, atol=1e-5) or torch.allclose(
                value, batch_clipped / batch, atol=1e-5):
            fail(f"{name}: you clipped the batch's summed gradient; DP-SGD clips EACH "
                 "example's gradient to norm max_grad_norm before summing")
        if torch.allclose(value, right * expected / batch, atol=1e-5):
            fail(f"{name}: divide by the expected batch size L, not the batch's actual size: "
                 "the actual size would itself reveal who was sampled")
        fail(f"{name}: with no noise your result should be the sum of the clipped per-example "
             "gradients divided by the expected batch size; it is not")
    # with noise: the spread around the clipped mean must be noise_multiplier * C / L
    batch, dim, clip, sigma, expected = 4, 20000, 0.5, 3.0, 8.0
    grads = torch.randn(batch, dim, generator=gen, dtype=torch.float64)
    value = as_tensor(call(fn, grads.clone(), clip, sigma, expected,
                           torch.Generator().manual_seed(seed), exercise=name), name)
    cases += 1
    norms = grads.norm(dim=1, keepdim=True)
    clipped_mean = (grads * (clip / norms).clamp(max=1.0)).sum(0) / expected
    spread = float((value - clipped_mean).std())
    for wrong, why in ((sigma / expected, "the noise's standard deviation must be "
                        "noise_multiplier * max_grad_norm (the sum's sensitivity is C)"),
                       (sigma * clip / batch, "divide the noise by the expected batch size too"),
                       (sigma * clip, "divide the noisy sum by the expected batch size")):
        distinct = abs(wrong - sigma * clip / expected) > 0.1 * wrong
        if abs(spread - wrong) < 0.05 * wrong and distinct:
            fail(f"{name}: {why}")
    if abs(spread - sigma * clip / expected) > 0.05 * sigma * clip / expected:
        fail(f"{name}: the noise in your gradient has the wrong size; add Gaussian noise with "
             "standard deviation noise_multiplier * max_grad_norm to the SUM, then divide by L")
    passed(name, cases)
