"""The chapter 8 experiments reproduce their findings (seed 0; models shared with the notebook).

Thresholds come from pilot runs at the notebook's defaults. Where the chapter's
targets are not met at this scale, the test asserts what does hold and says so.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from utils.privacy import (
    CANARY,
    attack_report,
    canary_log2_probs,
    dp_bound_violations,
    dp_run,
    dpsgd_epsilon,
    exposure,
    exposure_run,
    extrapolated_exposure,
    overfit_run,
    perplexity,
    sentence_losses,
    train_run,
)

pytestmark = pytest.mark.slow
MAX_BITS = math.log2(10**5)


def _exposure(run) -> float:
    return exposure(canary_log2_probs(run.model, run.vocab), int(CANARY))


def _attack(run):
    canary = run.train_text[run.corpus.canary_positions[0]]
    members = sorted(list(s) for s in {tuple(s) for s in run.train_text}
                     if list(s) != canary)
    m = sentence_losses(run.model, members, run.vocab)
    n = sentence_losses(run.model, run.corpus.test, run.vocab)
    return attack_report(m, n, seed=0), m, n


@pytest.fixture(scope="module")
def exposure_runs():
    return {k: train_run(exposure_run(k)) for k in (0, 1, 4, 16, 64)}


@pytest.fixture(scope="module")
def dp_runs():
    out = {}
    for eps in (math.inf, 8.0, 2.0, 1.0):
        run = train_run(dp_run(eps))
        out[eps] = {"run": run, "sigma": run.config.train.noise_multiplier,
                    "exposure": _exposure(run), "attack": _attack(run),
                    "perplexity": perplexity(run.model, run.corpus.valid, run.vocab)}
    return out


def test_exposure_rises_with_insertions(exposure_runs):
    e = {k: _exposure(run) for k, run in exposure_runs.items()}
    assert e[64] >= MAX_BITS - 2  # the 64-times canary is (all but) ranked first
    # 16 copies also reach the maximum here, so 64 and 16 tie at the top rather than 64 > 16
    assert e[64] >= e[16] > e[4] > e[1] > e[0]
    assert e[0] < 4  # the never-inserted control
    # past the cap, the skew-normal extrapolation orders 64 above 16 copies
    far = {k: extrapolated_exposure(canary_log2_probs(run.model, run.vocab), int(CANARY))
           for k, run in exposure_runs.items() if k in (16, 64)}
    assert far[64] > far[16] > MAX_BITS


def test_codes_seen_once_are_more_exposed_than_unseen_codes(exposure_runs):
    run = exposure_runs[0]
    scores = canary_log2_probs(run.model, run.vocab)
    seen = {int("".join(s[3:8])) for s in run.train_text if s[:3] == ["the", "code", "is"]}
    rng = np.random.default_rng([0, 1])
    unseen = [c for c in rng.choice(10**5, 3000, replace=False) if c not in seen][:2000]
    seen_mean = np.mean([exposure(scores, c) for c in seen])
    unseen_mean = np.mean([exposure(scores, c) for c in unseen])
    assert abs(unseen_mean - 1 / math.log(2)) < 0.15  # uniform ranks: 1/ln 2 bits
    assert seen_mean > unseen_mean + 0.3


def test_deduplication_removes_the_canarys_exposure(exposure_runs):
    dedup = train_run(exposure_run(64, dedupe=True))
    assert _exposure(exposure_runs[64]) - _exposure(dedup) > 10
    assert perplexity(dedup.model, dedup.corpus.test, dedup.vocab) < 4.0  # still a good model


def test_overfit_model_is_attackable_and_dp_models_are_not(dp_runs):
    overfit = train_run(overfit_run())
    overfit_auc = _attack(overfit)[0]["auc"]
    assert overfit_auc > 0.7
    for eps in (8.0, 2.0, 1.0):
        assert abs(dp_runs[eps]["attack"][0]["auc"] - 0.5) < abs(overfit_auc - 0.5)
        assert abs(dp_runs[eps]["attack"][0]["auc"] - 0.5) < 0.05


def test_dp_sgd_lowers_the_canarys_exposure(dp_runs):
    plain = dp_runs[math.inf]["exposure"]
    assert plain >= MAX_BITS - 2
    assert dp_runs[8.0]["exposure"] < plain  # lower, but by less than 5 bits at this scale
    for eps in (2.0, 1.0):
        assert plain - dp_runs[eps]["exposure"] >= 5


def test_privacy_costs_perplexity_and_the_accountant_agrees(dp_runs):
    ppl = [dp_runs[e]["perplexity"] for e in (math.inf, 8.0, 2.0, 1.0)]
    assert all(a < b for a, b in zip(ppl, ppl[1:], strict=False))
    for eps in (8.0, 2.0, 1.0):
        record = dp_runs[eps]["run"].record
        spent = dpsgd_epsilon(dp_runs[eps]["sigma"], record.measured["sample_rate"], record.steps,
                              1e-5)
        assert spent == pytest.approx(eps, abs=0.05)


def test_attack_on_epsilon_one_respects_the_dp_bound(dp_runs):
    _, m, n = dp_runs[1.0]["attack"]
    assert dp_bound_violations(-m, -n, 1.0, 1e-5) == 0
