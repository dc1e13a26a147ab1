"""Lab 08's checks accept right answers in any numeric form and catch the plausible wrong ones.

Wrong answers caught: exposure with a rank off by one, in log base 10, or ranked
from the least likely end; the attack's AUC reversed or with ties not counted as
half; the attack's threshold chosen on the evaluation set, beyond the
false-positive budget, or with the direction reversed; DP-SGD clipping of the
batch's gradient instead of each example's, division by the actual batch size,
noise not multiplied by the clipping norm.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed
from utils.checks.privacy import (
    check_attack_auc,
    check_clip_and_noise,
    check_exposure,
    check_threshold_attack,
)


# ---------------------------------------------------------------- exposure
def exposure_right(log_probs, index):
    scores = np.asarray(log_probs, dtype=float)
    rank = 1 + np.sum(scores > scores[index])
    return np.log2(len(scores)) - np.log2(rank)


def exposure_zero_based(log_probs, index):
    scores = np.asarray(log_probs, dtype=float)
    return math.log2(len(scores)) - math.log2(max(np.sum(scores > scores[index]), 1e-300))


def exposure_plus_one(log_probs, index):
    scores = np.asarray(log_probs, dtype=float)
    return math.log2(len(scores)) - math.log2(2 + np.sum(scores > scores[index]))


def exposure_log10(log_probs, index):
    scores = np.asarray(log_probs, dtype=float)
    return math.log10(len(scores)) - math.log10(1 + np.sum(scores > scores[index]))


def exposure_wrong_end(log_probs, index):
    scores = np.asarray(log_probs, dtype=float)
    return math.log2(len(scores)) - math.log2(1 + np.sum(scores < scores[index]))


def test_exposure_accepts_the_right_answer_as_a_tensor_too():
    assert check_exposure(exposure_right, seed=0).passed
    assert check_exposure(lambda s, i: torch.tensor(exposure_right(s, i), dtype=torch.float32),
                          seed=3).passed


@pytest.mark.parametrize("wrong,phrase", [
    (exposure_zero_based, "rank"),
    (exposure_plus_one, "off by one"),
    (exposure_log10, "log base 2"),
    (exposure_wrong_end, "wrong end"),
])
def test_exposure_catches(wrong, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_exposure(wrong, seed=0)


# ---------------------------------------------------------------- AUC
def auc_right(members, nonmembers):
    m, n = np.asarray(members)[:, None], np.asarray(nonmembers)[None, :]
    return np.mean(m < n) + 0.5 * np.mean(m == n)


def test_auc_accepts_the_right_answer():
    assert check_attack_auc(auc_right, seed=0).passed
    assert check_attack_auc(lambda m, n: torch.tensor(auc_right(m, n)).float(), seed=1).passed


@pytest.mark.parametrize("wrong,phrase", [
    (lambda m, n: 1 - auc_right(m, n), "HIGH"),
    (lambda m, n: np.mean(np.asarray(m)[:, None] < np.asarray(n)[None, :]), "tie"),
])
def test_auc_catches(wrong, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_attack_auc(wrong, seed=0)


# ---------------------------------------------------------------- threshold attack
def _threshold(losses, max_fpr):
    ordered = np.sort(np.asarray(losses))
    allowed = int(np.floor(max_fpr * len(ordered)))
    return ordered[allowed - 1] if allowed > 0 else ordered[0] - 1.0


def threshold_right(calibration, members, nonmembers, max_fpr):
    t = _threshold(calibration, max_fpr)
    return t, np.mean(np.asarray(members) <= t), np.mean(np.asarray(nonmembers) <= t)


def threshold_on_eval(calibration, members, nonmembers, max_fpr):
    return threshold_right(nonmembers, members, nonmembers, max_fpr)


def threshold_over_budget(calibration, members, nonmembers, max_fpr):
    t = np.sort(np.asarray(calibration))[int(np.floor(max_fpr * len(calibration)))]
    return t, np.mean(np.asarray(members) <= t), np.mean(np.asarray(nonmembers) <= t)


def threshold_reversed(calibration, members, nonmembers, max_fpr):
    ordered = np.sort(np.asarray(calibration))[::-1]
    t = ordered[int(np.floor(max_fpr * len(ordered))) - 1]
    return t, np.mean(np.asarray(members) >= t), np.mean(np.asarray(nonmembers) >= t)


def test_threshold_attack_accepts_the_right_answer():
    assert check_threshold_attack(threshold_right, seed=0).passed
    # any threshold between the allowed loss and the next one is as right
    def midway(calibration, members, nonmembers, max_fpr):
        ordered = np.sort(np.asarray(calibration))
        k = int(np.floor(max_fpr * len(ordered)))
        t = (ordered[k - 1] + ordered[k]) / 2
        return (torch.tensor(t), np.mean(np.asarray(members) <= t),
                np.mean(np.asarray(nonmembers) <= t))
    assert check_threshold_attack(midway, seed=2).passed


@pytest.mark.parametrize("wrong,phrase", [
    (threshold_on_eval, "evaluation non-members"),
    (threshold_over_budget, "more than max_fpr"),
    (threshold_reversed, "AT OR BELOW"),
])
def test_threshold_attack_catches(wrong, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_threshold_attack(wrong, seed=0)


# ---------------------------------------------------------------- clipping and noise
def clip_right(grads, max_grad_norm, noise_multiplier, expected_batch_size, generator):
    norms = grads.norm(dim=1, keepdim=True)
    summed = (grads * (max_grad_norm / norms).clamp(max=1.0)).sum(0)
    noise = torch.normal(0.0, noise_multiplier * max_grad_norm, summed.shape,
                         generator=generator, dtype=grads.dtype)
    return (summed + noise) / expected_batch_size


def clip_batch(grads, c, s, L, g):
    total = grads.sum(0)
    total = total * min(1.0, c / float(total.norm()))
    return (total + torch.normal(0.0, s * c, total.shape, generator=g, dtype=grads.dtype)) / L


def clip_actual_batch(grads, c, s, L, g):
    return clip_right(grads, c, s, len(grads), g)


def clip_noise_without_c(grads, c, s, L, g):
    norms = grads.norm(dim=1, keepdim=True)
    summed = (grads * (c / norms).clamp(max=1.0)).sum(0)
    return (summed + torch.normal(0.0, s, summed.shape, generator=g, dtype=grads.dtype)) / L


def test_clip_and_noise_accepts_the_right_answer_in_float32():
    assert check_clip_and_noise(clip_right, seed=0).passed
    assert check_clip_and_noise(lambda *a: clip_right(*a).float(), seed=1).passed


@pytest.mark.parametrize("wrong,phrase", [
    (clip_batch, "EACH"),
    (clip_actual_batch, "expected batch size"),
    (clip_noise_without_c, "noise_multiplier \\* max_grad_norm"),
])
def test_clip_and_noise_catches(wrong, phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_clip_and_noise(wrong, seed=0)
