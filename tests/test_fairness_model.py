"""Chapter 6: the course's model against the planted truth, and counterfactual augmentation.

Uses the two cached models of ``train_tracked`` (about a minute to train both
from a cold cache). Thresholds come from a pilot run with the default
configuration (seed 0), whose values are quoted beside each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.data import lm_stream
from utils.fairness import (
    gap_summary,
    gap_table,
    gap_trajectory,
    train_tracked,
    training_text_gaps,
    warm_histories,
)
from utils.lm import PretrainConfig, evaluate_language_model


@pytest.fixture(scope="module")
def models():
    config = PretrainConfig()
    original = train_tracked(config)
    augmented = train_tracked(config, augment=True)
    trajectory = gap_trajectory(original)
    histories = warm_histories(original.corpus.valid, original.vocab, seed=0)
    before = gap_table(original.model, original.vocab, config.corpus, histories)
    after = gap_table(augmented.model, augmented.vocab, config.corpus, histories)
    return {"config": config, "original": original, "augmented": augmented, "before": before,
            "after": after, "trajectory": trajectory}


def test_model_gap_recovers_the_planted_lean(models):
    summary = gap_summary(models["before"])
    # Seeds 0, 1, 2 of the same recipe: signs right for 8, 8 and 7 of 8 (so the
    # 90 % target fails on seed 2); rho 0.89, 0.97, 0.95.
    assert summary["sign_agreement"] >= 0.9  # seed 0: 8 of 8
    assert summary["spearman_rho"] > 0.8  # seed 0: 0.89


def test_controls_within_the_spread_over_seeds(models):
    # Two tolerances. The sampling spread of the training text: about 60 pronoun
    # sentences per occupation give a counted log-odds a standard error near 0.22
    # nats (seed 0: every control within 2 SE, largest |gap| 0.30). And the spread
    # over training seeds: seeds 0, 1, 2 of the same recipe put the twelve control
    # gaps between -0.44 and +0.57 with a standard deviation of 0.35 nats, because
    # each model adds its own lean shared by all occupations (mean control gap
    # -0.17, +0.40, -0.30); within 2 SE are 4, 2 and 3 of the 4 controls. The test
    # holds seed 0 to 2 SE and every control to twice the seeds' spread, 0.7 nats.
    table = models["before"]
    _, se = training_text_gaps(models["original"].corpus.train)
    controls = (table["direction"] == 0).to_numpy()
    gaps = np.abs(table["model_gap"].to_numpy()[controls])
    assert np.all(gaps <= 2 * se[controls])
    assert np.all(gaps <= 0.7)


def test_trajectory_starts_flat_and_separates_the_occupations(models):
    trajectory = models["trajectory"]
    assert trajectory.shape == (models["config"].train.epochs + 1, 12)
    assert trajectory[0].std() < 0.01  # untrained: the same gap for every occupation
    assert trajectory[-1].std() > 10 * trajectory[0].std()
    assert np.allclose(trajectory[-1], models["before"]["model_gap"], atol=1e-6)


def test_amplification_is_model_minus_truth(models):
    table = models["before"]
    assert np.allclose(table["amplification"], table["model_gap"] - table["true_gap"])
    # Seed 0 under-states the planted lean (mean -0.38 nats); seeds 1 and 2 give
    # +0.18 and -0.22: at this scale the sign of amplification depends on the seed.
    skewed = table[table["direction"] != 0]
    assert skewed["amplified"].mean() < 0


def test_augmentation_flattens_the_gaps_and_keeps_perplexity(models):
    before, after = models["before"], models["after"]
    stream = lm_stream(models["original"].corpus.test, models["original"].vocab)
    ppl_before = evaluate_language_model(models["original"].model, stream)["perplexity"]
    ppl_after = evaluate_language_model(models["augmented"].model, stream)["perplexity"]
    assert abs(ppl_after / ppl_before - 1) < 0.05  # pilot: -0.03 %
    # Seed 0: the spread across occupations falls 76 %, the mean |gap| 42 %
    # (seeds 1 and 2: 73 % and 95 %, 74 % and 63 %; perplexity -0.8 % and +0.1 %).
    assert after["model_gap"].std() < 0.4 * before["model_gap"].std()
    assert after["model_gap"].abs().mean() < 0.7 * before["model_gap"].abs().mean()
    # What is left still ranks the occupations in the planted order (pilot rho 0.83),
    # at a quarter of the spread: balanced counts remove most of the lean, not all.
    assert gap_summary(after)["spearman_rho"] < gap_summary(before)["spearman_rho"] + 0.1


@pytest.mark.xfail(strict=True, reason="not met at this scale: after augmentation a lean shared "
                   "by every occupation (about -0.2 nats, absent from the balanced text) remains; "
                   "reduction of the mean |gap| 42 % (seeds 1, 2: 74 %, 63 %)")
def test_augmentation_cuts_mean_abs_gap_by_80_percent(models):
    before, after = models["before"], models["after"]
    assert after["model_gap"].abs().mean() <= 0.2 * before["model_gap"].abs().mean()
