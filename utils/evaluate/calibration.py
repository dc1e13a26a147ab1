"""Calibration: expected calibration error, reliability diagrams, temperature scaling.

Used in chapter 3 (and in chapter 5 to check an adapted classifier). A model is
calibrated when, among the predictions it makes with confidence 0.8, about 80 %
are right. Following Guo et al. (2017), predictions are grouped into
``n_bins`` equal-width bins of confidence, bin m holding confidences in
((m-1)/M, m/M] (a confidence of exactly 0 goes to the first bin), and

    ECE = sum_m |B_m| / n * |acc(B_m) - conf(B_m)| .

Temperature scaling divides the logits by one number T > 0, fitted to
minimise the negative log-likelihood on held-out data; it never changes which
class is most likely, only how confident the model is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral

import torch

from utils.lm.sampling import softmax_at_temperature

__all__ = [
    "ReliabilityDiagram",
    "apply_temperature",
    "confidence_and_correct",
    "expected_calibration_error",
    "fit_temperature",
    "nll_at_temperature",
    "reliability_diagram",
]


def _as_float(values: object) -> torch.Tensor:
    return torch.as_tensor(values, dtype=torch.float64).flatten()


def confidence_and_correct(probs: torch.Tensor, targets: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-class probability and whether the top class is the target, per row. Chapter 3.

    ``probs`` has shape ``(n, classes)``, ``targets`` shape ``(n,)``.
    """
    probs = torch.as_tensor(probs, dtype=torch.float64)
    targets = torch.as_tensor(targets).reshape(-1)
    if probs.dim() != 2 or probs.shape[0] == 0:
        raise ValueError(f"probs must be a non-empty (n, classes) table; got shape "
                         f"{tuple(probs.shape)}")
    if len(targets) != probs.shape[0]:
        raise ValueError(f"probs has {probs.shape[0]} rows but targets has {len(targets)} "
                         "entries; give one target per row")
    confidence, predicted = probs.max(dim=-1)  # (n,), (n,)
    return confidence, (predicted == targets).to(torch.float64)


def _edges(n_bins: int) -> torch.Tensor:
    return torch.arange(n_bins + 1, dtype=torch.float64) / n_bins  # (n_bins + 1,), m / M


def _bin_index(confidence: torch.Tensor, n_bins: int) -> torch.Tensor:
    # Bin m (0-based) holds (m/M, (m+1)/M]; a confidence of exactly 0 joins bin 0.
    # Compare with the edges m / M rather than take ceil(c * M): 0.3 * 10 rounds
    # up to 3.0000000000000004, which would put a confidence of 0.3 one bin too high.
    return (torch.searchsorted(_edges(n_bins), confidence) - 1).clamp(0, n_bins - 1)


@dataclass(frozen=True)
class ReliabilityDiagram:
    """Per-bin data of a reliability diagram; empty bins have count 0 and NaN means."""

    edges: torch.Tensor  # (n_bins + 1,) bin edges from 0 to 1
    count: torch.Tensor  # (n_bins,) predictions per bin
    accuracy: torch.Tensor  # (n_bins,) fraction correct in each bin
    confidence: torch.Tensor  # (n_bins,) mean confidence in each bin

    @property
    def ece(self) -> float:
        """The expected calibration error these bins give."""
        used = self.count > 0
        weights = self.count[used] / self.count.sum()
        return float((weights * (self.accuracy[used] - self.confidence[used]).abs()).sum())


