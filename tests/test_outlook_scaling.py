"""Chapter 10's scaling law: the fit, the fit without a floor, the compute-optimal split.

Catches: a fitter that does not recover a law it was given; a floor-free fit
that is silently the same as the full one; a compute-optimal split that is not
optimal or spends a different budget; a grid whose fitted floor lands outside
its own uncertainty around the language's true entropy rate.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from utils.outlook import (
    ScalingGridConfig,
    compute_optimal,
    entropy_floor,
    fit_scaling_law,
    grid_data,
    jackknife_floor,
    run_scaling_grid,
    scaling_law,
)

# A law shaped like the course's grid: floor 1.23 nats, size and data terms of a few tenths.
TRUE = {"e": 1.2326, "a": 40.0, "alpha": 0.6, "b": 2.0e4, "beta": 0.9}
N_GRID, D_GRID = (g.ravel() for g in np.meshgrid([2.6e3, 6e3, 1.6e4, 4.8e4, 1.6e5],
                                                 [1e5, 3e5, 9e5]))


def test_the_fit_recovers_a_law_it_is_given_exactly():
    loss = scaling_law(N_GRID, D_GRID, **TRUE)
    fit = fit_scaling_law(N_GRID, D_GRID, loss)
    assert fit.e == pytest.approx(TRUE["e"], abs=1e-4)
    assert (fit.alpha, fit.beta) == pytest.approx((TRUE["alpha"], TRUE["beta"]), rel=1e-3)
    assert fit.rmse_log < 1e-6


def test_the_fit_recovers_the_floor_through_noise():
    rng = np.random.default_rng(0)
    loss = scaling_law(N_GRID, D_GRID, **TRUE) * np.exp(rng.normal(0, 0.002, N_GRID.size))
    fit = fit_scaling_law(N_GRID, D_GRID, loss)
    assert abs(fit.e - TRUE["e"]) < 0.02


def test_without_the_floor_the_fit_misses_it_and_predicts_impossible_losses():
    loss = scaling_law(N_GRID, D_GRID, **TRUE)
    fit = fit_scaling_law(N_GRID, D_GRID, loss, with_floor=False)
    assert fit.e == 0.0 and fit.rmse_log > 1e-3  # the data are not a pure power law
    # Far beyond the grid the floor-free law falls through the entropy floor.
    assert fit.predict(1e12, 1e15) < TRUE["e"] - 0.5
    # To bend towards a floor it does not have, it flattens an exponent.
    assert min(fit.alpha, fit.beta) < 0.5 * min(TRUE["alpha"], TRUE["beta"])


def test_compute_optimal_split_spends_the_budget_and_minimises_the_loss():
    flops = np.array([1e12, 1e15, 1e18])
    n_opt, d_opt = compute_optimal(flops, TRUE["a"], TRUE["alpha"], TRUE["b"], TRUE["beta"])
    assert 6 * n_opt * d_opt == pytest.approx(flops, rel=1e-12)
    for c, n in zip(flops, n_opt, strict=True):
        def loss_at(log_n, c=c):
            return scaling_law(np.exp(log_n), c / (6 * np.exp(log_n)), **TRUE)
        best = minimize_scalar(loss_at, bounds=(0, np.log(c)), method="bounded",
                               options={"xatol": 1e-10})
        assert np.log(n) == pytest.approx(best.x, abs=1e-4)
    # N_opt grows as C^(beta / (alpha + beta)).
    slope = np.polyfit(np.log(flops), np.log(n_opt), 1)[0]
    assert slope == pytest.approx(TRUE["beta"] / (TRUE["alpha"] + TRUE["beta"]), rel=1e-9)


def test_chinchilla_exponents_give_a_near_even_split():
    # Hoffmann et al.'s fitted law: alpha 0.34 and beta 0.28, so N_opt ~ C^0.45, D_opt ~ C^0.55.
    n1, d1 = compute_optimal(1e20, 406.4, 0.34, 410.7, 0.28)
    n2, d2 = compute_optimal(1e22, 406.4, 0.34, 410.7, 0.28)
    assert np.log(n2 / n1) / np.log(100) == pytest.approx(0.28 / 0.62, rel=1e-9)
    assert np.log(d2 / d1) / np.log(100) == pytest.approx(0.34 / 0.62, rel=1e-9)


def test_jackknife_of_an_exact_law_has_no_spread():
    floors, se = jackknife_floor(N_GRID, D_GRID, scaling_law(N_GRID, D_GRID, **TRUE))
    assert floors.shape == (N_GRID.size,)
    assert se < 1e-3


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="at least 5 runs"):
        fit_scaling_law([1, 2, 3], [1, 2, 3], [1, 1, 1])
    with pytest.raises(ValueError, match="positive"):
        fit_scaling_law(N_GRID, D_GRID, -np.ones_like(N_GRID))
    with pytest.raises(ValueError, match="shares must sum to 1"):
        ScalingGridConfig(schedule=((0.5, 1.0),))


@pytest.mark.slow
def test_the_course_grid_finds_the_true_entropy_floor_within_its_uncertainty():
    """The default grid (cached; about a minute from a cold cache on two cores).

    Tolerance: the jackknife standard error of the fitted floor. A grid whose
    best runs stop about 0.02 nats above the floor cannot place E more finely
    than the spread of fits that each leave one run out; we ask the truth to
    lie within two such errors, and the error itself to stay under 0.05 nats
    (4 % of the floor), so a grid that says little about E fails.
    """
    config = ScalingGridConfig()
    runs = run_scaling_grid(config, progress=False)
    assert len(runs) == len(config.hidden_sizes) * len(config.token_budgets)
    n, d, loss = (runs[k].to_numpy(dtype=float) for k in ("parameters", "tokens", "loss"))
    entropy, on_test = entropy_floor(config, grid_data(config)[0])
    assert abs(on_test - entropy) < 0.005  # the test text is typical of the language
    assert loss.min() > entropy  # no run beats the floor
    fit = fit_scaling_law(n, d, loss)
    _, se = jackknife_floor(n, d, loss)
    assert se < 0.05
    assert abs(fit.e - entropy) <= 2 * se, (fit.e, entropy, se)
    assert fit.e < loss.min()
    free = fit_scaling_law(n, d, loss, with_floor=False)
    assert abs(free.e - entropy) > 10 * se  # E = 0: misses the floor entirely
    assert free.predict(1e9, 1e12) < entropy  # and predicts losses no model can reach
