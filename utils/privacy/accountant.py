"""How much privacy DP-SGD spends: Renyi DP of the Gaussian mechanism. Chapter 8.

One step of the Gaussian mechanism with noise multiplier sigma (noise std
sigma * C on a sum of sensitivity C) is (alpha, alpha / (2 sigma^2))-Renyi DP
for every order alpha > 1 (Mironov 2017). Renyi DP adds up over steps, and
converts to (epsilon, delta)-DP by minimising over alpha. Without subsampling
(every example in every step) that is all closed form, written out below.
Sampling each example with probability q < 1 amplifies privacy, but its Renyi
DP has no closed form; for that case this module calls Opacus's accountant.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

__all__ = [
    "DEFAULT_ORDERS", "gaussian_rdp", "rdp_to_epsilon", "gaussian_epsilon",
    "gaussian_epsilon_simple", "dpsgd_epsilon", "noise_for_epsilon",
]

# The Renyi orders Opacus searches by default (1.1 to 10.9 by 0.1, then 12 to 63).
DEFAULT_ORDERS: tuple[float, ...] = tuple([1 + x / 10.0 for x in range(1, 100)]
                                          + list(range(12, 64)))


def gaussian_rdp(orders: np.ndarray | list[float], noise_multiplier: float,
                 steps: int) -> np.ndarray:
    """Renyi DP of ``steps`` full-batch Gaussian steps: steps * alpha / (2 sigma^2). Chapter 8."""
    return steps * np.asarray(orders, dtype=float) / (2 * noise_multiplier**2)


def rdp_to_epsilon(orders: np.ndarray | list[float], rdp: np.ndarray | list[float],
                   delta: float) -> float:
    """The smallest epsilon over the orders for this delta (Balle et al. 2020's conversion).

    Chapter 8. epsilon(alpha) = rdp + log((alpha - 1) / alpha)
    - (log delta + log alpha) / (alpha - 1), a little tighter than the classic
    rdp + log(1/delta) / (alpha - 1).
    """
    a = np.asarray(orders, dtype=float)
    eps = (np.asarray(rdp, dtype=float) + np.log((a - 1) / a)
           - (math.log(delta) + np.log(a)) / (a - 1))
    return float(np.nanmin(eps))


def gaussian_epsilon(noise_multiplier: float, steps: int, delta: float,
                     orders: tuple[float, ...] = DEFAULT_ORDERS) -> float:
    """epsilon of ``steps`` full-batch (q = 1) Gaussian steps, in closed form. Chapter 8."""
    if noise_multiplier <= 0:
        return math.inf
    return rdp_to_epsilon(orders, gaussian_rdp(orders, noise_multiplier, steps), delta)


def gaussian_epsilon_simple(noise_multiplier: float, steps: int, delta: float) -> float:
    """The textbook bound, minimised over every alpha > 1: T/(2 s^2) + s^-1 sqrt(2 T log(1/delta)).

    Chapter 8. From epsilon(alpha) = T alpha / (2 s^2) + log(1/delta) / (alpha - 1);
    looser than ``gaussian_epsilon`` but short enough to read.
    """
    t, s = steps, noise_multiplier
    return t / (2 * s**2) + math.sqrt(2 * t * math.log(1 / delta)) / s


def dpsgd_epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """epsilon of DP-SGD with Poisson sampling rate q, from Opacus's RDP accountant. Chapter 8."""
    from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

    if noise_multiplier <= 0:
        return math.inf
    rdp = compute_rdp(q=sample_rate, noise_multiplier=noise_multiplier, steps=steps,
                      orders=list(DEFAULT_ORDERS))
    with warnings.catch_warnings():  # "optimal order is the largest alpha" for tiny epsilon
        warnings.simplefilter("ignore")
        eps, _ = get_privacy_spent(orders=list(DEFAULT_ORDERS), rdp=rdp, delta=delta)
    return float(eps)


def noise_for_epsilon(target_epsilon: float, sample_rate: float, steps: int,
                      delta: float) -> float:
    """The noise multiplier that spends ``target_epsilon`` in ``steps`` steps. Chapter 8.

    Found by Opacus's search over its RDP accountant.
    """
    from opacus.accountants.utils import get_noise_multiplier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(get_noise_multiplier(target_epsilon=target_epsilon, target_delta=delta,
                                          sample_rate=sample_rate, steps=steps,
                                          accountant="rdp"))
