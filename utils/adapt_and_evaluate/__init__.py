"""Adapt the pretrained model to a downstream task, and the label-budget experiment. Chapter 5.

Layer: uses ``utils.lm``, ``utils.data`` and ``utils.runtime``.
"""

from __future__ import annotations

from utils.adapt_and_evaluate.classifier import (  # noqa: F401
    MODES,
    POOLINGS,
    AdaptConfig,
    SentimentClassifier,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.adapt_and_evaluate.experiment import (  # noqa: F401
    DEFAULT_LABEL_NOISE,
    DEFAULT_TEST_OVERLAP,
    label_budget_experiment,
    scratch_ceiling,
    summarise,
)
from utils.data.padding import (  # noqa: F401  (re-exported for chapters 5, 7 and 9)
    encode_with_lengths,
)

__all__ = [
    "AdaptConfig",
    "DEFAULT_LABEL_NOISE",
    "DEFAULT_TEST_OVERLAP",
    "MODES",
    "POOLINGS",
    "SentimentClassifier",
    "encode_with_lengths",
    "label_budget_experiment",
    "make_classifier",
    "predict_proba",
    "scratch_ceiling",
    "summarise",
    "train_classifier",
]
