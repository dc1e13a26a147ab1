"""Chapter 6: the course's model against the planted truth, and counterfactual augmentation.

Uses the two cached models of ``train_tracked`` (about a minute to train both
from a cold cache). Thresholds come from a pilot run with the default
configuration (seed 0), whose values are quoted beside each assertion.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils.data import lm_stream
from utils.fairness import gap_summary, gap_table, train_tracked, training_text_gaps, warm_histories
from utils.lm import PretrainConfig, evaluate_language_model


@pytest.fixture(scope="module")
def models():
    config = PretrainConfig()
    original, trajectory = train_tracked(config)
    augmented, augmented_trajectory = train_tracked(config, augment=True)
    histories = warm_histories(original.corpus.valid, original.vocab, seed=0)
    before = gap_table(original.model, original.vocab, config.corpus, histories)
    after = gap_table(augmented.model, augmented.vocab, config.corpus, histories)
    return {"config": config, "original": original, "augmented": augmented, "before": before,
            "after": after, "trajectory": trajectory}


def test_model_gap_recovers_the_planted_lean(models):
    summary = gap_summary(models["before"])
    assert summary["sign_agreement"] >= 0.9  # pilot: 8 of 8
    assert summary["spearman_rho"] > 0.8  # pilot: 0.89


def test_controls_within_two_standard_errors_of_the_text(models):
    # The tolerance is the sampling spread of the training text itself: with
    # about 60 pronoun sentences per occupation and template, a log-odds counted
    # from the text has a standard error near 0.22 nats (pilot: every control
    # within 2 SE; largest |gap| 0.30 against 2 SE = 0.43).
    table = models["before"]
    _, se = training_text_gaps(models["original"].corpus.train)
    controls = (table["direction"] == 0).to_numpy()
    assert np.all(np.abs(table["model_gap"].to_numpy()[controls]) <= 2 * se[controls])


def test_trajectory_starts_flat_and_separates_the_occupations(models):
    trajectory = models["trajectory"]
    assert trajectory.shape == (models["config"].train.epochs + 1, 12)
    assert trajectory[0].std() < 0.01  # untrained: the same gap for every occupation
    assert trajectory[-1].std() > 10 * trajectory[0].std()
    assert np.allclose(trajectory[-1], models["before"]["model_gap"], atol=1e-6)


def test_amplification_is_model_minus_truth(models):
    table = models["before"]
    assert np.allclose(table["amplification"], table["model_gap"] - table["true_gap"])
    # Pilot: the model under-states the planted lean (mean -0.38 nats), it does not amplify it.
    skewed = table[table["direction"] != 0]
    assert skewed["amplified"].mean() < 0


def test_augmentation_flattens_the_gaps_and_keeps_perplexity(models):
    before, after = models["before"], models["after"]
    stream = lm_stream(models["original"].corpus.test, models["original"].vocab)
    ppl_before = evaluate_language_model(models["original"].model, stream)["perplexity"]
    ppl_after = evaluate_language_model(models["augmented"].model, stream)["perplexity"]
    assert abs(ppl_after / ppl_before - 1) < 0.05  # pilot: -0.03 %
    # Pilot: the spread across occupations falls 76 %, the mean |gap| 42 %.
    assert after["model_gap"].std() < 0.4 * before["model_gap"].std()
    assert after["model_gap"].abs().mean() < 0.7 * before["model_gap"].abs().mean()
    # What is left still ranks the occupations in the planted order (pilot rho 0.83),
    # at a quarter of the spread: balanced counts remove most of the lean, not all.
    assert gap_summary(after)["spearman_rho"] < gap_summary(before)["spearman_rho"] + 0.1


@pytest.mark.xfail(strict=True, reason="not met at this scale: after augmentation a lean shared "
                   "by every occupation (about -0.2 nats, absent from the balanced text) remains; "
                   "pilot reduction of the mean |gap| 42 %")
def test_augmentation_cuts_mean_abs_gap_by_80_percent(models):
    before, after = models["before"], models["after"]
    assert after["model_gap"].abs().mean() <= 0.2 * before["model_gap"].abs().mean()
