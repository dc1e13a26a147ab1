# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Lab 06: measure bias and correct it
#
# Chapter 6 measured bias in the course's model, in word vectors
# and in hiring decisions. In this lab you implement the measurements
# yourself: the log-probability gap, the WEAT effect size and its permutation
# test, the demographic-parity and equalized-odds differences, a
# counterfactual gender swap, and group thresholds that equalise true-positive
# rates. Then you apply each one to the real thing.
#
# Each exercise is a function to complete, with its check at the end of the
# same cell: run the cell, and the check tries your function on fresh
# inputs and tells you what is wrong, never the answer.

# %% tags=["hide-cell"]
# Set-up: in Google Colab, install the course's `utils` package at a fixed
# version (keeping Colab's torch); everywhere else only the language is set.
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("foundation-models-hands-on")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "git+https://github.com/fm-hands-on/course@v0.3.0"], check=True)

from utils.i18n import set_language

set_language("en")  # checks and parameter errors in English; the Chinese notebook: "zh_CN"

# %% [markdown]
# ## Parameters

# %% tags=["parameters"]
seed: int = 0  # seed of the checks' random inputs and of the résumé split (an integer, at least 0)
gender_skew: float = 0.8  # planted strength: P(pronoun leans the occupation's way), 0.5 to 1; not 0.8 retrains (a minute)
audited_group: str = "race"  # the résumé audit's group: race or gender
constraint: str = "equalized_odds"  # the constraint in training: equalized_odds or demographic_parity

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    gender_skew=Real(gender_skew, min=0.5, max=1.0),
    audited_group=OneOf(audited_group, ["race", "gender"]),
    constraint=OneOf(constraint, ["equalized_odds", "demographic_parity"]),
)

# %%
import dataclasses
import itertools

import numpy as np
import torch

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.fairness import (
    LAB_SWAPS,
    check_gap,
    check_group_differences,
    check_group_thresholds,
    check_screen,
    check_swap,
    check_weat_effect_size,
    check_weat_p_value,
)
from utils.data import OCCUPATIONS
from utils.lm import PretrainConfig

torch.manual_seed(params.seed)
base = PretrainConfig()
config = dataclasses.replace(base, corpus=dataclasses.replace(base.corpus,
                                                              gender_skew=params.gender_skew))

# %% [markdown]
# ## Exercise 1: the log-probability gap
#
# A language model's last layer gives a score (logit) for every word of the
# vocabulary. Given logits of shape `(n, vocab_size)` for `n` contexts and the
# ids of a female and a male word, return the `n` gaps
# $\log P(\text{female}) - \log P(\text{male})$ in nats.


# %%
def gap(logits: torch.Tensor, female_id: int, male_id: int) -> torch.Tensor:
    """Gaps (n,) from next-word logits (n, vocab_size)."""
    # BEGIN SOLUTION gap
    log_p = torch.log_softmax(logits, dim=-1)  # (n, vocab_size)
    return log_p[:, female_id] - log_p[:, male_id]
    # END SOLUTION


check_gap(gap, seed=params.seed)

# %% [markdown]
# Now apply it to the course's model (the one of the chapter when
# `gender_skew` is 0.8) after "the *o* said that", each context read after a
# few held-out sentences, beside the exact gap the corpus plants.

# %%
from utils.fairness import train_tracked, true_gaps, warm_histories

model = train_tracked(config)
vocab = model.vocab
mine = torch.zeros(len(OCCUPATIONS))
histories = warm_histories(model.corpus.valid, vocab, seed=params.seed)
for history in histories:  # the gap averaged over 20 short histories, as in the chapter
    contexts = torch.tensor([[*history, *vocab.encode(f"the {o} said that".split())]
                             for o in OCCUPATIONS])  # (12, length)
    with torch.no_grad():
        next_logits = model.model(contexts)[0][:, -1]  # (12, vocab_size)
    mine += gap(next_logits, vocab.stoi["she"], vocab.stoi["he"]) / len(histories)
for o, m, t in zip(OCCUPATIONS, mine.tolist(), true_gaps(config.corpus), strict=True):
    print(f"{o:10} model {m:+.2f}   planted {t:+.2f}")

