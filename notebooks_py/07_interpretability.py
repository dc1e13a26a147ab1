# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: mystnb,tags,-all
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
# # Opening the course's model: attributions, probes and number units
#
# [Chapter 7](../book/07_interpretability.md) asked what a model's prediction rests on
# and how to tell a faithful explanation from a pretty one. This notebook
# answers both on the course's own model, where the truth is known: in every
# review of the sentiment task only the sentiment word decides the label, and
# in every agreement sentence the verb must agree with the second word. We
# score four attribution methods against the word that carries the label, put
# them through the model-randomisation sanity check, probe the language model
# for the subject's number with a control task, and look for the units that
# carry it.

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
# Change these to explore; instructors can set them with papermill.

# %% tags=["parameters"]
seed: int = 0  # seed of the classifier, the test reviews, the randomised model and the probes (integer, at least 0)
n_train: int = 500  # labelled reviews the classifier is fine-tuned on (integer, 50 to 5000)
pooling: str = "mean"  # sentence summary under the classifier's head: "mean" of all states or "last"
n_test: int = 300  # test reviews whose attributions are scored (integer, 20 to 2000)
ig_steps: int = 50  # points on the path of integrated gradients, both ends included (integer, 2 to 1000)
n_seeds: int = 3  # seeds of the sanity check, from seed on: trained and randomised classifiers each (integer, 1 to 10)
n_items: int = 400  # agreement sentences for ranking units and for testing them, each (integer, 100 to 2000)
max_units: int = 16  # most units ablated at once (integer, 1 to 128)
n_random: int = 5  # random unit sets per count, for the baseline curve (integer, 1 to 20)

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, validate

params = validate(
    seed=Integer(seed, min=0),
    n_train=Integer(n_train, min=50, max=5000),
    pooling=OneOf(pooling, ["mean", "last"]),
    n_test=Integer(n_test, min=20, max=2000),
    ig_steps=Integer(ig_steps, min=2, max=1000),
    n_seeds=Integer(n_seeds, min=1, max=10),
    n_items=Integer(n_items, min=100, max=2000),
    max_units=Integer(max_units, min=1, max=128),
    n_random=Integer(n_random, min=1, max=20),
)

# %% [markdown]
# ## The classifier to explain
#
# The classifier of [Chapter 5](../book/05_adapt_and_evaluate.md): the pretrained LSTM, fine-tuned with a linear head
# on the mean of its hidden states (`pooling`). It is trained once and cached,
# like the pretrained model. Its test reviews use sentiment words it never saw
# with a label. With `pooling = "last"` the head reads only the state at the
# final "." and every word reaches it through that one state; try it and watch
# the methods that replace a word with a baseline lose track of the sentiment
# word more often.

# %%
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from utils.adapt_and_evaluate import AdaptConfig, predict_proba
from utils.data import UNK, agreement_items, sentiment_task
from utils.interpretability import trained_classifier
from utils.lm import pretrained_model
from utils.notebook import OKABE_ITO, glue, set_seed, use_course_style

use_course_style()
set_seed(params.seed)
pretrained = pretrained_model(progress=False)
vocab = pretrained.vocab
adapt_config = AdaptConfig(pooling=params.pooling, epochs=10, seed=params.seed)
classifier = trained_classifier(pretrained, adapt_config, n_train=params.n_train).model
_, test = sentiment_task(replace(pretrained.config.corpus, seed=params.seed), n_train=1,
                         n_test=params.n_test)
tokens, lengths, labels = test.tokens, test.lengths, test.labels  # (n, seq), (n,), (n,)
accuracy = float((predict_proba(classifier, tokens, lengths).argmax(1) == labels).double().mean())
print(f"test accuracy of the classifier on {len(labels)} reviews: {accuracy:.1%}")

