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
# # Lab 03: likelihood, perplexity, n-grams and calibration
#
# Chapter 3 showed that training a language model
# means minimising the negative log-likelihood, that perplexity is its
# exponential, that counting is maximum likelihood for an n-gram model, and
# that a model's confidence can be checked against its accuracy. In this lab
# you implement each of those yourself and try them on the course's synthetic
# corpus.
#
# Each exercise is a function to complete, with its check at the end of the
# same cell: run the cell, and the check tries your function on fresh
# random inputs and tells you what is wrong, never the answer.

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
seed: int = 0  # seed of the corpus and of the checks' random inputs (an integer, at least 0)
n_sentences: int = 3000  # sentences of the corpus the demos use, 90 % for training (500 to 50000)
k: float = 0.1  # add-k smoothing constant of the demos (number, 1e-4 to 10)
n_bins: int = 15  # equal-width confidence bins of the calibration demo (integer, 2 to 50)

# %% tags=["hide-cell"]
from utils.notebook import Integer, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    n_sentences=Integer(n_sentences, min=500, max=50_000),
    k=Real(k, min=1e-4, max=10.0),
    n_bins=Integer(n_bins, min=2, max=50),
)

# %%
import math

import torch

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.maximum_likelihood import (
    check_add_k,
    check_bigram_mle,
    check_ece,
    check_nll,
    check_perplexity,
)
from utils.data import CorpusConfig, SyntheticLanguage, generate_corpus

torch.manual_seed(params.seed)
corpus = generate_corpus(CorpusConfig(seed=params.seed, n_sentences=params.n_sentences))
language = SyntheticLanguage(corpus.config)
vocab_size = language.vocab_size
print(f"{len(corpus.train)} training sentences, vocabulary of {vocab_size} words")
print("for example:", " ".join(corpus.train[0]))

# %% [markdown]
# ## Exercise 1: the negative log-likelihood
#
# A model gives a row of logits per example, shape `(N, V)`, and `targets`
# holds the index of the word that actually came, shape `(N,)`. The loss is
# the negative log-likelihood of Chapter 3:
#
# $$ J = -\frac{1}{N} \sum_{i=1}^{N} \log p(y^*_i \mid x_i), \qquad
#    p(\cdot \mid x_i) = \mathrm{softmax}(\text{logits}_i) . $$
#
# Use the natural logarithm (the result is in nats) and compute the
# log-probabilities stably: `torch.log_softmax`, or your own from Lab 0.