# %% [markdown]
# ## Exercise 2: the WEAT effect size
#
# For word vectors `x`, `y` (targets) and `a`, `b` (attributes), each an array
# of shape `(n_words, dim)`, compute $s(w, A, B)$ with cosine similarities and
# return Caliskan's effect size $d$: the difference of the mean $s$ over X and
# over Y, divided by the sample standard deviation (`ddof=1`) of $s$ over X
# and Y together.


# %%
def weat_effect_size(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Caliskan et al.'s d."""
    # BEGIN SOLUTION weat_effect_size
    def unit(m):
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    def s(w):
        return (unit(w) @ unit(a).T).mean(1) - (unit(w) @ unit(b).T).mean(1)

    sx, sy = s(x), s(y)
    return float((sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1))
    # END SOLUTION


check_weat_effect_size(weat_effect_size, seed=params.seed)

# %% [markdown]
# ## Exercise 3: the permutation test
#
# Return the exact one-sided p-value: over every way of choosing `len(x)` of
# the pooled target words as $X_i$ (the rest are $Y_i$), the share whose
# statistic $\sum_{X_i} s - \sum_{Y_i} s$ is at least the observed one.
# `itertools.combinations` enumerates the choices.


# %%
def weat_p_value(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Exact one-sided permutation p-value of the WEAT statistic."""
    # BEGIN SOLUTION weat_p_value
    def unit(m):
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    pooled = np.concatenate([x, y])
    s = (unit(pooled) @ unit(a).T).mean(1) - (unit(pooled) @ unit(b).T).mean(1)
    observed = s[:len(x)].sum() - s[len(x):].sum()
    stats = [2 * s[list(c)].sum() - s.sum()
             for c in itertools.combinations(range(len(s)), len(x))]
    return float(np.mean(np.array(stats) >= observed - 1e-12))
    # END SOLUTION


check_weat_p_value(weat_p_value, seed=params.seed)

# %% [markdown]
# Apply both to GloVe (6B tokens, 50 dimensions) with the career/family lists
# of Caliskan et al. (2017). They report $d = 1.81$ on a much larger GloVe (840B
# tokens, 300 dimensions).

# %%
from utils.fairness import WEAT_TESTS, glove_vectors

vectors = glove_vectors()
x_w, y_w, a_w, b_w, published = WEAT_TESTS["male/female names vs career/family"]
sets = [vectors.vectors(w) for w in (x_w, y_w, a_w, b_w)]
print(f"career/family: d = {weat_effect_size(*sets):.2f} (published {published}), "
      f"one-sided p = {weat_p_value(*sets):.1e} (exact, over 12,870 splits)")

# %% [markdown]
# ## Exercise 4: group differences
#
# Implement both with fairlearn's call shape. `demographic_parity_difference`
# is the largest minus the smallest per-group selection rate
# $P(\hat y = 1 \mid \text{group})$; `equalized_odds_difference` is the larger
# of the same spread for the true-positive rate (among `y_true == 1`) and for
# the false-positive rate (among `y_true == 0`). There may be more than two
# groups.


# %%
def demographic_parity_difference(y_true, y_pred, *, sensitive_features) -> float:
    """Largest minus smallest group selection rate."""
    # BEGIN SOLUTION group_differences_dp
    y_pred, g = np.asarray(y_pred), np.asarray(sensitive_features)
    rates = [np.mean(y_pred[g == v] == 1) for v in np.unique(g)]
    return float(max(rates) - min(rates))
    # END SOLUTION


def equalized_odds_difference(y_true, y_pred, *, sensitive_features) -> float:
    """The larger of the TPR and FPR spreads between groups."""
    # BEGIN SOLUTION group_differences_eo
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    g = np.asarray(sensitive_features)
    spreads = []
    for label in (1, 0):
        rates = [np.mean(y_pred[(g == v) & (y_true == label)] == 1) for v in np.unique(g)]
        spreads.append(max(rates) - min(rates))
    return float(max(spreads))
    # END SOLUTION


check_group_differences(demographic_parity_difference, equalized_odds_difference,
                        seed=params.seed)

# %% [markdown]
# ## Exercise 5: the counterfactual swap
#
# Swap every gendered token using `LAB_SWAPS` (lowercase keys). Keep a
# capitalised word capitalised ("He" becomes "She", "HIM" becomes "HER"),
# swap possessives too ("man's" becomes "woman's"), and never change part of
# a word ("manager", "the" and "shell" stay as they are). The table cannot
# always be right: "her" is sometimes "his" and sometimes "him", and the
# table picks "his". The example after the check shows the price.

# %%
print(LAB_SWAPS)


# %%
def swap(tokens: list[str]) -> list[str]:
    """The tokens with every gendered word swapped."""
    # BEGIN SOLUTION swap
    out = []
    for token in tokens:
        stem, suffix = (token[:-2], token[-2:]) if token.lower().endswith("'s") else (token, "")
        new = LAB_SWAPS.get(stem.lower())
        if new is None:
            out.append(token)
            continue
        if stem.isupper() and len(stem) > 1:
            new = new.upper()
        elif stem[:1].isupper():
            new = new.capitalize()
        out.append(new + suffix)
    return out
    # END SOLUTION


check_swap(swap, seed=params.seed)
print(" ".join(swap("She said the man's son thanked Her .".split())))

# %% [markdown]
# ## Exercise 6: thresholds that equalise true-positive rates
#
# Given scores, true labels and groups, return one threshold per group (a
# dict) such that selecting `score >= threshold` gives every group a
# true-positive rate of at least `target_tpr`, and no more than needed: the
# highest such threshold.


# %%
def group_thresholds(scores, y_true, groups, target_tpr: float) -> dict:
    """{group: threshold} equalising true-positive rates at target_tpr."""
    # BEGIN SOLUTION group_thresholds
    scores, y_true, groups = map(np.asarray, (scores, y_true, groups))
    out = {}
    for g in np.unique(groups):
        positives = np.sort(scores[(groups == g) & (y_true == 1)])[::-1]
        k = max(1, int(np.ceil(target_tpr * len(positives) - 1e-9)))
        out[str(g)] = float(positives[k - 1])
    return out
    # END SOLUTION


check_group_thresholds(group_thresholds, seed=params.seed)

# %% [markdown]
# ## Exercise 7: fit on one split, decide on another
#
# `fit` and `test` are each a tuple `(scores, y_true, groups)`. Fit the
# thresholds where you are allowed to look at labels, and return 0/1
# decisions for the test split.


# %%
def screen(fit: tuple, test: tuple, target_tpr: float) -> np.ndarray:
    """0/1 decisions on the test split, thresholds fitted on the fit split."""
    # BEGIN SOLUTION screen
    thresholds = group_thresholds(*fit, target_tpr)
    scores, _, groups = test
    return np.array([int(s >= thresholds[str(g)]) for s, g in zip(scores, groups, strict=True)])
    # END SOLUTION


check_screen(screen, seed=params.seed)

# %% [markdown]
# ## Apply it: a screening model trained on real call-backs
#
# The résumés of Bertrand and Mullainathan (2004). Train a logistic regression
# on one half, audit it with your functions (and fairlearn's, which must
# agree), post-process it with your thresholds, and compare with fairlearn's
# `ExponentiatedGradient` under the chosen constraint.

# %%
import fairlearn.metrics as fm
from sklearn.linear_model import LogisticRegression

from utils.fairness import remedy_experiment, resume_audit, resume_design, split_audit

audit = resume_audit()
train, test = split_audit(audit, seed=params.seed)
x, y, a = resume_design(train, params.audited_group)
xt, yt, at = resume_design(test, params.audited_group)
xt = xt.reindex(columns=x.columns, fill_value=0.0)
clf = LogisticRegression(class_weight="balanced", max_iter=2000).fit(x, y)
pred = clf.predict(xt)
print(f"demographic parity difference: {demographic_parity_difference(yt, pred, sensitive_features=at):.3f}"
      f" (fairlearn {fm.demographic_parity_difference(yt, pred, sensitive_features=at):.3f})")
print(f"equalized odds difference:     {equalized_odds_difference(yt, pred, sensitive_features=at):.3f}"
      f" (fairlearn {fm.equalized_odds_difference(yt, pred, sensitive_features=at):.3f})")
target = float(np.mean(clf.predict(x)[y == 1]))
post = screen((clf.predict_proba(x)[:, 1], y, a), (clf.predict_proba(xt)[:, 1], yt, at), target)
print(f"after your thresholds, held-out TPR difference: "
      f"{fm.equal_opportunity_difference(yt, post, sensitive_features=at):.3f}")
results = remedy_experiment(audit, seeds=(params.seed,), group=params.audited_group,
                            constraint=params.constraint)
results[results["split"] == "test"].drop(columns=["seed", "split"]).set_index("model").round(3)
