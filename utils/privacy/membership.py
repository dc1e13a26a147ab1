"""Membership inference by a loss threshold, and how to report it. Explained in chapter 8.

Yeom et al. (2018): a model fits its training examples better than new ones,
so "member if the loss is below tau" guesses who was in the training set. The
attack is scored by its ROC curve, the area under it, the advantage TPR - FPR
and, following Carlini et al. (2022), the true-positive rate at a low false-
positive rate. A threshold chosen on the same examples it is scored on
overstates the attack, so ``threshold_at_fpr`` is meant for a separate split.

``epsilon_lower_bound`` turns the rates one threshold reaches into the smallest
epsilon a DP training run could claim and still allow them (an audit). The
difficulty-calibrated score, which makes the attack work at a low FPR, is in
``utils.privacy.calibrated``.

The losses come from ``utils.evaluate.sentence_losses``, the curve and its area
from ``utils.evaluate.roc``; the functions here take the members' and the
non-members' scores (``-loss``: higher means "more likely a member") apart.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from utils.evaluate.roc import auroc, roc_curve, scores_and_labels

__all__ = [
    "advantage", "tpr_at_fpr", "threshold_at_fpr",
    "attack_rates", "attack_report", "clopper_pearson", "dp_bound_violations",
    "epsilon_lower_bound",
]


def advantage(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """The best threshold's TPR - FPR (Yeom et al.'s membership advantage). Chapter 8."""
    fpr, tpr = roc_curve(*scores_and_labels(member_scores, nonmember_scores))
    return float(np.max(tpr - fpr))


def tpr_at_fpr(member_scores: np.ndarray, nonmember_scores: np.ndarray,
               max_fpr: float = 0.01) -> float:
    """The highest TPR among thresholds whose FPR is at most ``max_fpr``. Chapter 8."""
    fpr, tpr = roc_curve(*scores_and_labels(member_scores, nonmember_scores))
    return float(np.max(tpr[fpr <= max_fpr]))


def threshold_at_fpr(nonmember_scores: np.ndarray, max_fpr: float = 0.01) -> float:
    """The lowest threshold t with at most ``max_fpr`` of these non-members at score >= t.

    Chapter 8. Choose it on a calibration split, then apply it to fresh members
    and non-members with ``attack_rates``.
    """
    neg = np.sort(np.asarray(nonmember_scores, float))[::-1]  # high to low
    allowed = int(np.floor(max_fpr * len(neg)))  # false positives we may accept
    if allowed >= len(neg):
        return float(neg[-1])
    # Just above the (allowed + 1)-th highest score, so that one stays below t.
    return float(np.nextafter(neg[allowed], np.inf))


def attack_rates(member_scores: np.ndarray, nonmember_scores: np.ndarray,
                 threshold: float) -> tuple[float, float]:
    """(TPR, FPR) of "member if score >= threshold". Chapter 8."""
    return (float(np.mean(np.asarray(member_scores) >= threshold)),
            float(np.mean(np.asarray(nonmember_scores) >= threshold)))


def clopper_pearson(successes: np.ndarray, trials: int, confidence: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Exact binomial confidence interval (lower, upper) for each count. Chapter 8."""
    k = np.asarray(successes, dtype=float)
    alpha = 1 - confidence
    lower = np.where(k > 0, stats.beta.ppf(alpha / 2, k, trials - k + 1), 0.0)
    upper = np.where(k < trials, stats.beta.ppf(1 - alpha / 2, k + 1, trials - k), 1.0)
    return lower, upper


def dp_bound_violations(member_scores: np.ndarray, nonmember_scores: np.ndarray,
                        epsilon: float, delta: float, confidence: float = 0.95) -> int:
    """How many ROC points break TPR <= e^eps FPR + delta beyond their confidence intervals.

    Chapter 8. Every test of membership against an (epsilon, delta)-DP training
    run obeys the bound (the hypothesis-testing view of DP), and so does the
    mirror-image test, FPR' = 1 - TPR and TPR' = 1 - FPR. A point counts as a
    violation only if even the TPR's lower confidence limit exceeds the bound at
    the FPR's upper limit.
    """
    fpr, tpr = roc_curve(*scores_and_labels(member_scores, nonmember_scores))
    n_pos, n_neg = len(member_scores), len(nonmember_scores)
    tpr_low, tpr_high = clopper_pearson(np.round(tpr * n_pos), n_pos, confidence)
    fpr_low, fpr_high = clopper_pearson(np.round(fpr * n_neg), n_neg, confidence)
    bound = np.exp(epsilon)
    direct = tpr_low > bound * fpr_high + delta
    mirror = (1 - fpr_high) > bound * (1 - tpr_low) + delta  # the complementary test
    return int(np.sum(direct | mirror))


def epsilon_lower_bound(true_positives: int, n_members: int, false_positives: int,
                        n_nonmembers: int, delta: float, confidence: float = 0.95) -> float:
    """The smallest epsilon one attack's measured rates allow, at ``confidence``. Chapter 8.

    Rearranges TPR <= e^eps FPR + delta (and its mirror image) for eps, with the
    TPR at its lower Clopper-Pearson limit and the FPR at its upper one, as
    Jagielski et al. (2020) audit DP-SGD. A training run that claims a smaller
    epsilon is contradicted by the attack. The threshold must have been chosen
    on other data than these counts; 0.0 when the rates prove nothing.
    """
    tpr_low = clopper_pearson(np.array([true_positives]), n_members, confidence)[0][0]
    fpr_high = clopper_pearson(np.array([false_positives]), n_nonmembers, confidence)[1][0]
    direct = np.log((tpr_low - delta) / fpr_high) if tpr_low > delta else 0.0
    mirror = (np.log((1 - fpr_high - delta) / (1 - tpr_low))
              if 1 - fpr_high > delta else 0.0)  # the complementary test
    return float(max(direct, mirror, 0.0))


def attack_report(member_losses: np.ndarray, nonmember_losses: np.ndarray, *, seed: int = 0,
                  max_fpr: float = 0.01) -> dict[str, float]:
    """The loss-threshold attack, honestly scored: threshold on one half, rates on the other.

    Chapter 8. Members and non-members are each split at random in two: the
    threshold for ``max_fpr`` false positives is chosen on the calibration
    halves, the TPR and FPR it reaches are measured on the evaluation halves, and
    the ROC summaries (AUC, advantage, TPR at ``max_fpr``) use evaluation only.
    """
    rng = np.random.default_rng([seed, 8])
    members, nonmembers = -np.asarray(member_losses), -np.asarray(nonmember_losses)
    m_perm, n_perm = rng.permutation(len(members)), rng.permutation(len(nonmembers))
    # Only the non-members' calibration half sets the threshold; the members' is left unused
    # so that both evaluation halves are the same share of their sets.
    m_eval = members[m_perm[len(members) // 2:]]
    n_cal, n_eval = (nonmembers[n_perm[: len(nonmembers) // 2]],
                     nonmembers[n_perm[len(nonmembers) // 2:]])
    threshold = threshold_at_fpr(n_cal, max_fpr)
    tpr, fpr = attack_rates(m_eval, n_eval, threshold)
    return {"auc": auroc(*scores_and_labels(m_eval, n_eval)),
            "advantage": advantage(m_eval, n_eval),
            "tpr_at_fpr": tpr_at_fpr(m_eval, n_eval, max_fpr),
            "held_out_tpr": tpr, "held_out_fpr": fpr, "threshold_loss": -threshold,
            "n_members": len(m_eval), "n_nonmembers": len(n_eval)}
