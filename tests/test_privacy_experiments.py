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
    attack_scores,
    canary_log2_probs,
    dp_bound_violations,
    dp_run,
    dpsgd_epsilon,
    exposure,
    exposure_run,
    extrapolated_exposure,
    low_fpr_attack,
    overfit_run,
    perplexity,
    sentence_losses,
    train_run,
    underfit_run,
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


def _calibrated_audit(run) -> dict[float, dict]:
    """The calibrated attack's rows at 0.1 % and 1 % false positives, by target FPR."""
    return {row["target_fpr"]: row for row in low_fpr_attack(*attack_scores(run)["calibrated"])}


def test_calibration_beats_the_loss_attack_on_the_overfit_model():
    # measured at seed 0: loss 0.0 % and 2.4 %, calibrated 13.6 % and 28.0 %
    scores = attack_scores(train_run(overfit_run()))
    loss = {row["target_fpr"]: row for row in low_fpr_attack(*scores["loss"])}
    calibrated = {row["target_fpr"]: row for row in low_fpr_attack(*scores["calibrated"])}
    assert calibrated[0.001]["tpr_low"] > max(0.05, loss[0.001]["tpr_high"])
    assert calibrated[0.01]["tpr_low"] > loss[0.01]["tpr_high"]


def test_the_audit_refutes_epsilon_one_for_the_overfit_model_only(dp_runs):
    # the overfit model (no DP) proves epsilon of about 4.4; no DP run is refuted
    assert _calibrated_audit(train_run(overfit_run()))[0.001]["epsilon_lower"] > 1.0
    for eps in (8.0, 2.0, 1.0):  # every run held to the notebook's claim, epsilon = 1
        for row in _calibrated_audit(dp_runs[eps]["run"]).values():
            assert row["epsilon_lower"] <= 1.0
    scores = attack_scores(dp_runs[1.0]["run"])["calibrated"]
    assert dp_bound_violations(*scores, 1.0, 1e-5) == 0


def test_the_stopped_early_control_matches_epsilon_eight_in_perplexity(dp_runs):
    control = train_run(underfit_run())
    ppl = perplexity(control.model, control.corpus.valid, control.vocab)
    assert ppl == pytest.approx(dp_runs[8.0]["perplexity"], rel=0.15)  # 31.3 against 32.7
    # and, as poor a model, it is barely attackable without any DP (1.9 % at 1 % FPR at seed 0)
    assert _calibrated_audit(control)[0.01]["tpr"] < 0.03
