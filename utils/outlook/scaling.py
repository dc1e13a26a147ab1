"""A scaling law and its compute-optimal split: L(N, D) = E + A/N^alpha + B/D^beta. Chapter 10.

The form is Hoffmann et al.'s (2022): the loss a model of ``N`` parameters
reaches after ``D`` training tokens is an irreducible floor ``E`` plus one term
that shrinks with size and one that shrinks with data. As they did, we fit in
log space, ``log L`` against ``log(E + A N^-alpha + B D^-beta)`` written as a
log-sum-exp, with a Huber loss and several starting points, because the
objective has flat valleys where a single start stops early. The starting
points come from a grid over the two exponents, where the rest is linear.

On a real corpus nobody knows ``E``. On the course's synthetic language it is
the exact entropy rate, so the fitted floor can be checked; and dropping ``E``
from the form (``with_floor=False``) shows how a pure power law misleads.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares, nnls
from scipy.special import logsumexp

__all__ = ["ScalingFit", "compute_optimal", "fit_scaling_law", "jackknife_floor", "scaling_law"]

# Hoffmann et al. fit with delta = 1e-3 on log-losses: residuals above it count
# linearly, so one badly trained run cannot drag the whole fit.
HUBER_DELTA = 1e-3
_EXPONENT_MAX = 3.0  # beyond this a "power law" is a step: no sensible fit goes there
_EXPONENT_GRID = np.linspace(0.02, _EXPONENT_MAX, 30)


def scaling_law(n, d, e: float, a: float, alpha: float, b: float, beta: float) -> np.ndarray:
    """L(N, D) = E + A / N^alpha + B / D^beta, elementwise over arrays ``n`` and ``d``."""
    n, d = np.asarray(n, dtype=float), np.asarray(d, dtype=float)
    return e + a * n ** -alpha + b * d ** -beta


@dataclass(frozen=True)
class ScalingFit:
    """A fitted law L(N, D) = E + A/N^alpha + B/D^beta. Chapter 10.

    ``with_floor`` is False for the fit that leaves ``E`` out (then ``e`` is 0).
    ``rmse_log`` is the root-mean-square residual of ``log L`` over the runs fitted.
    """

    e: float
    a: float
    alpha: float
    b: float
    beta: float
    with_floor: bool
    rmse_log: float

    def predict(self, n, d) -> np.ndarray:
        """Predicted loss (nats per token) at ``n`` parameters and ``d`` tokens."""
        return scaling_law(n, d, self.e, self.a, self.alpha, self.b, self.beta)

    def compute_optimal(self, flops) -> tuple[np.ndarray, np.ndarray]:
        """The (N, D) with 6 N D = ``flops`` that minimise the predicted loss."""
        return compute_optimal(flops, self.a, self.alpha, self.b, self.beta)


def compute_optimal(flops, a: float, alpha: float, b: float, beta: float):
    """Parameters and tokens that minimise L(N, C / 6N) for compute C = ``flops``. Chapter 10.

    Setting dL/dN = 0 with D = C / (6N) gives alpha A N^-alpha = beta B D^-beta, so
    N_opt = G (C/6)^(beta/(alpha+beta)) with G = (alpha A / (beta B))^(1/(alpha+beta)),
    and D_opt = C / (6 N_opt). The floor E does not move the optimum.
    """
    c6 = np.asarray(flops, dtype=float) / 6.0
    g = (alpha * a / (beta * b)) ** (1.0 / (alpha + beta))
    n_opt = g * c6 ** (beta / (alpha + beta))
    return n_opt, c6 / n_opt


def _log_predict(theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray,
                 with_floor: bool) -> np.ndarray:
    """log L for theta = (log A, alpha, log B, beta[, log E]), as a stable log-sum-exp."""
    terms = [theta[0] - theta[1] * log_n, theta[2] - theta[3] * log_d]
    if with_floor:
        terms.append(np.full_like(log_n, theta[4]))
    return logsumexp(np.stack(terms), axis=0)  # (runs,)


def _starts(n: np.ndarray, d: np.ndarray, loss: np.ndarray, with_floor: bool,
            keep: int = 2) -> list[np.ndarray]:
    """Starting points from a grid over the exponents (variable projection).

    For fixed (alpha, beta) the law is linear in (E, A, B), so a non-negative
    least-squares solve gives the best of them at once; the ``keep`` best grid
    points start the full fit. Much faster and surer than a blind grid over all five.
    """
    scored = []
    for alpha, beta in itertools.product(_EXPONENT_GRID, _EXPONENT_GRID):
        columns = [n ** -alpha, d ** -beta] + ([np.ones_like(n)] if with_floor else [])
        coef, residual = nnls(np.stack(columns, axis=1), loss)  # (runs, 2 or 3) design
        if coef[0] > 0 and coef[1] > 0 and (not with_floor or coef[2] > 0):
            scored.append((residual, alpha, beta, coef))
    scored.sort(key=lambda item: item[0])
    starts = []
    for _, alpha, beta, coef in scored[:keep]:
        theta = [np.log(coef[0]), alpha, np.log(coef[1]), beta]
        starts.append(np.array(theta + ([np.log(coef[2])] if with_floor else [])))
    return starts or [np.array([0.0, 0.5, 0.0, 0.5] + ([np.log(loss.min() / 2)]
                                                       if with_floor else []))]


def fit_scaling_law(n, d, loss, *, with_floor: bool = True,
                    huber_delta: float = HUBER_DELTA) -> ScalingFit:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta to runs (``n[i]``, ``d[i]``, ``loss[i]``). Chapter 10.

    ``with_floor=False`` fits A/N^alpha + B/D^beta alone, the form that assumes a
    big enough model on enough data reaches zero loss. Needs at least as many
    runs as free parameters (5, or 4 without the floor).
    """
    n, d, loss = (np.asarray(x, dtype=float).ravel() for x in (n, d, loss))
    if not (n.shape == d.shape == loss.shape):
        raise ValueError(f"n, d and loss must have one entry per run; got {n.size}, "
                         f"{d.size}, {loss.size}")
    n_free = 5 if with_floor else 4
    if n.size < n_free:
        raise ValueError(f"fitting {n_free} parameters needs at least {n_free} runs; got {n.size}")
    if np.any(n <= 0) or np.any(d <= 0) or np.any(loss <= 0):
        raise ValueError("n, d and loss must all be positive")
    log_n, log_d, log_loss = np.log(n), np.log(d), np.log(loss)
    lower = [-np.inf, 0.0, -np.inf, 0.0] + ([-np.inf] if with_floor else [])
    upper = [np.inf, _EXPONENT_MAX, np.inf, _EXPONENT_MAX] + ([np.inf] if with_floor else [])

    def residuals(theta: np.ndarray) -> np.ndarray:
        return _log_predict(theta, log_n, log_d, with_floor) - log_loss  # (runs,)

    best = None
    for start in _starts(n, d, loss, with_floor):
        result = least_squares(residuals, start, bounds=(lower, upper), loss="huber",
                               f_scale=huber_delta)
        if best is None or result.cost < best.cost:
            best = result
    theta = best.x
    rmse = float(np.sqrt(np.mean(residuals(theta) ** 2)))
    return ScalingFit(e=float(np.exp(theta[4])) if with_floor else 0.0, a=float(np.exp(theta[0])),
                      alpha=float(theta[1]), b=float(np.exp(theta[2])), beta=float(theta[3]),
                      with_floor=with_floor, rmse_log=rmse)


def jackknife_floor(n, d, loss, *, huber_delta: float = HUBER_DELTA) -> tuple[np.ndarray, float]:
    """The floor E refitted with each run left out once, and its jackknife standard error.

    Chapter 10. The spread says how firmly the grid pins E down: a grid whose
    runs stop far above the floor leaves E loose, however good the fit looks.
    """
    n, d, loss = (np.asarray(x, dtype=float).ravel() for x in (n, d, loss))
    keep = ~np.eye(n.size, dtype=bool)  # row i leaves run i out
    floors = np.array([fit_scaling_law(n[k], d[k], loss[k], huber_delta=huber_delta).e
                       for k in keep])
    m = floors.size
    return floors, float(np.sqrt((m - 1) / m * np.sum((floors - floors.mean()) ** 2)))
