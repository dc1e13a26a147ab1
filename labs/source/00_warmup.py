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
# # Lab 00: softmax, sampling and log-probabilities
#
# Every language model in this course ends the same way: it turns a vector of
# scores, the **logits**, into a probability for each word of the vocabulary,
# then either samples the next word from those probabilities or scores the
# word that actually came next. This warm-up lab builds those three
# operations from scratch in PyTorch.
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
seed: int = 0  # seed of the random inputs the checks and demos use (an integer, at least 0)
temperature: float = 1.0  # temperature of the sampling demo at the end (a number above 0)
n_samples: int = 2000  # how many words the sampling demo draws (integer, 100 to 100000)

# %% tags=["hide-cell"]
from utils.notebook import Integer, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    temperature=Real(temperature, min=1e-3, max=100.0),
    n_samples=Integer(n_samples, min=100, max=100_000),
)

# %%
import torch

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.warmup import (
    check_log_softmax,
    check_sample_categorical,
    check_sequence_log_prob,
    check_softmax,
)

# Seeds the global generator for the demos below; assigned, because the call
# returns the generator and a cell's last value is printed.
_ = torch.manual_seed(params.seed)

# %% [markdown]
# ## Exercise 1: softmax
#
# For logits $z_1, \dots, z_V$ the softmax gives the probabilities
#
# $$ p_i = \frac{e^{z_i}}{\sum_{j=1}^{V} e^{z_j}} . $$
#
# Implement it over the last axis of a tensor, so that it works for one
# vector of logits and for a batch of them. Mind large logits: $e^{1000}$
# overflows, but subtracting the same number from every logit leaves the
# softmax unchanged.


# %%
def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Probabilities over the last axis of `logits`."""
    # BEGIN SOLUTION softmax
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    exps = shifted.exp()
    return exps / exps.sum(dim=-1, keepdim=True)
    # END SOLUTION


check_softmax(softmax, seed=params.seed)

# %% [markdown]
# ## Exercise 2: log-softmax
#
# Models are trained on log-probabilities, and taking `softmax(z).log()`
# loses precision: a probability that underflows to 0 has logarithm
# $-\infty$. Compute the log-softmax directly,
#
# $$ \log p_i = z_i - \log \sum_j e^{z_j}, $$
#
# again subtracting the maximum first so nothing overflows.


# %%
def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Log-probabilities over the last axis of `logits`, computed stably."""
    # BEGIN SOLUTION log_softmax
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()
    # END SOLUTION


check_log_softmax(log_softmax, seed=params.seed)

# %% [markdown]
# ## Exercise 3: sampling a word
#
# To draw a word from probabilities $p_1, \dots, p_V$ with one uniform random
# number $u \in [0, 1)$, lay the probabilities end to end on $[0, 1)$ and
# return the word whose interval contains $u$: the first index $i$ whose
# cumulative probability $p_1 + \dots + p_i$ exceeds $u$.


# %%
def sample_categorical(probs: torch.Tensor, u: float) -> int:
    """The index whose interval of the cumulative distribution contains u."""
    # BEGIN SOLUTION sample_categorical
    cumulative = torch.cumsum(probs, dim=0)
    index = int(torch.searchsorted(cumulative, torch.tensor(u, dtype=cumulative.dtype),
                                   right=True))
    return min(index, len(probs) - 1)
    # END SOLUTION


check_sample_categorical(sample_categorical, seed=params.seed)

# %% [markdown]
# ## Exercise 4: the log-probability of a sentence
#
# A language model gives, at each position $t$, a distribution over the next
# token. The probability of a whole sequence is the product of the
# probabilities of the tokens that actually came, so its log-probability is a
# sum:
#
# $$ \log p(w_1, \dots, w_T) = \sum_{t=1}^{T} \log p(w_t \mid w_{<t}) . $$
#
# `step_probs[t]` is the distribution at position `t` and `tokens[t]` the token
# that came.


# %%
def sequence_log_prob(step_probs: torch.Tensor, tokens: torch.Tensor) -> float:
    """Natural-log probability of `tokens` under per-position distributions."""
    # BEGIN SOLUTION sequence_log_prob
    chosen = step_probs[torch.arange(len(tokens)), tokens]
    return float(chosen.log().sum())
    # END SOLUTION


check_sequence_log_prob(sequence_log_prob, seed=params.seed)

# %% [markdown]
# ## Putting it together: temperature
#
# Dividing the logits by a **temperature** $T$ before the softmax sharpens the
# distribution when $T < 1$ and flattens it when $T > 1$. Your sampler, fed
# with your softmax, should reproduce the probabilities it samples from.

# %% mystnb={"figure": {"caption": "The softmax probabilities of five logits at the chosen temperature, next to how often your sampler drew each word.", "name": "fig-warmup-sampling"}, "image": {"alt": "Bar chart with two bars per word index: the softmax probability and the frequency among the sampled words; the two agree closely when the sampler is right."}}
import matplotlib.pyplot as plt

from utils.notebook import use_course_style

use_course_style()
logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0], dtype=torch.float64)
probs = softmax(logits / params.temperature)
draws = [sample_categorical(probs, float(u)) for u in torch.rand(params.n_samples)]
frequencies = torch.bincount(torch.tensor(draws), minlength=len(probs)) / params.n_samples

fig, ax = plt.subplots()
positions = torch.arange(len(probs))
ax.bar(positions - 0.2, probs, width=0.4, label="softmax probability")
ax.bar(positions + 0.2, frequencies, width=0.4, label=f"frequency in {params.n_samples} draws")
ax.set_xlabel("word index")
ax.set_ylabel("probability")
ax.set_title(f"Sampling at temperature {params.temperature:g}")
ax.legend()
plt.show()

print(f"log-probability of the sampled sequence: "
      f"{sequence_log_prob(probs.expand(len(draws), -1), torch.tensor(draws)):.1f} nats")
