"""Lab 08's checks accept right answers written several ways and fail each wrong one, saying which.

For every exercise: two correct implementations that are not the check's
reference pass at several seeds; an answer that edits its inputs in place
fails; an answer that calls the library function the exercise replaces fails;
and the plausible mistakes fail with a message naming them: exposure with a
rank off by one, ties ignored or counted whole, log base 10, ranked from the
wrong end, a vector of exposures; the AUC reversed or with ties not counted
half; the attack's threshold chosen on the evaluation set, beyond the budget,
reversed or stricter than needed; DP-SGD clipping of the batch's gradient,
division by the actual batch size, small gradients scaled up, noise not
multiplied by the clipping norm, noise from the global random stream.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from utils.checks import CheckFailed
from utils.checks.privacy import (
    EXERCISES,
    check_attack_auc,
    check_clip_and_noise,
    check_exposure,
    check_threshold_attack,
)

SEEDS = (0, 1, 2**31 - 1)  # the last: the top of the grader's seed range


def _fails(check, answer, phrase, seed=0):
    with pytest.raises(CheckFailed, match=phrase):
        check(answer, seed=seed)


def test_every_exercise_has_cases():
    assert set(EXERCISES) == {"exposure", "attack_auc", "threshold_attack", "clip_and_noise"}
    assert all(len(e.make_cases(2)) >= 4 for e in EXERCISES.values())


# ---------------------------------------------------------------- exposure
def exposure_loop(log_probs, index):
    scores = [float(v) for v in log_probs]
    rank = 1.0
    for i, v in enumerate(scores):
        if i != index:
            rank += 1.0 if v > scores[index] else 0.5 if v == scores[index] else 0.0
    return math.log2(len(scores)) - math.log2(rank)


def exposure_sorted(log_probs, index):
    scores = torch.as_tensor(log_probs, dtype=torch.float64)
    ordered = torch.sort(scores, descending=True).values
    first = int(torch.searchsorted(-ordered, -scores[index], right=False))  # 0-based, best tie
    last = int(torch.searchsorted(-ordered, -scores[index], right=True))
    return torch.tensor(math.log2(len(scores))) - torch.log2(torch.tensor((first + last + 1) / 2))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [exposure_loop, exposure_sorted])
def test_exposure_accepts_right_answers(right, seed):
    assert check_exposure(right, seed=seed).passed


def _rank_exposure(log_probs, index, rank_of, log=math.log2):
    scores = np.asarray(log_probs, dtype=float)
    higher, same = np.sum(scores > scores[index]), np.sum(scores == scores[index]) - 1
    return log(len(scores)) - log(max(rank_of(higher, same), 1e-300))


@pytest.mark.parametrize("wrong, phrase", [
    (lambda s, i: _rank_exposure(s, i, lambda h, t: h + t / 2), "not a finite|off by one"),
    (lambda s, i: _rank_exposure(s, i, lambda h, t: 2 + h + t / 2), "off by one"),
    (lambda s, i: _rank_exposure(s, i, lambda h, t: 1 + h), "half a rank"),
    (lambda s, i: _rank_exposure(s, i, lambda h, t: 1 + h + t), "half a rank"),
    (lambda s, i: _rank_exposure(s, i, lambda h, t: 1 + h + t / 2, math.log10), "log base 2"),
    (lambda s, i: exposure_loop(-np.asarray(s), i), "wrong end"),
    (lambda s, i: np.full(len(s), exposure_loop(s, i)), "single number"),
])
def test_exposure_catches(wrong, phrase):
    _fails(check_exposure, wrong, phrase)


def test_exposure_catches_an_answer_that_edits_the_scores_and_forbids_the_library():
    def make_it_the_best(log_probs, index):
        log_probs[index] = log_probs.max() + 1  # a check ranking afterwards would agree
        return math.log2(len(log_probs))
    _fails(check_exposure, make_it_the_best, "exposure is wrong|off by one|half a rank")
    from utils.privacy import exposure
    _fails(check_exposure, lambda s, i: exposure(np.asarray(s), i),
           "calls `utils.privacy.exposure.exposure`")


# ---------------------------------------------------------------- AUC
def auc_loop(members, nonmembers):
    m, n = [float(v) for v in members], [float(v) for v in nonmembers]
    wins = sum(1.0 if a < b else 0.5 if a == b else 0.0 for a in m for b in n)
    return wins / (len(m) * len(n))


def auc_ranks(members, nonmembers):  # Mann-Whitney U from mid-ranks of the pooled losses
    from scipy.stats import rankdata
    pooled = np.concatenate([np.asarray(members), np.asarray(nonmembers)])
    ranks = rankdata(-pooled)  # the lowest loss gets the highest rank
    n_m, n_n = len(members), len(nonmembers)
    return (ranks[:n_m].sum() - n_m * (n_m + 1) / 2) / (n_m * n_n)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [auc_loop, auc_ranks])
def test_auc_accepts_right_answers(right, seed):
    assert check_attack_auc(right, seed=seed).passed


@pytest.mark.parametrize("wrong, phrase", [
    (lambda m, n: 1 - auc_ranks(m, n), "HIGH"),
    (lambda m, n: np.mean(np.asarray(m)[:, None] < np.asarray(n)[None, :]), "tie"),
    (lambda m, n: np.mean(np.asarray(m)[:, None] <= np.asarray(n)[None, :]), "tie"),
    (lambda m, n: (np.asarray(m)[:, None] < np.asarray(n)[None, :]).mean(1), "single number"),
])
def test_auc_catches(wrong, phrase):
    _fails(check_attack_auc, wrong, phrase)


def test_auc_catches_an_answer_that_edits_the_losses_and_forbids_libraries():
    def members_win(members, nonmembers):
        members -= 1000  # every member now below every non-member
        return 1.0
    _fails(check_attack_auc, members_win, "AUC differs|HIGH")
    from sklearn.metrics import roc_auc_score
    _fails(check_attack_auc, lambda m, n: roc_auc_score(
        np.r_[np.ones(len(m)), np.zeros(len(n))], -np.r_[np.asarray(m), np.asarray(n)]),
        "calls `sklearn.metrics")


# ---------------------------------------------------------------- threshold attack
def threshold_loop(calibration, members, nonmembers, max_fpr):
    losses = sorted(float(v) for v in calibration)
    best = losses[0] - 1.0
    for t in losses:  # the largest loss that keeps the false-positive share within the budget
        if sum(v <= t for v in losses) / len(losses) <= max_fpr:
            best = t
    return (best, sum(float(v) <= best for v in members) / len(members),
            sum(float(v) <= best for v in nonmembers) / len(nonmembers))


def threshold_midway(calibration, members, nonmembers, max_fpr):
    ordered = np.sort(np.asarray(calibration))
    k = int(np.floor(max_fpr * len(ordered)))
    t = (ordered[k - 1] + ordered[k]) / 2 if k > 0 else -np.inf  # as right as the loss itself
    return (torch.tensor(t), np.mean(np.asarray(members) <= t),
            np.mean(np.asarray(nonmembers) <= t))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [threshold_loop, threshold_midway])
def test_threshold_attack_accepts_right_answers(right, seed):
    assert check_threshold_attack(right, seed=seed).passed


def threshold_over_budget(calibration, members, nonmembers, max_fpr):
    t = np.sort(np.asarray(calibration))[int(np.floor(max_fpr * len(calibration)))]
    return t, np.mean(np.asarray(members) <= t), np.mean(np.asarray(nonmembers) <= t)


def threshold_reversed(calibration, members, nonmembers, max_fpr):
    ordered = np.sort(np.asarray(calibration))[::-1]
    t = ordered[max(int(np.floor(max_fpr * len(ordered))), 1) - 1]
    return t, np.mean(np.asarray(members) >= t), np.mean(np.asarray(nonmembers) >= t)


def threshold_strict(calibration, members, nonmembers, max_fpr):
    t = np.sort(np.asarray(calibration))[0] - 1.0
    return t, np.mean(np.asarray(members) <= t), np.mean(np.asarray(nonmembers) <= t)


def threshold_rates_on_calibration(calibration, members, nonmembers, max_fpr):
    t, tpr, _ = threshold_loop(calibration, members, nonmembers, max_fpr)
    return t, tpr, float(np.mean(np.asarray(calibration) <= t))


@pytest.mark.parametrize("wrong, phrase", [
    (lambda c, m, n, f: threshold_loop(n, m, n, f), "evaluation non-members"),
    (threshold_over_budget, "more than max_fpr"),
    (threshold_reversed, "AT OR BELOW"),
    (threshold_strict, "stricter than it needs"),
    (threshold_rates_on_calibration, "TPR or FPR"),
    (lambda c, m, n, f: threshold_loop(c, m, n, f)[:2], "3 values"),
])
def test_threshold_attack_catches(wrong, phrase):
    _fails(check_threshold_attack, wrong, phrase)


def test_threshold_attack_catches_an_answer_that_edits_its_inputs_and_forbids_the_library():
    def shift_nonmembers(calibration, members, nonmembers, max_fpr):
        result = threshold_over_budget(calibration, members, nonmembers, max_fpr)
        calibration += 100  # no calibration loss at or below the threshold any more
        return result
    _fails(check_threshold_attack, shift_nonmembers, "more than max_fpr")
    from utils.privacy.membership import attack_rates, threshold_at_fpr

    def library(calibration, members, nonmembers, max_fpr):
        t = threshold_at_fpr(-np.asarray(calibration), max_fpr)
        return (-t, *attack_rates(-np.asarray(members), -np.asarray(nonmembers), t))
    _fails(check_threshold_attack, library, "calls `utils.privacy.membership")


# ---------------------------------------------------------------- clipping and noise
def clip_loop(grads, max_grad_norm, noise_multiplier, expected_batch_size, generator):
    total = torch.zeros(grads.shape[1], dtype=grads.dtype)
    for row in grads:
        total += row * min(1.0, max_grad_norm / float(row.norm()))
    noise = torch.randn(grads.shape[1], generator=generator, dtype=grads.dtype)
    return (total + noise_multiplier * max_grad_norm * noise) / expected_batch_size


def clip_numpy_float32(grads, max_grad_norm, noise_multiplier, expected_batch_size, generator):
    g = grads.numpy()
    factor = np.minimum(1.0, max_grad_norm / (np.linalg.norm(g, axis=1) + 1e-6))  # as Opacus
    noise = torch.normal(0.0, noise_multiplier * max_grad_norm, (g.shape[1],),
                         generator=generator, dtype=torch.float64).numpy()
    return ((factor[:, None] * g).sum(0) + noise).astype(np.float32) / expected_batch_size


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [clip_loop, clip_numpy_float32])
def test_clip_and_noise_accepts_right_answers(right, seed):
    assert check_clip_and_noise(right, seed=seed).passed


def clip_batch(grads, c, s, L, g):
    total = grads.sum(0)
    total = total * min(1.0, c / float(total.norm()))
    return (total + torch.normal(0.0, s * c, total.shape, generator=g, dtype=grads.dtype)) / L


def clip_scaling_up(grads, c, s, L, g):
    summed = (grads * c / grads.norm(dim=1, keepdim=True)).sum(0)
    return (summed + torch.normal(0.0, s * c, summed.shape, generator=g, dtype=grads.dtype)) / L


def clip_noise_without_c(grads, c, s, L, g):
    summed = (grads * (c / grads.norm(dim=1, keepdim=True)).clamp(max=1.0)).sum(0)
    return (summed + torch.normal(0.0, s, summed.shape, generator=g, dtype=grads.dtype)) / L


def clip_global_stream(grads, c, s, L, g):
    summed = (grads * (c / grads.norm(dim=1, keepdim=True)).clamp(max=1.0)).sum(0)
    return (summed + s * c * torch.randn(summed.shape, dtype=grads.dtype)) / L


@pytest.mark.parametrize("wrong, phrase", [
    (clip_batch, "EACH"),
    (lambda grads, c, s, L, g: clip_loop(grads, c, s, len(grads), g), "expected batch size L"),
    (clip_scaling_up, "never up"),
    (clip_noise_without_c, "noise_multiplier \\* max_grad_norm"),
    (lambda grads, c, s, L, g: clip_loop(grads, c, s, L / len(grads) * L, g)
     if s else clip_loop(grads, c, s, L, g), "wrong size|divide"),
    (clip_global_stream, "generator=generator"),
    (lambda grads, c, s, L, g: clip_loop(grads, c, s, L, g)[None], "shape"),
])
def test_clip_and_noise_catches(wrong, phrase):
    _fails(check_clip_and_noise, wrong, phrase)


def test_clip_and_noise_catches_an_answer_that_edits_the_gradients_and_forbids_the_library():
    def zero_everything(grads, c, s, L, g):
        grads.zero_()  # a check clipping afterwards would expect a zero gradient
        return torch.zeros(grads.shape[1], dtype=grads.dtype)
    _fails(check_clip_and_noise, zero_everything, "with no noise")
    from utils.privacy.dpsgd import clip_and_sum

    def library(grads, c, s, L, g):
        summed, _ = clip_and_sum({"w": grads}, c)
        return summed["w"] / L
    _fails(check_clip_and_noise, library, "calls `utils.privacy.dpsgd.clip_and_sum`")

