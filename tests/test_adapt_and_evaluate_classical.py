"""Chapter 5's classical baseline: TF-IDF or counts and a logistic regression."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from utils.adapt_and_evaluate.classical import (
    ClassicalConfig,
    classical_budget_experiment,
    fit_classical,
)
from utils.data.corpus import CorpusConfig, sentiment_task


def test_pipeline_equals_sklearn_on_joined_text():
    train, test = sentiment_task(replace(CorpusConfig(), seed=3), n_train=60, n_test=50,
                                 test_overlap=1.0)
    ours = fit_classical(train.texts, train.labels.tolist(), ClassicalConfig(C=2.0))
    # The reference: scikit-learn on space-joined strings, a pattern that keeps every token.
    vec = TfidfVectorizer(token_pattern=r"\S+", lowercase=False)
    ref = LogisticRegression(C=2.0, max_iter=1000).fit(
        vec.fit_transform([" ".join(s) for s in train.texts]), train.labels.numpy())
    expected = ref.predict_proba(vec.transform([" ".join(s) for s in test.texts]))
    assert np.allclose(ours.predict_proba(test.texts), expected, atol=1e-6)


def test_learning_curve_rows_and_what_it_can_learn():
    frame = classical_budget_experiment([4, 256], seeds=(0, 1), test_overlap=1.0,
                                        label_noise=0.0, n_test=200)
    assert list(frame.columns) == ["mode", "C", "seed", "budget", "accuracy", "confidence",
                                   "train_s"]
    assert len(frame) == 4 and set(frame.seed) == {0, 1}
    assert (frame[frame.budget == 256].accuracy > 0.9).all()  # every test word is labelled
    unseen = classical_budget_experiment([256], seeds=(0, 1), test_overlap=0.0, n_test=200)
    assert (unseen.accuracy < 0.65).all()  # no test word is labelled: it can only guess


def test_counts_and_tfidf_differ_and_bad_settings_refused():
    tfidf = classical_budget_experiment([16], seeds=(0,), n_test=200)
    counts = classical_budget_experiment([16], seeds=(0,), n_test=200,
                                         config=ClassicalConfig(mode="counts"))
    assert tfidf.confidence.iloc[0] != counts.confidence.iloc[0]
    with pytest.raises(ValueError, match="budget"):
        classical_budget_experiment([1])
    with pytest.raises(ValueError, match="mode"):
        ClassicalConfig(mode="bert")
    with pytest.raises(ValueError, match="C must"):
        ClassicalConfig(C=0)
