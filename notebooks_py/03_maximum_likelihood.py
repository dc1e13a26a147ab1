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
import pandas as pd
import torch

from utils.data import CorpusConfig, SyntheticLanguage, generate_corpus
from utils.lm import NGramModel, total_variation
from utils.notebook import plain_log_ticks, use_course_style

use_course_style()
corpus = generate_corpus(CorpusConfig(seed=params.seed, n_sentences=params.max_sentences))
language = SyntheticLanguage(corpus.config)
vocab = language.vocab
print(f"{len(corpus.train)} training, {len(corpus.valid)} validation, {len(corpus.test)} test "
      f"sentences;\n{corpus.n_tokens():,} training tokens; vocabulary of {len(vocab)} words")
truth = language.next_word_distribution(params.prefix.split())
pd.Series(truth, name=f'P(word | "{params.prefix}")').sort_values(ascending=False).head(
    6).to_frame().round(4)

# %% [markdown]
# ## Counting converges to the truth
#
# The maximum-likelihood estimate of $P(w \mid u)$ ([Chapter 3](../book/03_maximum_likelihood.md)) is
# $c(u, w) / c(u)$. If the history $u$ is the *whole* prefix, here padded
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
# The slope of each line on log axes: a least-squares fit of log distance on log size.
slopes = {p: np.polyfit(np.log(sizes), np.log(np.maximum(distance[p], 1e-12)), 1)[0]
          for p in PREFIXES}
pd.DataFrame({"sentences it starts, largest training set":
              {p: sum(full.counts(p.split()).values()) for p in PREFIXES},
              "fitted slope on log axes": slopes}).rename_axis("prefix").round(2)

# %% [markdown]
# On log axes the distance falls along a straight line. The error of a
# relative frequency shrinks like $1/\sqrt{c(u)}$, a slope of $-1/2$; the table
# above gives each prefix's fitted slope, to compare with it.
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
ax.plot(sizes, reference, color="grey", linewidth=1, linestyle="--", label=r"$\propto 1/\sqrt{n}$")
ax.set_xscale("log")
ax.set_yscale("log")
plain_log_ticks(ax.yaxis)
ax.set_xlabel("training sentences $n$")
ax.set_ylabel("total variation to the truth")
ax.set_title("Maximum-likelihood estimates converge")
ax.legend(fontsize=8, loc="lower left")
plt.show()

# %%
pd.DataFrame({f"{sizes[0]:,} sentences": {f'"{p}"': distance[p][0] for p in PREFIXES}
              | {f'"{params.prefix}", {params.order}-gram': short_distance[0]},
              f"{sizes[-1]:,} sentences": {f'"{p}"': distance[p][-1] for p in PREFIXES}
              | {f'"{params.prefix}", {params.order}-gram': short_distance[-1]}}
             ).rename_axis("total variation to the truth").round(4)

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
      f"{corpus.n_tokens('valid')} validation tokens have probability 0,")
print(f"so its validation perplexity is {mle.perplexity(corpus.valid)}")

# %% [markdown]
# Add-$k$ smoothing, $(c(u, w) + k) / (c(u) + kV)$, removes the zeros. As $k \to 0$ each
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

# %%
best = {n: (float(ks[int(np.argmin(c))]), min(c)) for n, c in curves.items()}
pd.DataFrame({"best k": {f"{n}-gram": bk for n, (bk, _) in best.items()},
              "perplexity at the best k": {f"{n}-gram": ppl for n, (_, ppl) in best.items()},
              f"perplexity at k = {ks[-1]:g}": {f"{n}-gram": curves[n][-1] for n in curves}}
             ).style.format({"best k": "{:.3g}"}, precision=2)

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
rows = {"uniform over the vocabulary": float(len(vocab)), "true language": truth_ppl}
rows |= {f"{n}-gram, add-{bk:.3g}": ppl for n, (bk, ppl) in best.items()}
pd.DataFrame({"perplexity": rows, "bits per token": {k: math.log2(v) for k, v in rows.items()}}
             ).rename_axis("model").round(3)

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
# First by the formula $J = -\frac{1}{n} \sum_i \log p(y^*_i \mid x_i)$ with the softmax written out; then with
# PyTorch's `cross_entropy`; then with `log_softmax` and picking each
# target's entry with `gather`. All three must agree, and equal the log of the
# perplexity `utils.ngram` computes on the same sentences.

# %%
def cross_entropy_by_hand(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """J: the mean over tokens of -log softmax(logits)[target], the softmax written out."""
    softmax = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)  # (tokens, vocab)
    return -torch.log(softmax[torch.arange(len(targets)), targets]).mean()


ways = {"by hand": cross_entropy_by_hand(logits, targets),
        "F.cross_entropy": torch.nn.functional.cross_entropy(logits, targets),
        "log_softmax + gather": -torch.log_softmax(logits, dim=1).gather(
            1, targets[:, None]).mean(),  # (tokens, 1) before the mean
        "log perplexity (utils.lm)": math.log(smoothed.perplexity(corpus.valid))}
ways = {name: float(value) for name, value in ways.items()}
assert np.allclose(list(ways.values()), ways["by hand"], rtol=0, atol=1e-9)
print(f"largest disagreement: {max(ways.values()) - min(ways.values()):.2e}")
pd.Series(ways, name="nats per token").to_frame().style.format("{:.10f}")

