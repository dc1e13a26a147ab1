"""Difficulty-calibrated membership inference, scored at a low false-positive rate. Chapter 8.

The loss attack says "member" when a sentence's loss is low. But a short,
common sentence has a low loss under any decent model, member or not, and a
long rare one a high loss even when it was trained on: the loss measures how
hard a sentence is as much as whether the model saw it. Watson et al. (2022)
calibrate each example's score by its difficulty, and the offline LiRA of
Carlini et al. (2022) does so with reference models that never saw it. The
course's language knows the exact probability of every sentence, which is the
ideal reference, so here the calibrated score is

    log p_model(sentence) - log p_language(sentence),

how much more likely the model finds the sentence than the language does.

``low_fpr_attack`` reports an attack the way the chapter argues for: the
threshold for a target false-positive rate is chosen on half of the
non-members, the true- and false-positive rates it reaches are measured on
the members and the other half, with bootstrap intervals, and the smallest
epsilon those measured rates are consistent with (``epsilon_lower_bound``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from utils.data.corpus import SyntheticLanguage
from utils.privacy.membership import attack_rates, epsilon_lower_bound, threshold_at_fpr

__all__ = ["true_log_likelihoods", "calibrated_scores", "low_fpr_attack"]


def true_log_likelihoods(sentences: Sequence[Sequence[str]], language: SyntheticLanguage
                         ) -> np.ndarray:
    """Each sentence's exact log-probability in nats under ``language``. Chapter 8.

    Every sentence ends with ".", after which ``<eos>`` is certain, so this is
    the true counterpart of ``sentence_losses`` (which also scores that
    ``<eos>``), with the sign turned. Returns ``(len(sentences),)``.
    """
    return np.array([language.log_prob(s) for s in sentences], dtype=float)


def calibrated_scores(model_losses: np.ndarray, true_log_likelihoods: np.ndarray) -> np.ndarray:
    """The difficulty-calibrated membership score, higher for "member". Chapter 8.

    ``-model_losses - true_log_likelihoods``: the model's log-likelihood of each
    sentence minus the language's. Near 0 for a sentence the model has learnt
    no better than the language predicts, however common or rare it is.
    """
    losses = np.asarray(model_losses, dtype=float)
    truth = np.asarray(true_log_likelihoods, dtype=float)
    if losses.shape != truth.shape:
        raise ValueError(f"one true log-likelihood per loss; got {losses.shape} and {truth.shape}")
    return -losses - truth


def _split(nonmember_scores: np.ndarray, rng: np.random.Generator
           ) -> tuple[np.ndarray, np.ndarray]:
    """The non-members in two random halves: (calibration, evaluation)."""
    order = rng.permutation(len(nonmember_scores))
    half = len(order) // 2
    return nonmember_scores[order[:half]], nonmember_scores[order[half:]]


def low_fpr_attack(member_scores: np.ndarray, nonmember_scores: np.ndarray,
                   max_fprs: Sequence[float] = (0.001, 0.01), *, delta: float = 1e-5,
                   seed: int = 0, n_boot: int = 200, confidence: float = 0.95
                   ) -> list[dict[str, float]]:
    """One row per target false-positive rate: the held-out rates, their intervals, epsilon.

    Chapter 8. The threshold for at most ``max_fpr`` false positives is chosen
    on a random half of the non-members; ``tpr`` is then measured on all the
    members (nothing about them was fitted) and ``fpr`` on the other half.
    ``tpr_low``/``tpr_high`` are the bootstrap percentile interval of the TPR
    (members and both halves resampled, the threshold chosen again each time),
    and ``epsilon_lower`` is the smallest epsilon an (epsilon, ``delta``)-DP
    training run could have and still allow the measured rates
    (``epsilon_lower_bound``: 0 when they prove nothing).
    """
    members = np.asarray(member_scores, dtype=float)
    rng = np.random.default_rng([seed, 8, 2])
    calibration, evaluation = _split(np.asarray(nonmember_scores, dtype=float), rng)
    tail = (1 - confidence) / 2
    rows = []
    for max_fpr in max_fprs:
        threshold = threshold_at_fpr(calibration, max_fpr)
        tpr, fpr = attack_rates(members, evaluation, threshold)
        boot = np.empty(n_boot)
        for b in range(n_boot):
            again = threshold_at_fpr(rng.choice(calibration, len(calibration)), max_fpr)
            boot[b] = np.mean(rng.choice(members, len(members)) >= again)
        rows.append({
            "target_fpr": max_fpr, "tpr": tpr, "fpr": fpr,
            "tpr_low": float(np.quantile(boot, tail)),
            "tpr_high": float(np.quantile(boot, 1 - tail)),
            "epsilon_lower": epsilon_lower_bound(
                round(tpr * len(members)), len(members), round(fpr * len(evaluation)),
                len(evaluation), delta, confidence),
            "n_members": len(members), "n_nonmembers": len(evaluation)})
    return rows
