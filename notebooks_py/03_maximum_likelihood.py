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
# # Maximum likelihood on a language whose truth we know
#
# [Chapter 3](../book/03_maximum_likelihood.md) derived the loss every language model
# in this course minimises, the negative log-likelihood, and showed that for
# an n-gram model its minimiser is a table of relative frequencies. This
# notebook runs that on the course's synthetic language
# ([the corpus datasheet](../book/corpus_datasheet.md)), where the true next-word probabilities are known
# exactly, so every estimate can be compared with the truth. We will watch
# the counts converge, pay for smoothing, meet the entropy floor, compute the
# cross-entropy three ways, check its gradient, and measure calibration.

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
# Change these to explore; instructors can set them with papermill.

# %% tags=["parameters"]
seed: int = 0  # seed of the generated corpus (an integer, at least 0)
max_sentences: int = 40_000  # sentences generated; 90 % are training data (integer, 2000 to 200000)
n_sizes: int = 7  # training-set sizes, log-spaced from 100 sentences to all, for convergence (2 to 12)
n_sentences: int = 5_000  # training sentences of the smoothing and calibration sections (100 to 180000)
order: int = 3  # n of the n-gram model those sections study (integer, 1 to 5)
k: float = 0.1  # add-k constant of the model whose calibration is measured (number, 1e-4 to 10)
n_bins: int = 15  # equal-width confidence bins of the ECE and the reliability diagram (2 to 50)
prefix: str = "the cat sat on the"  # whose next word to estimate: one of PREFIXES in the next cell
temperature: float = 2.0  # the figure shows temperatures 1/temperature, 1, temperature (number, 1 to 10)

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, ParameterError, Real, validate

PREFIXES = ["the cat sat on the", "the", "the film was", "the keys near the", "the code is"]
params = validate(
    seed=Integer(seed, min=0),
    max_sentences=Integer(max_sentences, min=2000, max=200_000),
    n_sizes=Integer(n_sizes, min=2, max=12),
    n_sentences=Integer(n_sentences, min=100, max=180_000),
    order=Integer(order, min=1, max=5),
    k=Real(k, min=1e-4, max=10.0),
    n_bins=Integer(n_bins, min=2, max=50),
    prefix=OneOf(prefix, PREFIXES),
    temperature=Real(temperature, min=1.0, max=10.0),
)
if params.n_sentences > 0.9 * params.max_sentences:
    raise ParameterError(f"parameter 'n_sentences' must be at most 90 % of max_sentences "
                         f"({int(0.9 * params.max_sentences)}); got {params.n_sentences!r}")

# %% [markdown]
# ## The corpus and its truth
#
# One corpus, drawn once; smaller training sets are its first sentences, so
# each larger set contains the smaller ones. `SyntheticLanguage` gives the
# exact probability of every next word after any prefix.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from utils.data import CorpusConfig, SyntheticLanguage, generate_corpus
from utils.lm import NGramModel, total_variation
from utils.notebook import plain_log_ticks, use_course_style

use_course_style()
corpus = generate_corpus(CorpusConfig(seed=params.seed, n_sentences=params.max_sentences))
language = SyntheticLanguage(corpus.config)
vocab = language.vocab
print(f"{len(corpus.train)} training, {len(corpus.valid)} validation, {len(corpus.test)} test "
      f"sentences; {corpus.n_tokens():,} training tokens; vocabulary of {len(vocab)} words")
truth = language.next_word_distribution(params.prefix.split())
for word, p in sorted(truth.items(), key=lambda item: -item[1])[:6]:
    print(f'P({word!r:9} | "{params.prefix}") = {p:.4f}')

# %% [markdown]
# ## Counting converges to the truth
#
# The maximum-likelihood estimate of $P(w \mid h)$ ([Chapter 3](../book/03_maximum_likelihood.md)) is
# $c(h, w) / c(h)$. If the history $h$ is the *whole* prefix, here padded
# with `<eos>` so it must start a sentence, the estimate targets exactly the
# true distribution. We count with an n-gram model long enough to hold every
# prefix, and also with a model of order `order`, which sees only the last
# `order - 1` words.

# %%
sizes = np.unique(np.geomspace(100, len(corpus.train), params.n_sizes).astype(int)).tolist()
full_order = max(len(p.split()) for p in PREFIXES) + 2  # the whole prefix plus <eos>
distance = {p: [] for p in PREFIXES}  # total variation to the truth, per training size
short_distance = []  # the same for the chosen prefix under the order-`order` model
estimates = {}  # the full-history MLE after the chosen prefix, per training size
for size in sizes:
    full = NGramModel(full_order).fit(corpus.train[:size], vocab)
    short = NGramModel(params.order).fit(corpus.train[:size], vocab)
    for p in PREFIXES:
        estimate = full.next_word_distribution(p.split())
        distance[p].append(total_variation(estimate, language.next_word_distribution(p.split())))
    estimates[size] = full.next_word_distribution(params.prefix.split())
    short_distance.append(total_variation(short.next_word_distribution(params.prefix.split()),
                                          truth))