# %%
def nll(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean negative log-likelihood, in nats, of `targets` under softmax(`logits`)."""
    # BEGIN SOLUTION nll
    log_probs = torch.log_softmax(logits, dim=-1)  # (N, V)
    return float(-log_probs[torch.arange(len(targets)), targets].mean())
    # END SOLUTION


check_nll(nll, seed=params.seed)

# %% [markdown]
# A model that knows nothing gives every word the same logit. Its NLL should
# be $\log V$ whatever the targets:

# %%
uniform_logits = torch.zeros(5, vocab_size)  # (5, V)
some_targets = torch.randint(0, vocab_size, (5,))
print(f"uniform model: NLL {nll(uniform_logits, some_targets):.4f} nats; "
      f"log V = {math.log(vocab_size):.4f}")

# %% [markdown]
# ## Exercise 2: perplexity
#
# Given the natural-log probability a model gave each token of a text, the
# perplexity (Chapter 3) is the exponential of the mean negative
# log-probability.


# %%
def perplexity(token_log_probs: torch.Tensor) -> float:
    """exp of the mean negative natural-log probability of the tokens."""
    # BEGIN SOLUTION perplexity
    return math.exp(float(-token_log_probs.mean()))
    # END SOLUTION


check_perplexity(perplexity, seed=params.seed)

# %% [markdown]
# The uniform model's perplexity is the size of the vocabulary, and bits per
# token are the NLL divided by $\ln 2$:

# %%
uniform = torch.full((100,), -math.log(vocab_size))
print(f"uniform model: perplexity {perplexity(uniform):.2f} (vocabulary {vocab_size}), "
      f"{math.log2(perplexity(uniform)):.3f} bits per token")

# %% [markdown]
# ## Counting bigrams
#
# A bigram model predicts each word from the one before it. We turn each
# sentence into word indices, put `<eos>` in front so the first word has a
# history too, and count how often each word followed each other word:
# `counts[h, w]` is $c(h, w)$.

# %%
eos = language.word_to_id["<eos>"]


def to_ids(sentence: list[str]) -> list[int]:
    """Word indices of a sentence, with <eos> in front as the first word's history."""
    return [eos] + [language.word_to_id[w] for w in sentence]


counts = torch.zeros(vocab_size, vocab_size, dtype=torch.float64)  # (history, next word)
for sentence in corpus.train:
    ids = to_ids(sentence)
    for history, word in zip(ids[:-1], ids[1:], strict=True):
        counts[history, word] += 1
print(f"{int(counts.sum())} bigrams counted; {int((counts > 0).sum())} different pairs seen "
      f"out of {vocab_size ** 2}")

# %% [markdown]
# ## Exercise 3: the maximum-likelihood bigram table
#
# Turn the counts into the conditional probabilities of Chapter 3,
# $P(w \mid h) = c(h, w) / c(h)$, one row per history. A history never seen
# has $c(h) = 0$; give it the uniform distribution $1/V$, as `utils.lm.ngram`
# does.


# %%
def bigram_mle(counts: torch.Tensor) -> torch.Tensor:
    """P(w | h) = counts[h, w] / counts[h].sum(), uniform for rows with no counts."""
    # BEGIN SOLUTION bigram_mle
    totals = counts.sum(dim=1, keepdim=True)  # (V, 1): c(h)
    uniform = torch.full_like(counts, 1.0 / counts.shape[1])
    return torch.where(totals > 0, counts / totals.clamp(min=1), uniform)
    # END SOLUTION


check_bigram_mle(bigram_mle, seed=params.seed)

# %% [markdown]
# The words seen after "sat", and the perplexity of the validation
# sentences under your table. Some validation bigram was never seen in
# training, so the unsmoothed model calls it impossible:

# %%
def table_log_probs(table: torch.Tensor, sentences: list[list[str]]) -> torch.Tensor:
    """log P(token | previous token) for every token of `sentences` under a bigram table."""
    pairs = [(h, w) for s in sentences for h, w in zip(to_ids(s)[:-1], to_ids(s)[1:],
                                                       strict=True)]
    history, word = torch.tensor(pairs).T
    return table[history, word].log()


mle_table = bigram_mle(counts)
row = mle_table[language.word_to_id["sat"]]
print("P(. | 'sat'):", {language.vocab[int(i)]: round(float(row[i]), 3)
                        for i in row.nonzero().flatten()})
print(f"validation perplexity of the MLE bigram: "
      f"{perplexity(table_log_probs(mle_table, corpus.valid))}")

# %% [markdown]
# ## Exercise 4: add-k smoothing
#
# Pretend every word was seen $k$ more times after every history,
# Chapter 3's add-$k$ estimate:
#
# $$ P_k(w \mid h) = \frac{c(h, w) + k}{c(h) + k V} . $$


# %%
def add_k(counts: torch.Tensor, k: float) -> torch.Tensor:
    """P(w | h) = (counts[h, w] + k) / (counts[h].sum() + k V)."""
    # BEGIN SOLUTION add_k
    totals = counts.sum(dim=1, keepdim=True)  # (V, 1): c(h)
    return (counts + k) / (totals + k * counts.shape[1])
    # END SOLUTION


check_add_k(add_k, seed=params.seed)

# %% [markdown]
# Now the validation perplexity is finite. It should equal what the course's
# own `utils.lm.NGramModel(2, k)` computes on the same data:

# %%
from utils.lm import NGramModel

smoothed_ppl = perplexity(table_log_probs(add_k(counts, params.k), corpus.valid))
reference = NGramModel(2, params.k).fit(corpus.train, language.vocab).perplexity(corpus.valid)
print(f"add-{params.k:g} bigram: validation perplexity {smoothed_ppl:.4f} "
      f"(utils.lm.ngram: {reference:.4f}); true language: e^H = "
      f"{math.exp(language.entropy_rate()):.4f}")

# %% [markdown]
# ## Exercise 5: expected calibration error
#
# `probs` holds one predicted distribution per row, shape `(N, C)`. The
# prediction is the most likely class, its confidence that class's
# probability. Split $[0, 1]$ into `n_bins` equal-width bins, bin $m$ holding
# confidences in $((m-1)/M, m/M]$, and compute Chapter 3's expected calibration error:
#
# $$ \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{N}
#    \left| \mathrm{acc}(B_m) - \mathrm{conf}(B_m) \right| . $$


# %%
def ece(probs: torch.Tensor, targets: torch.Tensor, n_bins: int = 15) -> float:
    """Expected calibration error of the top-class predictions, n_bins equal-width bins."""
    # BEGIN SOLUTION ece
    confidence, predicted = probs.max(dim=-1)  # (N,), (N,)
    correct = (predicted == targets).double()
    bins = (torch.ceil(confidence * n_bins).long() - 1).clamp(0, n_bins - 1)
    total = 0.0
    for m in range(n_bins):
        members = bins == m
        if members.any():
            gap = (correct[members].mean() - confidence[members].mean()).abs()
            total += float(members.double().mean() * gap)
    return total
    # END SOLUTION


check_ece(ece, seed=params.seed)

# %% [markdown]
# How calibrated is the smoothed bigram's guess of the next word? Each
# validation token gives one prediction: the row of the table for its
# history. `utils.evaluate.calibration` should agree with your function.

# %%
from utils.evaluate import confidence_and_correct, expected_calibration_error

pairs = torch.tensor([(h, w) for s in corpus.valid
                      for h, w in zip(to_ids(s)[:-1], to_ids(s)[1:], strict=True)])
token_probs = add_k(counts, params.k)[pairs[:, 0]]  # (tokens, V)
mine = ece(token_probs, pairs[:, 1], params.n_bins)
library = expected_calibration_error(*confidence_and_correct(token_probs, pairs[:, 1]),
                                     n_bins=params.n_bins)
print(f"ECE of the add-{params.k:g} bigram on {len(pairs)} validation tokens: {mine:.4f} "
      f"(utils.evaluate.calibration: {library:.4f})")

# %% [markdown]
# Try a larger `k` in the parameters: the model spreads more probability over
# words that never come, becomes underconfident, and its ECE grows. The
# companion notebook fits a temperature that undoes much of this.