def reliability_diagram(confidence: torch.Tensor, correct: torch.Tensor, *,
                        n_bins: int = 15) -> ReliabilityDiagram:
    """Bin predictions by confidence into ``n_bins`` equal-width bins. Chapter 3."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer; got {n_bins!r}")
    confidence, correct = _as_float(confidence), _as_float(correct)
    if confidence.shape != correct.shape or confidence.numel() == 0:
        raise ValueError("confidence and correct must be non-empty and of the same length")
    if not ((confidence >= 0) & (confidence <= 1)).all():  # also catches nan
        raise ValueError("confidences must lie in [0, 1]")
    if not ((correct == 0) | (correct == 1)).all():
        raise ValueError("correct must hold 0 or 1 (or False/True) for each prediction")
    n_bins = int(n_bins)
    index = _bin_index(confidence, n_bins)
    count = torch.bincount(index, minlength=n_bins).to(torch.float64)
    hits = torch.bincount(index, weights=correct, minlength=n_bins)
    conf_sum = torch.bincount(index, weights=confidence, minlength=n_bins)
    with torch.no_grad():
        accuracy = torch.where(count > 0, hits / count.clamp(min=1), torch.nan)
        mean_conf = torch.where(count > 0, conf_sum / count.clamp(min=1), torch.nan)
    return ReliabilityDiagram(_edges(n_bins), count, accuracy, mean_conf)


def expected_calibration_error(confidence: torch.Tensor, correct: torch.Tensor, *,
                               n_bins: int = 15) -> float:
    """ECE of Guo et al. (2017): bin-size-weighted mean |accuracy - confidence|. Chapter 3.

    >>> round(expected_calibration_error([0.9, 0.9, 0.6, 0.6], [1, 0, 1, 0], n_bins=10), 6)
    0.25
    """
    return reliability_diagram(confidence, correct, n_bins=n_bins).ece


def apply_temperature(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Rescale distributions to temperature T: p_i^(1/T) renormalised (zeros stay zero). Chapter 3.

    The same as dividing the logits log p by T before the softmax
    (``utils.lm.sampling.softmax_at_temperature``); temperature scaling needs T > 0.
    """
    _check_positive_temperature(temperature)
    probs = torch.as_tensor(probs, dtype=torch.float64)
    return softmax_at_temperature(probs.log(), temperature)


def _check_positive_temperature(temperature: float) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or not 0 < temperature < math.inf:
        raise ValueError(f"temperature must be a number > 0; got {temperature!r}")


def _logits_and_targets(logits: torch.Tensor, targets: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.as_tensor(logits, dtype=torch.float64)  # (n, classes)
    targets = torch.as_tensor(targets).reshape(-1)  # (n,)
    if logits.dim() != 2 or logits.shape[0] == 0:
        raise ValueError(f"logits must be a non-empty (n, classes) table; got shape "
                         f"{tuple(logits.shape)}")
    if len(targets) != logits.shape[0]:
        raise ValueError(f"logits has {logits.shape[0]} rows but targets has {len(targets)} "
                         "entries; give one target per row")
    return logits, targets.long()


def nll_at_temperature(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> float:
    """Mean negative log-likelihood (nats) of ``targets`` after dividing ``logits`` by T."""
    _check_positive_temperature(temperature)
    logits, targets = _logits_and_targets(logits, targets)
    log_probs = softmax_at_temperature(logits, temperature, log=True)  # (n, classes)
    return float(-log_probs[torch.arange(len(targets)), targets].mean())


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, *,
                    bounds: tuple[float, float] = (0.05, 20.0), tol: float = 1e-6) -> float:
    """The temperature T in ``bounds`` that minimises the NLL of ``targets``. Chapter 3.

    The NLL is convex in 1/T, so a golden-section search over 1/T finds the
    minimum; the result is deterministic. ``logits`` may hold -inf (probability
    0) for classes that are never targets.
    """
    if len(bounds) != 2 or not all(isinstance(b, (int, float)) and 0 < b < math.inf
                                   for b in bounds) or not bounds[0] < bounds[1]:
        raise ValueError(f"bounds must be two temperatures 0 < low < high < inf; got {bounds!r}")
    logits, targets = _logits_and_targets(logits, targets)
    low, high = 1.0 / bounds[1], 1.0 / bounds[0]  # search over beta = 1/T

    def loss(beta: float) -> float:
        return nll_at_temperature(logits, targets, 1.0 / beta)

    ratio = (math.sqrt(5) - 1) / 2
    a, b = low, high
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = loss(c), loss(d)
    while b - a > tol * max(1.0, abs(a)):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = loss(d)
    beta = (a + b) / 2
    # The search cannot do worse than T = 1 when 1 is inside the bounds.
    if low <= 1.0 <= high and loss(1.0) < loss(beta):
        beta = 1.0
    return 1.0 / beta
