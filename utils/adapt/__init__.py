"""Adapt the pretrained model to a downstream task, and the label-budget experiment. Chapter 5.

Layer: uses ``utils.lm``, ``utils.evaluate`` and ``utils.data``.
"""

from __future__ import annotations

from utils.adapt.classifier import (  # noqa: F401
    MODES,
    POOLINGS,
    AdaptConfig,
    SentimentClassifier,
    encode_sentences,
    label_budget_experiment,
    make_classifier,
    predict_proba,
    summarise,
    train_classifier,
)

__all__ = [
    "AdaptConfig",
    "MODES",
    "POOLINGS",
    "SentimentClassifier",
    "encode_sentences",
    "label_budget_experiment",
    "make_classifier",
    "predict_proba",
    "summarise",
    "train_classifier",
]