# %% [markdown]
# ## Four attributions, one call shape
#
# Each method takes the embeddings of the tokens and explains one output, the
# logit of the review's true class. `EmbeddingForward` makes the classifier a
# function of its embeddings (it swaps the embedding layer's output for the
# embeddings we pass), so every method can move, scale or replace them. The
# baseline $x'$ of gradient × input, integrated gradients and occlusion is the
# all-zero embedding, captum's default.

# %%
from utils.interpretability import (
    EmbeddingForward,
    Gradient,
    GradientXInput,
    IntegratedGradients,
    Occlusion,
    token_scores,
)

forward = EmbeddingForward(classifier, classifier.encoder.embedding, tokens, lengths)
embeddings = forward.embed()  # (n, seq, emb_size)


def methods_for(model):
    """The four methods, each explaining ``model`` as a function of its embeddings."""
    f = EmbeddingForward(model, model.encoder.embedding, tokens, lengths)
    return {
        "gradient": (Gradient(f), {}),
        "gradient × input": (GradientXInput(f), {}),
        "integrated gradients": (IntegratedGradients(f), {"n_steps": params.ig_steps}),
        "occlusion": (Occlusion(f), {}),
    }


# %% [markdown]
# Each method returns one attribution vector per token, the size of an
# embedding. A token's score is the sum of its vector's entries
# (`token_scores`), which is what completeness is about; the plain gradient
# has no sign to sum, so its score is the vector's length instead.

# %%
def scores_of(methods):
    """Token scores (n, seq) per method; the gradient's is its length per token."""
    out = {}
    for name, (method, kwargs) in methods.items():
        attribution = method.attribute(embeddings, target=labels, **kwargs)
        out[name] = attribution.norm(dim=-1) if name == "gradient" else token_scores(attribution)
    return out


methods = methods_for(classifier)
scores = scores_of(methods)

# %% [markdown]
# Four reviews, each word shaded by its score under each method (orange for
# the true class, blue against it; each row scaled by its largest score).


# %% mystnb={"figure": {"caption": "Attributions for four test reviews: each word is shaded by its score for the review's true class under each method, orange supporting it and blue opposing it, each row scaled to its largest score.", "name": "fig-interp-highlight"}}
def highlight(ax, words, values, y):
    """Draw the words on one line, each boxed in a colour scaled by its value."""
    scale = max(float(np.abs(values).max()), 1e-12)
    x = 0.0
    for word, value in zip(words, values, strict=True):
        colour = OKABE_ITO["orange"] if value > 0 else OKABE_ITO["sky"]
        ax.text(x, y, word, fontsize=10, va="center", family="monospace",
                bbox={"facecolor": colour, "alpha": min(1.0, abs(value) / scale),
                      "edgecolor": "none", "pad": 2})
        x += 0.012 * (len(word) + 2)


examples = [0, 1, 2, 3]
fig, ax = plt.subplots(figsize=(9, 0.45 * len(examples) * (len(methods) + 1)))
row = 0
for i in examples:
    words = test.texts[i]
    ax.text(0, -row, f"review {i} (label {int(labels[i])})", fontsize=9, weight="bold")
    row += 1
    for name, s in scores.items():
        ax.text(-0.01, -row, name, fontsize=8, ha="right", va="center")
        highlight(ax, words, s[i, 1: lengths[i]].detach().numpy(), -row)
        row += 1
ax.set_xlim(-0.25, 0.6)
ax.set_ylim(-row, 1)
ax.axis("off")
plt.show()

# %% [markdown]
# ## Scored against the word that carries the label
#
# The share of test reviews whose highest-scoring word is the sentiment word.
# A method that picked a word at random would score the mean of
# $1/\text{words}$ over the reviews.
#
# Then the two sanity checks of [Adebayo et al. (2018)](../book/references.md). Model
# randomisation: the same methods on a copy of the classifier whose LSTM and
# head are drawn afresh (the embeddings, the inputs themselves, are kept).
# Label randomisation: the same classifier fine-tuned on the same reviews with
# their labels *permuted*, trained until it has memorised them. An explanation
# of what the model learnt should change in both.
#
# The permutation keeps every label's count, and it is spread evenly over the
# sentiment words (each word keeps the overall share of positive labels, give
# or take one review), so the new labels say nothing about sentiment, not even
# by the luck of the draw. Each review is kept once: a review drawn twice could
# get two different labels, and then no model could fit both.