# %% [markdown]
# ## The gradient is prediction minus truth
#
# [Chapter 3](../book/03_maximum_likelihood.md) showed that the gradient of the loss for one token with
# respect to its logits is softmax minus one-hot. With the mean over $n$
# tokens, each row is divided by $n$. Autograd agrees:

# %%
z = logits.clone().requires_grad_(True)
torch.nn.functional.cross_entropy(z, targets).backward()
one_hot = torch.nn.functional.one_hot(targets, len(vocab)).to(torch.float64)
formula = (torch.softmax(logits, dim=1) - one_hot) / len(targets)
print(f"largest |autograd - (softmax - one-hot) / N| = {float((z.grad - formula).abs().max()):.2e}"
      f" (gradient entries up to {float(formula.abs().max()):.2e})")

# %% [markdown]
# ## Gradient descent on the likelihood is counting
#
# The n-gram model found its maximum-likelihood estimate by counting; a
# neural network finds it by gradient descent on $J$. Both find the same
# thing when the network can represent the counts. The simplest neural
# language model is a neural bigram: one table of logits $W$, a row per
# previous word and a column per next word (the model of
# [Bengio et al. (2003)](../book/references.md) with no hidden layer), so
# $p(w \mid a) = \mathrm{softmax}(W_a)_w$. Before training every logit is 0
# and every word has probability $1/V$, so the loss starts at exactly
# $\log V$; the maximum-likelihood optimum is $\mathrm{softmax}(W_a) =
# c(a, \cdot) / c(a)$, the bigram counts. The loss over the `n_sentences`
# training sentences needs only the table of bigram counts $c(a, w)$.

# %%
bigram = NGramModel(2).fit(corpus.train[:params.n_sentences], vocab)  # c(a, w) / c(a)
counts = torch.zeros(len(vocab), len(vocab), dtype=torch.float64)  # (previous, next)
for previous in vocab:
    for word, c in bigram.counts([previous]).items():
        counts[word_to_id[previous], word_to_id[word]] = c
n_pairs = counts.sum()


def bigram_loss(logits: torch.Tensor) -> torch.Tensor:
    """J of the neural bigram: the mean over training pairs of -log softmax(W[a])[w]."""
    return -(counts * torch.log_softmax(logits, dim=1)).sum() / n_pairs


weights = torch.zeros(len(vocab), len(vocab), dtype=torch.float64, requires_grad=True)
start_loss = bigram_loss(weights).item()
optimizer = torch.optim.Adam([weights], lr=0.3)
for _ in range(500):
    optimizer.zero_grad()
    loss = bigram_loss(weights)
    loss.backward()
    optimizer.step()
print(f"loss before training {start_loss:.4f} nats, log V = {math.log(len(vocab)):.4f}; "
      f"after 500 Adam steps {loss.item():.4f}")

# %% [markdown]
# Compare the trained rows with the counts, for every previous word seen in
# training: the total variation distance between $\mathrm{softmax}(W_a)$ and
# $c(a, \cdot)/c(a)$, and the loss of the counts themselves, the lowest $J$
# any bigram model can reach on these sentences.

# %%
seen = counts.sum(dim=1) > 0
learned = torch.softmax(weights.detach(), dim=1)[seen]  # (seen previous words, vocab)
counted = (counts[seen] / counts[seen].sum(dim=1, keepdim=True))
gap = 0.5 * (learned - counted).abs().sum(dim=1)  # total variation, per previous word
optimum = float(-(counts[seen] * torch.log(counted.clamp_min(1e-300))).sum() / n_pairs)
print(f"{int(seen.sum())} previous words seen; total variation to the counts: "
      f"median {float(gap.median()):.4f}, largest {float(gap.max()):.4f}")
print(f"loss of the counts {optimum:.4f} nats, of the trained table {loss.item():.4f}")

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
for name, t in [("τ = 1", 1.0), (f"τ = {fitted:.3f} (fitted)", fitted)]:
    conf, correct = confidence_and_correct(torch.softmax(test_logits / t, dim=1), test_targets)
    report[name] = (reliability_diagram(conf, correct, n_bins=params.n_bins),
                    expected_calibration_error(conf, correct, n_bins=params.n_bins),
                    nll_at_temperature(test_logits, test_targets, t), float(correct.mean()))
pd.DataFrame({name: {"test ECE": ece, "test NLL (nats)": nll, "accuracy": acc}
              for name, (_, ece, nll, acc) in report.items()}).T.round(4)

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
by_k = {}
for kk in (1e-3, 1e-2, 1e-1, 1.0):
    v_probs, v_targets = prediction_table(mle.with_k(kk), corpus.valid)
    t = fit_temperature(v_probs.log(), v_targets)
    eces = [expected_calibration_error(
        *confidence_and_correct(torch.softmax(v_probs.log() / tt, dim=1), v_targets),
        n_bins=params.n_bins) for tt in (1.0, t)]
    by_k[kk] = {"fitted τ": t, "ECE at τ = 1": eces[0], "ECE at the fitted τ": eces[1]}
pd.DataFrame(by_k).T.rename_axis("k").style.format("{:.4f}").format(
    "{:.3f}", subset="fitted τ").format_index("{:g}")

# %% [markdown]
# ## Explore: the next word after a prefix
#
# Temperature does the same to a single prediction. Move the sliders: the
# amount of training data (the counts of the full-history model above) and
# the temperature $\tau$, which turns $p$ into $p^{1/\tau}$ renormalised. The
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
