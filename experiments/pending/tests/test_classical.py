"""Chapter 5's classical baseline: TF-IDF or counts and a logistic regression."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from utils.adapt_and_evaluate.classical import (
    ClassicalConfig,
    classical_budget_experiment,
    fit_classical,
)
from utils.data.corpus import sentiment_task


def test_pipeline_equals_sklearn_on_joined_text():
    train, test = sentiment_task(n_train=60, n_test=50, seed=3, test_overlap=1.0)
    x, y = [s for s, _ in train], [label for _, label in train]
    ours = fit_classical(x, y, ClassicalConfig(mode="tfidf", C=2.0))
    # the reference: sklearn on space-joined strings with a pattern that keeps every token
    vec = TfidfVectorizer(token_pattern=r"\S+", lowercase=False)
    ref = LogisticRegression(C=2.0, max_iter=1000).fit(vec.fit_transform(
        [" ".join(s) for s in x]), y)
    expected = ref.predict_proba(vec.transform([" ".join(s) for s, _ in test]))
    assert np.allclose(ours.predict_proba([s for s, _ in test]), expected, atol=1e-6)


def test_learning_curve_rows_and_what_it_can_learn():
    frame = classical_budget_experiment([4, 256], seeds=(0, 1), test_overlap=1.0,
                                        label_noise=0.0, n_test=200)
    assert list(frame.columns) == ["mode", "C", "seed", "budget", "accuracy", "confidence",
                                   "train_s"]
    assert len(frame) == 4 and set(frame.seed) == {0, 1}
    full = frame[frame.budget == 256].accuracy
    assert (full > 0.9).all()  # every test word is labelled somewhere: it learns them
    unseen = classical_budget_experiment([256], seeds=(0, 1), test_overlap=0.0, n_test=200)
    assert (unseen.accuracy < 0.65).all()  # no test word is labelled: it can only guess


def test_one_class_budget_predicts_that_class():
    frame = classical_budget_experiment([2], seeds=range(8), n_test=100, label_noise=0.0)
    assert ((frame.accuracy - 0.5).abs() < 0.5).all()
    with pytest.raises(ValueError, match="budget"):
        classical_budget_experiment([1])
    with pytest.raises(ValueError, match="mode"):
        ClassicalConfig(mode="bert")