# %%
from utils.interpretability import chance_level, randomised, sentiment_positions, training_reviews


def label_randomised(seed):
    """The classifier trained on permuted labels until it fits 99 % of them (cached)."""
    # A larger step for the encoder than the trained model's: memorising takes many epochs.
    config = replace(adapt_config, seed=seed, encoder_lr=2e-3)
    return trained_classifier(pretrained, config, n_train=params.n_train, labels="permuted")


def held_out_accuracy(model):
    """Share of the test reviews (clean labels, unseen sentiment words) the model gets right."""
    return float((predict_proba(model, tokens, lengths).argmax(1) == labels).double().mean())


shuffled_run = label_randomised(params.seed)
permuted, true_labels = training_reviews(pretrained, shuffled_run.config)
print(f"{len(permuted)} distinct training reviews; label counts (negative, positive): "
      f"true {true_labels.bincount().tolist()}, permuted {permuted.labels.bincount().tolist()}")
print(f"permuted labels that match the sentiment: "
      f"{float((permuted.labels == true_labels).double().mean()):.1%}")
print(f"training accuracy after {shuffled_run.record.measured['epochs']} epochs: "
      f"{shuffled_run.record.measured['train_accuracy']:.1%}; "
      f"held-out accuracy: {held_out_accuracy(shuffled_run.model):.1%}")
print(f"top token picked at random (chance): {chance_level(lengths):.1%}")

# %% [markdown]
# One seed is one draw of the reviews, the head and the permutation, so we run
# the whole check for `n_seeds` seeds from `seed` on: for each, a trained
# classifier, its model-randomised copy and a label-randomised classifier.
# First the classifiers themselves: how often the permuted labels match the
# sentiment, how well each model fits its training labels, and its accuracy
# on the test reviews.

# %%
seeds = range(params.seed, params.seed + params.n_seeds)
runs = {s: (trained_classifier(pretrained, replace(adapt_config, seed=s), n_train=params.n_train),
            label_randomised(s)) for s in seeds}
fits = pd.DataFrame([
    {"seed": s,
     **{f"{name}: {key}": value for name, run in (("trained", trained_run),
                                                  ("labels randomised", shuffled))
        for key, value in (("training accuracy", run.record.measured["train_accuracy"]),
                           ("held-out accuracy", held_out_accuracy(run.model)))},
     "labels randomised: epochs": shuffled.record.measured["epochs"],
     "permuted labels matching sentiment": shuffled.record.measured["agreement"]}
    for s, (trained_run, shuffled) in runs.items()]).set_index("seed")
shuffled_fit = fits["labels randomised: training accuracy"]
shuffled_test = fits["labels randomised: held-out accuracy"]
# Chapter 7 states these, in per cent.
glue("shuffled_fit_low", 100 * float(shuffled_fit.min()))
glue("shuffled_fit_high", 100 * float(shuffled_fit.max()))
glue("shuffled_test_low", 100 * float(shuffled_test.min()))
glue("shuffled_test_high", 100 * float(shuffled_test.max()))
glue("shuffled_test_mean", 100 * float(shuffled_test.mean()))
glue("trained_test_mean", 100 * float(fits["trained: held-out accuracy"].mean()))
fits.style.format("{:.1%}").format("{:d}", subset=["labels randomised: epochs"])

# %% [markdown]
# For each seed, the four methods on the three models, scored against the
# sentiment word, and the rank correlation of each randomised model's token
# scores with the trained model's (the trained model of `seed` reuses the
# scores computed above).

# %%
from utils.interpretability import rank_correlation, top_token_accuracy

