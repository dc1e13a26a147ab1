"""A screening model trained on real hiring decisions, and three remedies. Chapter 6.

The data are the call-backs of Bertrand & Mullainathan's (2004) résumé audit
(``utils.fairness.real_data.resume_audit``). A logistic regression learns to
predict a call-back from the résumé and the first name, as a screening tool
trained on past decisions would. Call-backs are rare (about 8 %), so every
model here weighs errors on the two classes equally (balanced error); the
metrics are balanced accuracy and the group differences of
``utils.fairness.group_metrics``. Remedies: reweighed training data
(``utils.fairness.reweighing``, Kamiran & Calders 2012), a constraint in
training (fairlearn's ``ExponentiatedGradient``) and group-specific thresholds
after training (``equal_tpr_thresholds`` and fairlearn's ``ThresholdOptimizer``).
"""

from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import pandas as pd
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import (
    DemographicParity,
    EqualizedOdds,
    ErrorRate,
    ExponentiatedGradient,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from utils.fairness.group_metrics import (
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    predictive_parity_difference,
    true_positive_rate,
)
from utils.fairness.real_data import RESUME_FEATURES
from utils.fairness.reweighing import reweighing_weights

__all__ = ["CONSTRAINTS", "GROUP_COLUMNS", "resume_design", "split_audit",
           "equal_tpr_thresholds", "apply_thresholds", "fit_remedies",
           "evaluate_predictions", "remedy_experiment"]


GROUP_COLUMNS = ("race", "gender")
CONSTRAINTS = {"equalized_odds": EqualizedOdds, "demographic_parity": DemographicParity}


def resume_design(frame: pd.DataFrame, group: str = "race"
                  ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """One-hot features (résumé and first name), labels ``called``, the ``group`` column."""
    if group not in GROUP_COLUMNS:
        raise ValueError(f"group must be one of {GROUP_COLUMNS}; got {group!r}")
    x = pd.get_dummies(frame[[*RESUME_FEATURES, "name"]], drop_first=False, dtype=float)
    return x, frame["called"].to_numpy(), frame[group].to_numpy()


def split_audit(frame: pd.DataFrame, seed: int, test_size: float = 0.5):
    """Train and test halves, stratified by race, gender and call-back (both keep base rates)."""
    strata = frame["race"] + frame["gender"] + frame["called"].astype(str)
    return train_test_split(frame, test_size=test_size, random_state=seed, stratify=strata)


def equal_tpr_thresholds(scores, y_true, groups, target_tpr: float) -> dict[str, float]:
    """Per group, the highest threshold whose true-positive rate is at least ``target_tpr``.

    Within each group, the ``ceil(target * n_positives)`` highest-scoring
    positives are selected, so every group's rate lies in
    [target, target + 1 / n_positives) (ties aside): fitted on one split only.
    """
    scores, y_true, groups = np.asarray(scores), np.asarray(y_true), np.asarray(groups)
    out = {}
    for g in np.unique(groups):
        positives = np.sort(scores[(groups == g) & (y_true == 1)])[::-1]
        k = max(1, math.ceil(target_tpr * len(positives) - 1e-9))
        out[str(g)] = float(positives[k - 1])
    return out


def apply_thresholds(scores, groups, thresholds: dict[str, float]) -> np.ndarray:
    """1 where a score reaches its group's threshold, else 0."""
    scores, groups = np.asarray(scores), np.asarray(groups)
    limits = np.array([thresholds[str(g)] for g in groups])
    return (scores >= limits).astype(int)


@contextlib.contextmanager
def _quiet_fairlearn():
    """Silence fairlearn 0.15's deprecation notices under pandas 3 (harmless), for the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Setting a value on a Series via .at")
        warnings.filterwarnings("ignore", message="Setting an item of incompatible dtype")
        yield


def _balanced_costs(y: np.ndarray) -> ErrorRate:
    rate = float(np.mean(y))
    return ErrorRate(costs={"fp": rate, "fn": 1.0 - rate})  # balanced error, up to a factor


def _learner(**options) -> LogisticRegression:
    # Newton steps solve these 58 one-hot columns in a few iterations, about three
    # times faster than L-BFGS; the constraint in training refits the learner dozens of times.
    return LogisticRegression(solver="newton-cholesky", max_iter=2000, **options)


def _features(part: pd.DataFrame, columns: pd.Index, group: str):
    """Features as a plain array in the order ``columns`` (fairlearn is faster without pandas)."""
    x, y, a = resume_design(part, group)
    return x.reindex(columns=columns, fill_value=0.0).to_numpy(), y, a


def fit_remedies(train: pd.DataFrame, columns: pd.Index, *, group: str = "race",
                 constraint: str = "equalized_odds") -> dict:
    """Fit the unconstrained model, the reweighed one, the constrained one, two post-processed.

    The models read the features as an array with the columns ``columns``.
    """
    x, y, a = _features(train, columns, group)
    base = _learner(class_weight="balanced").fit(x, y)
    # The same learner and class weights; the cell weights make group and label independent.
    reweighed = _learner(class_weight="balanced").fit(x, y, sample_weight=reweighing_weights(a, y))
    constrained = ExponentiatedGradient(
        _learner(), constraints=CONSTRAINTS[constraint](),
        objective=_balanced_costs(y), eps=0.01, max_iter=50)
    with _quiet_fairlearn():
        constrained.fit(x, y, sensitive_features=a)
    post = ThresholdOptimizer(estimator=base, constraints="true_positive_rate_parity",
                              objective="balanced_accuracy_score", prefit=True,
                              predict_method="predict_proba")
    post.fit(x, y, sensitive_features=a)
    scores = base.predict_proba(x)[:, 1]
    target = float(np.mean(base.predict(x)[y == 1]))  # keep the unconstrained overall TPR
    thresholds = equal_tpr_thresholds(scores, y, a, target)
    return {"base": base, "reweighed": reweighed, "constrained": constrained,
            "threshold_optimizer": post, "thresholds": thresholds}


def evaluate_predictions(y_true, y_pred, groups) -> dict[str, float]:
    """Balanced accuracy, the overall TPR and four group differences of a set of predictions.

    Three are the independence and separation criteria; ``ppv_difference`` is
    sufficiency for a decision: among those selected, the share with Y = 1 per group.
    """
    return {"balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
            "tpr": true_positive_rate(y_true, y_pred),
            "dp_difference": demographic_parity_difference(y_true, y_pred,
                                                           sensitive_features=groups),
            "tpr_difference": equal_opportunity_difference(y_true, y_pred,
                                                           sensitive_features=groups),
            "eo_difference": equalized_odds_difference(y_true, y_pred, sensitive_features=groups),
            "ppv_difference": predictive_parity_difference(y_true, y_pred,
                                                           sensitive_features=groups)}


def _predictions(models: dict, x: np.ndarray, a: np.ndarray, seed: int) -> dict:
    scores = models["base"].predict_proba(x)[:, 1]
    with _quiet_fairlearn():
        constrained = models["constrained"].predict(x, random_state=seed)
    return {
        "unconstrained": models["base"].predict(x),
        "reweighed data": models["reweighed"].predict(x),
        "constraint in training": constrained,
        "group thresholds": apply_thresholds(scores, a, models["thresholds"]),
        "ThresholdOptimizer": models["threshold_optimizer"].predict(
            x, sensitive_features=a, random_state=seed),
    }


def remedy_experiment(frame: pd.DataFrame, seeds=(0, 1, 2), *, group: str = "race",
                      constraint: str = "equalized_odds") -> pd.DataFrame:
    """For each seed (a train/test split): every model's metrics on both halves, one row each.

    ``group`` is the audited column ("race" or "gender"), ``constraint`` the one
    imposed in training ("equalized_odds" or "demographic_parity").
    """
    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {tuple(CONSTRAINTS)}; got {constraint!r}")
    columns = resume_design(frame)[0].columns
    rows = []
    for seed in seeds:
        train, test = split_audit(frame, seed)
        models = fit_remedies(train, columns, group=group, constraint=constraint)
        for split, part in (("train", train), ("test", test)):
            x, y, a = _features(part, columns, group)
            for model, pred in _predictions(models, x, a, seed).items():
                rows.append({"seed": seed, "split": split, "model": model,
                             **evaluate_predictions(y, pred, a)})
    return pd.DataFrame(rows)
