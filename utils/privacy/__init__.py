"""Privacy: exposure of planted secrets, membership inference, DP-SGD, scrubbing, unlearning.

Chapter 8.

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
from utils.privacy.data_security import (  # noqa: F401
    CONDITIONS,
    SECRETS,
    SECRETS_CORPUS,
    SecretsRun,
    caught_by_scrubber,
    exact_unlearning,
    forget_set,
    scrubbing_rows,
    secrets_exposures,
    secrets_run,
    secrets_vocab,
    summary_of,
    train_secrets,
    unlearning_comparison,
    unlearning_rows,
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
from utils.privacy.scrubbing import (  # noqa: F401
    CODE_PATTERN,
    MASK,
    SECRET_FORMATS,
    SecretFormat,
    format_exposure,
    format_log2_probs,
    scrub,
    scrub_sentences,
)
from utils.privacy.speed import (  # noqa: F401
    dp_step_speed,
)
from utils.privacy.training import (  # noqa: F401
    PrivateTrainConfig,
    train_sentences,
)
from utils.privacy.unlearning import (  # noqa: F401
    gradient_ascent,
    without,
)

__all__ = [
    "CANARY",
    "CODE_PATTERN",
    "CONDITIONS",
    "DEFAULT_ORDERS",
    "DPLanguageModel",
    "EXPOSURE_CORPUS",
    "MASK",
    "MEMBERSHIP_CORPUS",
    "PAD",
    "PrivacyRun",
    "PrivateTrainConfig",
    "SECRETS",
    "SECRETS_CORPUS",
    "SECRET_FORMATS",
    "SecretFormat",
    "SecretsRun",
    "advantage",
    "attack_rates",
    "attack_report",
    "attack_scores",
    "auroc",
    "calibrated_scores",
    "canary_exposure",
    "canary_log2_probs",
    "caught_by_scrubber",
    "clip_and_sum",
    "clopper_pearson",
    "dedupe_sentences",
    "dp_bound_violations",
    "dp_run",
    "dp_step_speed",
    "dpsgd_epsilon",
    "encode_with_targets",
    "epsilon_lower_bound",
    "exact_unlearning",
    "exposure",
    "exposure_run",
    "extrapolated_exposure",
    "forget_set",
    "format_exposure",
    "format_log2_probs",
    "gaussian_epsilon",
    "gaussian_epsilon_simple",
    "gaussian_noise",
    "gaussian_rdp",
    "gradient_ascent",
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
    "scrub",
    "scrub_sentences",
    "scrubbing_rows",
    "secrets_exposures",
    "secrets_run",
    "secrets_vocab",
    "sentence_losses",
    "summary_of",
    "threshold_at_fpr",
    "tpr_at_fpr",
    "train_run",
    "train_secrets",
    "train_sentences",
    "true_log_likelihoods",
    "underfit_run",
    "unlearning_comparison",
    "unlearning_rows",
    "with_canary",
    "without",
]