positions = sentiment_positions(lengths)
sanity_rows = []
for s, (trained_run, shuffled) in runs.items():
    models = {"trained": trained_run.model,
              "model randomised": randomised(trained_run.model, ("encoder.lstm", "head"), seed=s),
              "labels randomised": shuffled.model}
    seed_scores = {name: scores if (name, s) == ("trained", params.seed)
                   else scores_of(methods_for(model)) for name, model in models.items()}
    for method in methods:
        row = {"seed": s, "method": method}
        for name, s_scores in seed_scores.items():
            row[(name, "top token")] = top_token_accuracy(s_scores[method], lengths, positions)
            if name != "trained":
                row[(name, "rank corr.")] = rank_correlation(seed_scores["trained"][method],
                                                             s_scores[method], lengths)
        sanity_rows.append(row)

# %% [markdown]
# The sanity check over the seeds: for each method, the share of reviews whose
# top-scoring word is the sentiment word, on the trained classifier and on the
# two randomised ones, and the rank correlation between each review's token
# scores on a randomised model and on the trained one; each cell is the mean
# over seeds, with the lowest and highest seed in brackets.

# %%
per_seed = pd.DataFrame(sanity_rows).set_index(["seed", "method"])
per_seed.columns = pd.MultiIndex.from_tuples(per_seed.columns)
by_method = per_seed.groupby(level="method", sort=False)
mean, low, high = by_method.mean(), by_method.min(), by_method.max()
# Chapter 7 states these (top-token shares in per cent).
randomised_top, shuffled_top = ("model randomised", "top token"), ("labels randomised", "top token")
glue("chance_top_token", 100 * chance_level(lengths))
glue("model_randomised_top_low", 100 * float(low[randomised_top].min()))
glue("model_randomised_top_high", 100 * float(high[randomised_top].max()))
glue("shuffled_gxi_top", 100 * float(mean.loc["gradient × input", shuffled_top]))
glue("shuffled_gradient_top", 100 * float(mean.loc["gradient", shuffled_top]))
glue("shuffled_gradient_rank",
     float(mean.loc["gradient", ("labels randomised", "rank corr.")]))
glue("trained_ig_top_low", 100 * float(low.loc["integrated gradients", ("trained", "top token")]))
glue("trained_ig_top_high",
     100 * float(high.loc["integrated gradients", ("trained", "top token")]))


def mean_and_range(column):
    """'mean (min–max)' of one column over the seeds, as per cent or as a correlation."""
    f = "{:.0%}" if column[1] == "top token" else "{:+.2f}"
    return [f"{f.format(m)} ({f.format(lo)}–{f.format(hi)})"
            for m, lo, hi in zip(mean[column], low[column], high[column], strict=True)]


pd.DataFrame({column: mean_and_range(column) for column in per_seed.columns}, index=mean.index)

# %% [markdown]
# How to read the tables above (mean, lowest to highest seed; the chance level
# for the top token is printed with them). The label-randomised classifiers fit
# nearly all of their permuted training labels, and on the test reviews score
# near 50 %, against about 100 % for the trained classifiers. That is chance on
# average, but a single seed can stray further from 50 % than the sampling noise
# of 300 reviews (about 6 points either way) would explain: the label memorised
# for "the film was good" carries over to the test review "the film was great",
# and the permutation makes such carry-overs go either way. So the
# label-randomised classifier has no sentiment to find.
#
# Read the attribution table row by row. A method earns trust when it points at
# the sentiment word on the trained model *and* stops doing so on the randomised
# ones; a high rank correlation in either check says that the method's ranking
# of the words did not need what the model learnt.
#
# - Model randomisation: with the default run every method falls to near chance,
#   with mean rank correlations near zero, and the spread over seeds is wide, so
#   one seed alone would say little.
# - Label randomisation separates the methods. Integrated gradients and
#   occlusion fall far, with rank correlations near zero; the plain gradient
#   keeps picking the sentiment word in well over a third of the reviews, and its
#   ranking of the words stays correlated with the trained model's: it fails the
#   label-randomisation check. The chapter page quotes this run's numbers.
#
# A model that memorises its labels still reads the sentiment word, one of the
# three words in which the reviews differ, so some credit above chance is not a
# failure by itself; a ranking that stays the same when the labels lose all
# meaning is. These numbers come from three seeds and 300 reviews; change
# `n_seeds` or `seed` to see how far they move.
#
# The trained-model column spreads over the seeds too: with an all-zero
# baseline, integrated gradients and occlusion sometimes credit another word,
# most often "was", because replacing it with zeros pushes the LSTM off the
# inputs it was trained on and changes how it reads the sentiment word that
# follows.
#
# ## Completeness: how many steps does integrated gradients need?
#
# Integrated gradients' attributions add up to $F(x) - F(x')$ when the
# integral is exact; a sum over $m$ points only approximates it. The
# completeness error is $|\sum_i \mathrm{IG}_i - (F(x) - F(x'))| / |F(x) - F(x')|$,
# averaged over 40 reviews.

