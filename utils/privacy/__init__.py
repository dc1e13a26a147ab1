"""Privacy: exposure of planted secrets, membership inference, DP-SGD. Chapter 8.

Layer: uses ``utils.data``, ``utils.evaluate``, ``utils.lm`` and ``utils.runtime`` only.
"""

from __future__ import annotations

from utils.data.padding import (  # noqa: F401  (re-exported for chapter 8)
    PAD,
    encode_with_targets,
)
from utils.evaluate.roc import (  # noqa: F401  (re-exported for chapter 8)
    auroc,
    roc_curve,
    scores_and_labels,
)
from utils.evaluate.sentence_loss import (  # noqa: F401  (re-exported for chapter 8)
    perplexity,
    sentence_losses,
)
from utils.privacy.accountant import (  # noqa: F401
    DEFAULT_ORDERS,
    dpsgd_epsilon,
    gaussian_epsilon,
    gaussian_epsilon_simple,
    gaussian_rdp,
    noise_for_epsilon,
    rdp_to_epsilon,
)
from utils.privacy.calibrated import (  # noqa: F401
    calibrated_scores,
    low_fpr_attack,
    true_log_likelihoods,
)
from utils.privacy.canary import (  # noqa: F401
    canary_exposure,
    canary_log2_probs,
    dedupe_sentences,
    with_canary,
)
from utils.privacy.dpsgd import (  # noqa: F401
    DPLanguageModel,
    clip_and_sum,
    gaussian_noise,
    opacus_twin,
    per_example_grads,
    private_gradient,
)
from utils.privacy.experiments import (  # noqa: F401
    CANARY,
    EXPOSURE_CORPUS,
    MEMBERSHIP_CORPUS,
    PrivacyRun,
    attack_scores,
    dp_run,
    exposure_run,
    low_fpr_table,
    membership_sets,
    overfit_run,
    train_run,
    underfit_run,
)
from utils.privacy.exposure import (  # noqa: F401
    exposure,
    extrapolated_exposure,
)
from utils.privacy.membership import (  # noqa: F401
    advantage,
    attack_rates,
    attack_report,
    clopper_pearson,
    dp_bound_violations,
    epsilon_lower_bound,
    threshold_at_fpr,
    tpr_at_fpr,
)
from utils.privacy.speed import (  # noqa: F401
    dp_step_speed,
)
from utils.privacy.training import (  # noqa: F401
    PrivateTrainConfig,
    train_sentences,
)

__all__ = [
    "CANARY",
    "DEFAULT_ORDERS",
    "DPLanguageModel",
    "EXPOSURE_CORPUS",
    "MEMBERSHIP_CORPUS",
    "PAD",
    "PrivacyRun",
    "PrivateTrainConfig",
    "advantage",
    "attack_rates",
    "attack_report",
    "attack_scores",
    "auroc",
    "calibrated_scores",
    "canary_exposure",
    "canary_log2_probs",
    "clip_and_sum",
    "clopper_pearson",
    "dedupe_sentences",
    "dp_bound_violations",
    "dp_run",
    "dp_step_speed",
    "dpsgd_epsilon",
    "encode_with_targets",
    "epsilon_lower_bound",
    "exposure",
    "exposure_run",
    "extrapolated_exposure",
    "gaussian_epsilon",
    "gaussian_epsilon_simple",
    "gaussian_noise",
    "gaussian_rdp",
    "low_fpr_attack",
    "low_fpr_table",
    "membership_sets",
    "noise_for_epsilon",
    "opacus_twin",
    "overfit_run",
    "per_example_grads",
    "perplexity",
    "private_gradient",
    "rdp_to_epsilon",
    "roc_curve",
    "scores_and_labels",
    "sentence_losses",
    "threshold_at_fpr",
    "tpr_at_fpr",
    "train_run",
    "train_sentences",
    "true_log_likelihoods",
    "underfit_run",
    "with_canary",
]
