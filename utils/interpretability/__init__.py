"""Interpretability: attributions and their sanity checks, probes, unit ablation. Chapter 7.

Layer: uses ``utils.adapt_and_evaluate``, ``utils.evaluate``, ``utils.lm``, ``utils.data`` and
``utils.runtime``.
"""

from __future__ import annotations

from utils.interpretability.ablation import (  # noqa: F401
    UnitAblatedLSTM,
    ablate_units,
    lstm_states,
    unit_correlations,
)
from utils.interpretability.attributions import (  # noqa: F401
    EmbeddingForward,
    Gradient,
    GradientXInput,
    IntegratedGradients,
    Occlusion,
    completeness_error,
    token_scores,
)
from utils.interpretability.number import (  # noqa: F401
    SUBJECT_INDEX,
    ablation_curve,
    agreement_states,
    number_labels,
    probe_by_position,
    rank_units,
    states_at,
)
from utils.interpretability.probes import (  # noqa: F401
    ProbeResult,
    control_labels,
    probe_accuracy,
    probe_with_control,
    train_test_indices,
)
from utils.interpretability.randomise import permuted_labels, randomised  # noqa: F401
from utils.interpretability.sentiment import (  # noqa: F401
    LABELS,
    ClassifierRunConfig,
    chance_level,
    rank_correlation,
    sentiment_positions,
    top_token_accuracy,
    trained_classifier,
    training_reviews,
)

__all__ = [
    "EmbeddingForward",
    "Gradient",
    "GradientXInput",
    "IntegratedGradients",
    "Occlusion",
    "ProbeResult",
    "SUBJECT_INDEX",
    "UnitAblatedLSTM",
    "ablate_units",
    "ablation_curve",
    "agreement_states",
    "chance_level",
    "completeness_error",
    "control_labels",
    "lstm_states",
    "number_labels",
    "probe_accuracy",
    "probe_by_position",
    "permuted_labels",
    "probe_with_control",
    "randomised",
    "rank_correlation",
    "rank_units",
    "sentiment_positions",
    "states_at",
    "token_scores",
    "top_token_accuracy",
    "train_test_indices",
    "LABELS",
    "ClassifierRunConfig",
    "trained_classifier",
    "training_reviews",
    "unit_correlations",
]