seen = {p: sum(full.counts(p.split()).values()) for p in PREFIXES}
print("times each prefix starts a sentence in the largest training set:", seen)

# %% [markdown]
# On log axes the distance falls along a straight line of slope about
# $-1/2$: the error of a relative frequency shrinks like $1/\sqrt{c(h)}$.
# Prefixes seen less often, or followed by many possible words, lag behind:
# what matters is how often the *history* was seen, not the corpus size.
# The short-history model levels off instead: it converges, but to the
# average over every sentence that ends in its last words, not to the truth
# after the whole prefix.

# %% mystnb={"figure": {"caption": "Total-variation distance between the count estimate of the next-word distribution and the true one, against the number of training sentences, for five prefixes (full history) and for the chosen prefix under a short-history n-gram.", "name": "fig-mle-convergence"}}
fig, ax = plt.subplots(figsize=(7, 4.2))
for p in PREFIXES:
    ax.plot(sizes, distance[p], marker="o", label=f'"{p}"')
ax.plot(sizes, short_distance, marker="x", color="black", linestyle=":",
        label=f'"{params.prefix}", {params.order}-gram')
reference = distance[params.prefix][-1] * np.sqrt(sizes[-1] / np.array(sizes))
ax.plot(sizes, reference, color="grey", linewidth=1, linestyle="--", label=r"$\propto 1/\sqrt{N}$")
ax.set_xscale("log")
ax.set_yscale("log")
plain_log_ticks(ax.yaxis)
ax.set_xlabel("training sentences N")
ax.set_ylabel("total variation to the truth")
ax.set_title("Maximum-likelihood estimates converge")
ax.legend(fontsize=8, loc="lower left")
plt.show()
for p in PREFIXES:
    print(f'"{p}": distance {distance[p][0]:.3f} with {sizes[0]} sentences, '
          f"{distance[p][-1]:.4f} with {sizes[-1]}")
print(f"{params.order}-gram after \"{params.prefix}\": {short_distance[-1]:.4f} "
      f"with {sizes[-1]} sentences")

# %% [markdown]
# ## Unseen events, and what smoothing costs
#
# Now fix the training set at `n_sentences` and score held-out sentences.
# The unsmoothed estimate gives probability zero to every (history, word)
# pair it never saw; count how many validation tokens are such pairs.

# %%
train = corpus.train[: params.n_sentences]
models = {n: NGramModel(n).fit(train, vocab) for n in sorted({1, 2, params.order})}
mle = models[params.order]
unseen = sum(mle.prob(w, s[:i]) == 0.0 for s in corpus.valid for i, w in enumerate(s))
print(f"{params.order}-gram MLE on {len(train)} sentences: {unseen} of "
      f"{corpus.n_tokens('valid')} validation tokens have probability 0, "
      f"so its validation perplexity is {mle.perplexity(corpus.valid)}")

# %% [markdown]
# Add-$k$ smoothing, $(c(h, w) + k) / (c(h) + kV)$, removes the zeros. As $k \to 0$ each
# unseen event costs $-\log$ of an ever smaller probability, so the curve
# creeps up at the left; too much $k$ flattens every distribution towards the
# uniform one, which costs far more. The best $k$, printed below the figure,
# is chosen on validation data.

# %% mystnb={"figure": {"caption": "Validation perplexity of add-k smoothed n-gram models against k, with the uniform model and the true language for reference; the unsmoothed models (k = 0) have infinite perplexity.", "name": "fig-mle-smoothing"}}
ks = np.geomspace(1e-4, 10, 11)
curves = {n: [m.with_k(kk).perplexity(corpus.valid) for kk in ks] for n, m in models.items()}
truth_ppl = math.exp(-sum(language.log_prob(s) for s in corpus.valid) / corpus.n_tokens("valid"))

fig, ax = plt.subplots()
for n, curve in curves.items():
    ax.plot(ks, curve, marker="o", label=f"{n}-gram, add-k")
ax.axhline(len(vocab), color="grey", linestyle=":", label=f"uniform ({len(vocab)} words)")
ax.axhline(truth_ppl, color="black", linestyle="--", label="the true language")
ax.set_xscale("log")
ax.set_yscale("log")
plain_log_ticks(ax.yaxis)
ax.set_xlabel("smoothing constant k")
ax.set_ylabel("validation perplexity")
ax.set_title(f"Smoothing on {len(train)} training sentences")
ax.legend(fontsize=8)
plt.show()
best = {n: (float(ks[int(np.argmin(c))]), min(c)) for n, c in curves.items()}
for n, (best_k, ppl) in best.items():
    print(f"{n}-gram: best k = {best_k:.3g}, perplexity {ppl:.2f}; "
          f"k = {ks[-1]:g} gives {curves[n][-1]:.2f}")

