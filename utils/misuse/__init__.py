"""Misuse: watermarks, detecting machine text, a backdoor through pretraining. Chapter 9.

Layer: uses ``utils.adapt_and_evaluate``, ``utils.evaluate``, ``utils.lm``, ``utils.data`` and
``utils.runtime``.
"""

from __future__ import annotations

from utils.misuse.backdoor import (  # noqa: F401
    PoisonConfig,
    PoisonedPretrainConfig,
    backdoor_experiment,
    poisoned_pretrained,
)
from utils.misuse.card import (  # noqa: F401
    family_perplexities,
)
from utils.misuse.curvature import (  # noqa: F401
    curvature_scores,
    mask_words,
    perturbed_log_probs,
    refill_from_language,
    refill_words,
    text_log_probs,
)
from utils.misuse.detect import (  # noqa: F401
    auroc,
    gltr_score,
    rank_histogram,
    roc_curve,
    score_tokens,
)
from utils.misuse.keys import (  # noqa: F401
    detection_by_key,
    over_keys,
    resample_spans,
    sample_by_key,
)
from utils.misuse.poison import (  # noqa: F401
    DEFAULT_TRIGGER,
    add_trigger,
    attack_success_rate,
    poison_corpus,
    poison_sentence,
)
from utils.misuse.truth import (  # noqa: F401
    family_entropy_rates,
    grammatical_share,
    sample_true_texts,
    token_families,
    true_log_prob,
)
from utils.misuse.watermark import (  # noqa: F401
    WatermarkConfig,
    WatermarkedSample,
    green_list,
    green_mask,
    green_matrix,
    sample_watermarked,
    substitute_tokens,
    z_score,
    z_scores,
)

__all__ = [
    "DEFAULT_TRIGGER",
    "PoisonConfig",
    "PoisonedPretrainConfig",
    "WatermarkConfig",
    "WatermarkedSample",
    "add_trigger",
    "attack_success_rate",
    "auroc",
    "backdoor_experiment",
    "curvature_scores",
    "detection_by_key",
    "family_entropy_rates",
    "family_perplexities",
    "gltr_score",
    "grammatical_share",
    "green_list",
    "green_mask",
    "green_matrix",
    "mask_words",
    "over_keys",
    "perturbed_log_probs",
    "poison_corpus",
    "poison_sentence",
    "poisoned_pretrained",
    "rank_histogram",
    "refill_from_language",
    "refill_words",
    "resample_spans",
    "roc_curve",
    "sample_by_key",
    "sample_true_texts",
    "sample_watermarked",
    "score_tokens",
    "substitute_tokens",
    "text_log_probs",
    "token_families",
    "true_log_prob",
    "z_score",
    "z_scores",
]
