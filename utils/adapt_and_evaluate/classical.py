"""The classical baseline of chapter 5: hand-made features and a linear model, no pretraining.

Before foundation models, a text classifier was built per task: a person chose
the features (here each word's count, or its TF-IDF weight: the count scaled
down for words that occur in many documents) and a linear model was fitted on
the labelled examples alone (scikit-learn's ``LogisticRegression``). Nothing
is read before the labels arrive, so a test word that no labelled review
shows has no weight, and the model can only guess on the reviews that use it.

``classical_budget_experiment`` runs it over the same label budgets, seeds and
reviews as ``label_budget_experiment`` and returns the same kind of table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from utils.adapt_and_evaluate.experiment import DEFAULT_LABEL_NOISE, DEFAULT_TEST_OVERLAP
from utils.data.corpus import CorpusConfig, sentiment_task
from utils.runtime import config_columns

__all__ = ["FEATURES", "ClassicalConfig", "classical_budget_experiment", "fit_classical"]

FEATURES = ("tfidf", "counts")


@dataclass(frozen=True)
class ClassicalConfig:
    """The hand-made pipeline: which features, how strongly to regularise, the seed. Chapter 5."""

    mode: str = "tfidf"  # the row's name on the learning curve; also the features used
    C: float = 1.0  # inverse L2 strength of the logistic regression
    seed: int = 0  # the task draw's seed (the fit itself is deterministic)

    def __post_init__(self) -> None:
        if self.mode not in FEATURES:
            raise ValueError(f"mode must be one of {FEATURES}; got {self.mode!r}")
        if not self.C > 0:
            raise ValueError(f"C must be > 0; got {self.C!r}")


def fit_classical(sentences: Sequence[Sequence[str]], labels: Sequence[int],
                  config: ClassicalConfig) -> Pipeline:
    """Fit words -> counts or TF-IDF -> logistic regression on tokenised sentences. Chapter 5.

    The sentences are already split into words, so the vectoriser takes them as
    they are (no lower-casing or token pattern of its own).
    """
    if len(sentences) != len(labels) or not len(labels):
        raise ValueError(f"need as many labels as sentences, at least one; got "
                         f"{len(labels)} and {len(sentences)}")
    vectoriser = (TfidfVectorizer if config.mode == "tfidf" else CountVectorizer)(
        analyzer=list)
    pipeline = make_pipeline(vectoriser, LogisticRegression(C=config.C, max_iter=1000))
    return pipeline.fit([list(s) for s in sentences], np.asarray(labels))


def _predict(pipeline: Pipeline | int, sentences: Sequence[Sequence[str]]
             ) -> tuple[np.ndarray, np.ndarray]:
    """Predicted labels and the probability of each prediction."""
    if isinstance(pipeline, int):  # one class only among the labels: always that class
        return np.full(len(sentences), pipeline), np.ones(len(sentences))
    probs = pipeline.predict_proba([list(s) for s in sentences])  # (n, 2)
    return pipeline.classes_[probs.argmax(1)], probs.max(1)


def classical_budget_experiment(budgets: Sequence[int], seeds: Sequence[int] = (0, 1, 2), *,
                                config: ClassicalConfig | None = None,
                                corpus: CorpusConfig | None = None, n_test: int = 500,
                                label_noise: float = DEFAULT_LABEL_NOISE,
                                test_overlap: float = DEFAULT_TEST_OVERLAP) -> pd.DataFrame:
    """Test accuracy of the classical pipeline for each budget and seed. Chapter 5.

    The labelled and test reviews are drawn exactly as in ``label_budget_experiment``
    (one draw of ``max(budgets)`` labelled reviews per seed, budgets nested), so
    the rows sit on the same learning curve. A budget whose labels are all one
    class predicts that class, as any fitted model would. One row per (budget,
    seed): the ``ClassicalConfig`` fields, ``budget``, ``accuracy``,
    ``confidence`` and ``train_s``.
    """
    config = config or ClassicalConfig()
    corpus = corpus or CorpusConfig()
    if not budgets or not seeds:
        raise ValueError("classical_budget_experiment needs at least one budget and one seed")
    for b in budgets:
        if not isinstance(b, int) or b < 2:
            raise ValueError(f"every budget must be an integer >= 2; got {b!r}")
    rows = []
    for seed in seeds:
        train, test = sentiment_task(replace(corpus, seed=seed, label_noise=label_noise),
                                     n_train=max(budgets), n_test=n_test,
                                     test_overlap=test_overlap)
        test_labels = test.labels.numpy()
        for budget in budgets:
            run = replace(config, seed=seed)
            labels = train.labels[:budget].tolist()
            start = time.perf_counter()
            pipeline = (fit_classical(train.texts[:budget], labels, run)
                        if len(set(labels)) > 1 else int(labels[0]))
            predicted, confidence = _predict(pipeline, test.texts)
            rows.append({**config_columns(run), "budget": budget,
                         "accuracy": float((predicted == test_labels).mean()),
                         "confidence": float(confidence.mean()),
                         "train_s": time.perf_counter() - start})
    return pd.DataFrame(rows)