# %% [markdown]
# ## The entropy rate is the floor
#
# Cross-entropy is the source's entropy plus a KL divergence that is never
# negative ([Chapter 3](../book/03_maximum_likelihood.md)), so no model's expected cross-entropy on fresh text
# can go below the entropy of the source (on its own training text a model
# can, by memorising it). For this language the floor is exact: the entropy
# rate per token, in nats. The true model's perplexity on the validation
# sentences sits near $e^{H}$; every estimated model sits above it.

# %%
entropy = language.entropy_rate()
print(f"entropy rate H = {entropy:.4f} nats = {entropy / math.log(2):.4f} bits per token; "
      f"e^H = {math.exp(entropy):.3f}")
print(f"{'model':<34}{'perplexity':>11}{'bits/token':>12}")
rows = [("uniform over the vocabulary", float(len(vocab))), ("true language", truth_ppl)]
rows += [(f"{n}-gram, add-{bk:.3g}", ppl) for n, (bk, ppl) in best.items()]
for name, ppl in rows:
    print(f"{name:<34}{ppl:>11.3f}{math.log2(ppl):>12.3f}")

# %% [markdown]
# ## Cross-entropy three ways
#
# Turn the order-`order` model with add-`k` smoothing into what a neural
# network would output: a row of logits per validation token (here simply
# $\log p$), shape `(tokens, vocab)`, and the index of the word that came.

# %%
word_to_id = language.word_to_id