# %% [markdown]
# ### The path sum, written out
#
# Integrated gradients walks from the baseline $x'$ to the input $x$ along the
# straight line $x' + \alpha (x - x')$, takes the gradient of the explained
# output at $m$ evenly spaced points $\alpha_k = k / (m - 1)$, averages them
# with the trapezoid rule (the two ends count half), and multiplies by
# $x - x'$:
#
# $$\mathrm{IG}(x) = (x - x') \odot \sum_{k=0}^{m-1} w_k \, \nabla F\big(x' + \alpha_k (x - x')\big), \qquad w_k = \frac{1}{m-1} \text{ (half at both ends)}.$$
#
# Each review's rows are independent, so one backward pass of the summed
# outputs gives every review's gradient at once. Here it is for the first 40
# test reviews, checked against the library's `IntegratedGradients` with the
# same number of points, `ig_steps`.

# %%
few = slice(0, 40)
few_forward = EmbeddingForward(classifier, classifier.encoder.embedding, tokens[few],
                               lengths[few])
ig = IntegratedGradients(few_forward)
x_few = embeddings[few]  # (40, seq, emb_size)


def integrated_gradients_by_hand(score, x, target, m):
    """(x - x') times the trapezoid mean of the gradient on the path from x' = 0 to x."""
    baseline = torch.zeros_like(x)
    total = torch.zeros_like(x)
    for k, alpha in enumerate(torch.linspace(0.0, 1.0, m)):
        point = (baseline + alpha * (x - baseline)).detach().requires_grad_()
        (gradient,) = torch.autograd.grad(score(point, target).sum(), point)
        total += gradient * (0.5 if k in (0, m - 1) else 1.0) / (m - 1)
    return (x - baseline) * total


ours_by_hand = integrated_gradients_by_hand(ig.score, x_few, labels[few], params.ig_steps)
library = ig.attribute(x_few, target=labels[few], n_steps=params.ig_steps)
assert torch.allclose(ours_by_hand, library, atol=1e-5)

# %% [markdown]
# The completeness error for several numbers of points on the path:

# %% mystnb={"figure": {"caption": "Integrated gradients' completeness error (mean over 40 reviews) against the number of points on the path, on log scales; the dotted line marks 5 %.", "name": "fig-interp-completeness"}}
from utils.interpretability import completeness_error

f_x = ig.score(x_few, labels[few]).detach()
f_0 = ig.score(torch.zeros_like(x_few), labels[few]).detach()
steps = [2, 5, 10, 20, 50, 100, 200]
errors = [float(completeness_error(ig.attribute(x_few, target=labels[few], n_steps=m),
                                   f_x, f_0).mean()) for m in steps]
enough = next((m for m, e in zip(steps, errors, strict=True) if e < 0.05), None)
print(f"fewest points tried with an error under 5 %: {enough}")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.loglog(steps, errors, marker="o")
ax.axhline(0.05, linestyle=":", color="grey")
ax.set_xlabel("points on the path (n_steps)")
ax.set_ylabel("completeness error")
plt.show()

