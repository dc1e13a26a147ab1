"""Evaluation: classification metrics, calibration, agreement, ROC, per-sentence loss.

Chapters 3-5, 8 and 9. Layer: uses ``utils.data``, ``utils.lm`` and ``utils.runtime``.
"""

from __future__ import annotations

from utils.evaluate.agreement import (  # noqa: F401
    accuracy_by_distance,
    agreement_accuracy,
    lstm_verb_margins,
    ngram_verb_margins,
)
from utils.evaluate.calibration import (  # noqa: F401
    ReliabilityDiagram,
    apply_temperature,
    confidence_and_correct,
    expected_calibration_error,
    fit_temperature,
    nll_at_temperature,
    reliability_diagram,
)
from utils.evaluate.metrics import (  # noqa: F401
    accuracy,
    classification_report,
    confusion_matrix,
    f1_score,
    precision,
    precision_recall_f1,
    recall,
)
from utils.evaluate.roc import (  # noqa: F401
    auroc,
    roc_curve,
    scores_and_labels,
)
from utils.evaluate.sentence_loss import (  # noqa: F401
    perplexity,
    scored_tokens,
    sentence_losses,
)

__all__ = [
    "ReliabilityDiagram",
    "accuracy",
    "accuracy_by_distance",
    "agreement_accuracy",
    "apply_temperature",
    "auroc",
    "classification_report",
    "confidence_and_correct",
    "confusion_matrix",
    "expected_calibration_error",
    "f1_score",
    "fit_temperature",
    "lstm_verb_margins",
    "ngram_verb_margins",
    "nll_at_temperature",
    "perplexity",
    "precision",
    "precision_recall_f1",
    "recall",
    "reliability_diagram",
    "roc_curve",
    "scored_tokens",
    "scores_and_labels",
    "sentence_losses",
]