def prediction_table(model: NGramModel, sentences: list[list[str]]
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Each token's predicted distribution (tokens, vocab) and its target index (tokens,)."""
    rows, targets, cache = [], [], {}
    for s in sentences:
        for i, word in enumerate(s):
            key = model.history_key(s[:i])
            if key not in cache:  # a history's row is the same every time it occurs
                d = model.next_word_distribution(s[:i])
                cache[key] = [d[w] for w in vocab]
            rows.append(cache[key])
            targets.append(word_to_id[word])
    return torch.tensor(rows, dtype=torch.float64), torch.tensor(targets)


smoothed = mle.with_k(params.k)
probs, targets = prediction_table(smoothed, corpus.valid)  # (tokens, vocab), (tokens,)
logits = probs.log()
print("logits:", tuple(logits.shape), " targets:", tuple(targets.shape))

# %% [markdown]
# First by the formula $J = -\frac{1}{N} \sum_i \log p(y^*_i \mid x_i)$ with the softmax written out; then with
# PyTorch's `cross_entropy`; then with `log_softmax` and picking each
# target's entry with `gather`. All three must agree, and equal the log of the
# perplexity `utils.ngram` computes on the same sentences.

# %%
by_hand = -torch.mean(torch.log(
    torch.exp(logits[torch.arange(len(targets)), targets]) / torch.exp(logits).sum(dim=1)))
library = torch.nn.functional.cross_entropy(logits, targets)
gathered = -torch.log_softmax(logits, dim=1).gather(1, targets[:, None]).mean()  # (tokens, 1)
from_ngram = math.log(smoothed.perplexity(corpus.valid))
for name, value in [("by hand", by_hand), ("F.cross_entropy", library),
                    ("log_softmax + gather", gathered), ("log perplexity", from_ngram)]:
    print(f"{name:<22}{float(value):.10f} nats")
spread = max(float(v) for v in (by_hand, library, gathered, from_ngram)) - min(
    float(v) for v in (by_hand, library, gathered, from_ngram))
print(f"largest disagreement: {spread:.2e}")

# %% [markdown]
# ## The gradient is prediction minus truth
#
# [Chapter 3](../book/03_maximum_likelihood.md) showed that the gradient of the loss for one token with
# respect to its logits is softmax minus one-hot. With the mean over $N$
# tokens, each row is divided by $N$. Autograd agrees:

# %%
z = logits.clone().requires_grad_(True)
torch.nn.functional.cross_entropy(z, targets).backward()
one_hot = torch.nn.functional.one_hot(targets, len(vocab)).to(torch.float64)
formula = (torch.softmax(logits, dim=1) - one_hot) / len(targets)
print(f"largest |autograd - (softmax - one-hot) / N| = {float((z.grad - formula).abs().max()):.2e}"
      f" (gradient entries up to {float(formula.abs().max()):.2e})")

# %% [markdown]
# ## Calibration and temperature
#
# The model predicts its most probable word with some confidence. Is it right
# that often? Bin the validation predictions by confidence and compare
# accuracy with confidence in each bin: the expected calibration error is the
# gap between the two, averaged over bins weighted by their size.

# %%
from utils.evaluate import (
    confidence_and_correct,
    expected_calibration_error,
    fit_temperature,
    nll_at_temperature,
    reliability_diagram,
)

test_probs, test_targets = prediction_table(smoothed, corpus.test)
test_logits = test_probs.log()
fitted = fit_temperature(logits, targets)  # fitted on validation, judged on test
report = {}
for name, t in [("T = 1", 1.0), (f"T = {fitted:.3f} (fitted)", fitted)]:
    conf, correct = confidence_and_correct(torch.softmax(test_logits / t, dim=1), test_targets)
    report[name] = (reliability_diagram(conf, correct, n_bins=params.n_bins),
                    expected_calibration_error(conf, correct, n_bins=params.n_bins),
                    nll_at_temperature(test_logits, test_targets, t), float(correct.mean()))
for name, (_, ece, nll, acc) in report.items():
    print(f"{name:<22} test ECE {ece:.4f}   test NLL {nll:.4f} nats   accuracy {acc:.4f}")

# %% [markdown]
# A reliability diagram draws the same bins: bars at the diagonal mean
# calibrated, bars below it overconfident, above it underconfident. Dividing
# the logits by the fitted temperature moves the bars towards the diagonal
# without changing a single prediction, so accuracy stays the same.

# %% mystnb={"figure": {"caption": "Reliability diagrams of the smoothed n-gram's next-word predictions on test tokens, before and after temperature scaling; bar widths are the confidence bins and the dashed diagonal is perfect calibration.", "name": "fig-mle-reliability"}}
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
for ax, (name, (diagram, ece, _, _)) in zip(axes, report.items(), strict=True):
    width = float(diagram.edges[1] - diagram.edges[0])
    used = diagram.count > 0
    ax.bar(diagram.edges[:-1][used], diagram.accuracy[used], width=width, align="edge",
           edgecolor="white", label="accuracy in the bin")
    ax.plot(diagram.confidence[used], diagram.accuracy[used], linestyle="none", marker="o",
            color="#D55E00", markersize=4, label="(mean confidence, accuracy)")
    ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_title(f"{name}: ECE {ece:.3f}")
axes[0].set_ylabel("accuracy")
axes[0].legend(fontsize=8, loc="upper left")
plt.show()

# %% [markdown]
# Which way the model errs depends on the smoothing: a large $k$ spreads
# probability over words that never come, so the model is *under*confident
# and the fitted temperature is below 1 (sharpen); a tiny $k$ trusts a few
# counts too much. The fitted temperature on validation data, for a range of
# $k$. Temperature scaling minimises the NLL, not the ECE, so where the model
# is already nearly calibrated it may leave the ECE a little worse.

# %%
print(f"{'k':>8}{'fitted T':>10}{'ECE at T=1':>12}{'ECE at fitted T':>17}")
for kk in (1e-3, 1e-2, 1e-1, 1.0):
    v_probs, v_targets = prediction_table(mle.with_k(kk), corpus.valid)
    t = fit_temperature(v_probs.log(), v_targets)
    eces = [expected_calibration_error(
        *confidence_and_correct(torch.softmax(v_probs.log() / tt, dim=1), v_targets),
        n_bins=params.n_bins) for tt in (1.0, t)]
    print(f"{kk:>8g}{t:>10.3f}{eces[0]:>12.4f}{eces[1]:>17.4f}")

# %% [markdown]
# ## Explore: the next word after a prefix
#
# Temperature does the same to a single prediction. Move the sliders: the
# amount of training data (the counts of the full-history model above) and
# the temperature $T$, which turns $p$ into $p^{1/T}$ renormalised. The
# diamonds are the true probabilities. In the book the widget is frozen, so
# the figure after it shows a grid of settings.

# %%
from utils.notebook import next_word_explorer, next_word_grid

next_word_explorer(estimates, truth=truth, temperature=1.0, prefix=params.prefix,
                   setting_label="training sentences")

# %% mystnb={"figure": {"caption": "The estimated next-word distribution after the chosen prefix (bars) against the truth (diamonds), for three training-set sizes (rows) and three temperatures (columns).", "name": "fig-mle-next-word"}}
shown_sizes = [sizes[0], sizes[len(sizes) // 2], sizes[-1]]
next_word_grid({s: estimates[s] for s in shown_sizes},
               [1 / params.temperature, 1.0, params.temperature], truth=truth,
               prefix=params.prefix, setting_label="N =")
plt.show()

# %% [markdown]
# With few sentences the counts are spiky, or uniform when the prefix was
# never seen; with many they match the diamonds. A temperature below 1
# sharpens every estimate towards its most frequent word, above 1 it
# flattens it: temperature changes confidence, never the ranking.