# %%
pd.DataFrame({"completeness error": errors},
             index=pd.Index(steps, name="points on the path")).T.style.format("{:.2%}")

# %% [markdown]
# The same computation in captum: `LayerIntegratedGradients` on the
# classifier's embedding layer, here with a baseline sentence of `<unk>`
# tokens. captum's trapezoid rule gives its $m$ points weights that add up to
# $1 - 1/m$ rather than 1, so we compare after that factor.

# %%
from captum.attr import LayerIntegratedGradients

device = embeddings.device  # the classifier's (captum needs its inputs there)
unk = torch.full_like(tokens[few], vocab.stoi[UNK]).to(device)
m = params.ig_steps
theirs = LayerIntegratedGradients(classifier, classifier.encoder.embedding).attribute(
    tokens[few].to(device), baselines=unk, target=labels[few].to(device),
    additional_forward_args=(lengths[few].to(device),), n_steps=m, method="riemann_trapezoid")
ours = ig.attribute(x_few, target=labels[few], baselines=few_forward.embed(unk), n_steps=m)
print(f"largest |ours × (m-1)/m - captum| = {float((ours * (m - 1) / m - theirs).abs().max()):.1e}"
      f" (attributions up to {float(ours.abs().max()):.2f})")

# %% [markdown]
# ## Inside the language model: where is the subject's number?
#
# Back to the pretrained language model and the agreement sentences of
# [Chapter 4](../book/04_lstm_language_model.md) ("the keys behind the old barn ..." must continue with "are").
# At each position we train a logistic-regression probe on the hidden state to
# predict the subject's number, and the same probe on a control task
# ([Hewitt and Liang, 2019](../book/references.md)) in which every subject noun gets a random
# number. Selectivity is the difference between the two held-out accuracies.
# We do it for the trained model and for the same network with random weights.

# %%
from utils.interpretability import ablation_curve, agreement_states, probe_by_position, rank_units

rank_items = agreement_items(replace(pretrained.config.corpus, seed=params.seed + 1),
                             n=params.n_items)
test_items = agreement_items(replace(pretrained.config.corpus, seed=params.seed + 2),
                             n=params.n_items)
lm = pretrained.model
random_lm = randomised(lm, ("embedding", "lstm"), seed=params.seed)
where = [-1, 0, 1, 2, 3, "verb"]
probes = {name: probe_by_position(agreement_states(model, vocab, rank_items), rank_items, where,
                                  seed=params.seed)
          for name, model in (("trained", lm), ("random", random_lm))}
labels_of = {-1: "the", 0: "subject", "verb": "verb"}
probe_table = pd.DataFrame({
    (name, column): {labels_of.get(p, f"subject+{p}"): getattr(result[p], field) for p in where}
    for name, result in probes.items()
    for column, field in (("number", "accuracy"), ("control task", "control_accuracy"),
                          ("selectivity", "selectivity"))}).rename_axis("position")
probe_table.style.format("{:.1%}").format("{:+.2f}", subset=[c for c in probe_table
                                                            if c[1] == "selectivity"])

# %% mystnb={"figure": {"caption": "Held-out accuracy of a linear probe for the subject's number (solid) and of the same probe on the control task (dashed) at each position of the agreement sentences, for the pretrained language model and for the same network with random weights.", "name": "fig-interp-probes"}}
fig, ax = plt.subplots(figsize=(7, 3.5))
names = ["the", "subject", "+1", "+2", "+3", "verb"]
for (name, result), marker in zip(probes.items(), ("o", "s"), strict=True):
    (line,) = ax.plot(names, [result[p].accuracy for p in where], marker=marker,
                      linestyle="-", label=f"{name}: number")
    ax.plot(names, [result[p].control_accuracy for p in where], marker=marker, linestyle="--",
            color=line.get_color(), alpha=0.6, label=f"{name}: control task")
ax.set_xlabel("position (tokens after the subject)")
ax.set_ylabel("held-out accuracy")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# At "the", before the subject, every sentence has the same state, so both
# probes can only guess the more frequent training label; how that guess fares
# on the held-out half is luck of the split. Right after the subject both
# networks let a probe read its number, and its
# identity too: the control task is as easy. By the verb, the trained model
# still holds the number but has dropped most of the identity (high accuracy,
# lower control accuracy, so high selectivity); in the random network the
# number probe does no better than the control task.
#
# ## The units that carry number
#
# Rank the LSTM's units by the correlation of their cell state, where the verb is
# predicted, with the subject's number (on one set of sentences); then ablate
# the top $k$, holding them at zero in both $h$ and $c$, and measure agreement
# accuracy on another set. The baseline ablates $k$ random units.

# %%
states = agreement_states(lm, vocab, rank_items)
order, corr = rank_units(states, rank_items)
print("top units:", ", ".join(f"{u} (r = {corr[u]:+.2f})" for u in order[:5]))
counts = sorted({1, 2, 4, 8, params.max_units} & set(range(1, params.max_units + 1)))
curve = ablation_curve(lm, vocab, test_items, order, counts, n_random=params.n_random,
                       seed=params.seed)
pd.DataFrame({"top-ranked units": curve["top"], "random units, mean": curve["random"].mean(0),
              "random, worst": curve["random"].min(0), "random, best": curve["random"].max(0)},
             index=pd.Index(counts, name="units ablated")).style.format("{:.1%}")

# %% mystnb={"figure": {"caption": "Agreement accuracy with the k units whose cell state best tracks the subject's number ablated, against k random units (mean over random sets, shaded from the worst to the best set).", "name": "fig-interp-ablation"}}
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(counts, curve["top"], marker="o", label="top-ranked units")
(line,) = ax.plot(counts, curve["random"].mean(0), marker="s", label="random units")
ax.fill_between(counts, curve["random"].min(0), curve["random"].max(0), alpha=0.2,
                color=line.get_color())
ax.axhline(0.5, linestyle=":", color="grey")
ax.set_xscale("log", base=2)
ax.set_xticks(counts, [str(k) for k in counts])
ax.set_xlabel("units ablated")
ax.set_ylabel("agreement accuracy")
ax.legend()
plt.show()

# %% [markdown]
# Finally, the top unit's cell state across one singular and one plural
# sentence: it takes its value at the subject and holds it past the
# distractor noun.

# %% mystnb={"figure": {"caption": "Cell state of the unit most correlated with the subject's number, at every token of a singular and a plural agreement sentence.", "name": "fig-interp-unit-heatmap"}}
unit = int(order[0])
pair = [next(it for it in test_items if it.correct == form and it.distance >= 6)
        for form in ("is", "are")]
pair_states = agreement_states(lm, vocab, pair)
width = max(len(it.prefix) for it in pair) + 1
grid = np.full((2, width), np.nan)
for r, (_, c) in enumerate(pair_states):
    grid[r, : len(c)] = c[:, unit]
fig, ax = plt.subplots(figsize=(9, 1.8))
image = ax.imshow(grid, cmap="RdBu_r", vmin=-np.nanmax(np.abs(grid)), vmax=np.nanmax(np.abs(grid)),
                  aspect="auto")
for r, it in enumerate(pair):
    for t, word in enumerate(["<eos>", *it.prefix]):
        dark = abs(grid[r, t]) > 0.6 * np.nanmax(np.abs(grid))
        ax.text(t, r, word, ha="center", va="center", fontsize=8,
                color="white" if dark else "black")
ax.set_yticks([0, 1], [f"verb: {it.correct}" for it in pair])
ax.set_xticks([])
fig.colorbar(image, ax=ax, label=f"cell state of unit {unit}")
plt.show()

# %% [markdown]
# A single unit whose ablation costs this much is what
# [Lakretz et al. (2019)](../book/references.md) called a number unit. The chapter discusses
# what the ablation does and does not show: it says the network *uses* the
# unit for agreement, which no probe can say, but not how the rest of the
# network reads it.
