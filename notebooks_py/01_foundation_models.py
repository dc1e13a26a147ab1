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
# # How big are foundation models?
#
# [Chapter 1](../book/01_foundation_models.md) says that scale is one of the things that
# sets a foundation model apart. This notebook puts numbers on that claim: the
# parameter counts and training-data sizes that the papers of well-known
# pretrained language models report, plotted against the date of each paper.
# Every number comes with its source, kept beside it in
# `utils.data.PUBLISHED_MODELS` and printed in the table below. The papers:
# GPT (Radford et al., 2018), BERT (Devlin et al., 2019), GPT-2 (Radford et al.,
# 2019), T5 (Raffel et al., 2020), GPT-3 (Brown et al., 2020), Gopher (Rae et al.,
# 2021), Chinchilla (Hoffmann et al., 2022), PaLM (Chowdhery et al., 2022), LLaMA
# (Touvron et al., 2023), Llama 2 (Touvron et al., 2023) and Llama 3 (Dubey et al.,
# 2024); the [references](../book/references.md) list each paper.
#
# Two numbers describe a model's scale. Its **parameters** $N$ are the weights
# that training sets: the size of the model. Its **training tokens** $D$ are
# how much text it read while training: the size of its experience. Their
# product, times six, is roughly the arithmetic training took, which is where
# the notebook ends. The one computation written out here is how a "growth
# per year" is measured, because the chapter's claims about scale rest on it.

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
highlight: str = "GPT-3"  # model to label on the plots: a name from utils.data.PUBLISHED_MODELS
log_scale: bool = True  # plot sizes on a logarithmic axis (True) or a linear one (False)

# %% tags=["hide-cell"]
from utils.data import PUBLISHED_MODELS
from utils.notebook import Boolean, OneOf, validate

params = validate(
    highlight=OneOf(highlight, [m.name for m in PUBLISHED_MODELS]),
    log_scale=Boolean(log_scale),
)

# %% [markdown]
# ## The published numbers
#
# A table first, straight from the papers, each row with its source. The
# training tokens are empty where a paper does not report how many tokens the
# model saw.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.notebook import use_course_style

use_course_style()
pd.DataFrame({"year": [m.year for m in PUBLISHED_MODELS],
              "parameters": [m.parameters for m in PUBLISHED_MODELS],
              "tokens": [m.training_tokens for m in PUBLISHED_MODELS],
              "source": [m.source for m in PUBLISHED_MODELS]},
             index=pd.Index([m.name for m in PUBLISHED_MODELS], name="model")).style.format(
    {"year": "{:.1f}", "parameters": "{:.3g}", "tokens": "{:.3g}"}, na_rep="—")

# %% [markdown]
# ## Parameters over time
#
# On a logarithmic axis, a straight line is exponential growth. The cell
# after the figure measures how much the largest model grew.
#
# Each tick of the log axis is ten times the one below it, so a model one
# tick higher has ten times the parameters. On a linear axis (the parameter
# `log_scale`) every model before 2020 would sit on the floor of the plot:
# the range spans more than three orders of magnitude.

# %% mystnb={"figure": {"caption": "Parameter counts that the papers of well-known pretrained language models report, by year of the paper and architecture family.", "name": "fig-model-parameters"}, "image": {"alt": "Scatter plot of model parameter counts against the year of the paper, one marker style per architecture family, rising steeply from 2018 to 2022."}}
families = sorted({m.family for m in PUBLISHED_MODELS})
fig, ax = plt.subplots()
for family in families:
    members = [m for m in PUBLISHED_MODELS if m.family == family]
    ax.plot([m.year for m in members], [m.parameters for m in members],
            linestyle="none", marker="o", markersize=8, label=family)
chosen = next(m for m in PUBLISHED_MODELS if m.name == params.highlight)
ax.annotate(chosen.name, (chosen.year, chosen.parameters), xytext=(8, -4),
            textcoords="offset points")
if params.log_scale:
    ax.set_yscale("log")
ax.set_xlabel("year of the paper")
ax.set_ylabel("parameters")
ax.set_title("Published model sizes")
ax.legend(title="architecture")
plt.show()

# %%
first = PUBLISHED_MODELS[0]
largest = max((m for m in PUBLISHED_MODELS if m.year <= 2022.5), key=lambda m: m.parameters)
grown = largest.parameters / first.parameters
print(f"From {first.name} ({first.year:.0f}) to {largest.name} ({largest.year:.0f}) the largest")
print(f"model grew {grown:,.0f}-fold ({math.log10(grown):.1f} orders of magnitude) "
      f"in {largest.year - first.year:.0f} years.")

# %% [markdown]
# ## Training data over time
#
# Did the data grow faster than the models? It depends on where you start.
# [Hoffmann et al. (2022)](../book/references.md) found that, for a fixed compute budget,
# GPT-3-era models were too big for their data; the compute-optimal models
# trained after that finding (Chinchilla's 20 tokens per parameter) see far
# more tokens per parameter, though the table's Gopher, PaLM and GPT-3 do
# not (1.1, 1.4 and 1.7). T5-11B, published before GPT-3, had
# already trained on about a trillion tokens, more per parameter than any
# later model in the table. The cells after the figure compare the two
# windows two ways: the first and last model of each, and a straight line
# fitted through all of them on the log scale. From GPT-3 on, both say the
# data grew faster; from T5-11B on, they disagree, so the claim holds only
# for the window that starts with GPT-3.

# %% mystnb={"figure": {"caption": "Training-data sizes, in tokens, that the papers report, by year of the paper.", "name": "fig-model-tokens"}, "image": {"alt": "Scatter plot of training tokens against the year of the paper, each point labelled with its model, rising steeply from 2020 on."}}
with_tokens = [m for m in PUBLISHED_MODELS if m.training_tokens]
fig, ax = plt.subplots()
ax.plot([m.year for m in with_tokens], [m.training_tokens for m in with_tokens],
        linestyle="none", marker="s", markersize=8)
for m in with_tokens:
    ax.annotate(m.name, (m.year, m.training_tokens), xytext=(6, -4),
                textcoords="offset points", fontsize=8)
if params.log_scale:
    ax.set_yscale("log")
ax.set_xlabel("year of the paper")
ax.set_ylabel("training tokens")
ax.set_title("Published training-data sizes")
plt.show()

# %% [markdown]
# ### Growth per year, written out
#
# "Grew by a factor $g$ per year" means the logarithm of the size rises by
# $\log g$ each year: a straight line on the log axis. Fit that line by least
# squares through every model of a window, $\log_{10} y_i \approx a + b\, t_i$,
# whose slope is $b = \sum_i (t_i - \bar t)(\log_{10} y_i - \overline{\log_{10} y}) /
# \sum_i (t_i - \bar t)^2$; the growth factor per year is $g = 10^{b}$. Unlike
# the ratio of the last model to the first, the fitted line uses every model,
# so one unusual model at either end moves it less. In a few lines, checked
# against the library's `growth_per_year`:

# %%
from utils.data import growth_per_year, published_model


def growth_by_hand(models, attribute: str) -> float:
    """10 to the slope of the least-squares line through log10(value) against the year."""
    years = np.array([m.year for m in models])
    logs = np.log10([getattr(m, attribute) for m in models])
    slope = np.sum((years - years.mean()) * (logs - logs.mean())) / np.sum(
        (years - years.mean()) ** 2)
    return 10**slope


gpt3, t5 = published_model("GPT-3"), published_model("T5-11B")
windows = {start.name: [m for m in with_tokens if m.year >= start.year] for start in (t5, gpt3)}
for window in windows.values():
    for attribute in ("parameters", "training_tokens"):
        assert np.isclose(growth_by_hand(window, attribute), growth_per_year(window, attribute))

# %% [markdown]
# The two windows, each compared two ways: the last model against the first,
# and the fitted growth per year.

# %%
pd.DataFrame({f"{w[0].name} to {w[-1].name}": {
    "models": len(w), "parameters, last / first": w[-1].parameters / w[0].parameters,
    "tokens, last / first": w[-1].training_tokens / w[0].training_tokens,
    "parameters, fitted per year": growth_per_year(w, "parameters"),
    "tokens, fitted per year": growth_per_year(w, "training_tokens")}
    for w in windows.values()}).T.astype({"models": int}).round(2)

# %% [markdown]
# Over the window from GPT-3, the parameters barely grew per year while the
# tokens grew by more than half again each year; over the window from T5-11B
# the picture depends on the method, because T5-11B read far more text than
# its size called for. The published numbers are fixed, so these words and
# the table agree on every run; a claim about "the trend" still depends on
# which models and which years one picks, which is the point of showing both
# windows.
#
# And the tokens each model saw per parameter. Hoffmann et al.'s
# compute-optimal rule of thumb is about 20; GPT-3 and its contemporaries read
# one or two tokens per parameter:

# %%
pd.Series({m.name: m.tokens_per_parameter for m in with_tokens},
          name="tokens per parameter").to_frame().round(1)

# %% [markdown]
# ## Tokens per parameter, and the cost of training
#
# A common rule of thumb ([Kaplan et al., 2020](../book/references.md)) puts the cost of training
# at about $6ND$ floating-point operations for $N$ parameters and $D$ training
# tokens: $2N$ per token for the forward pass and $4N$ for the backward pass. The GPT-3
# paper reports its own figure, so we can check the rule against it.

# %%
from utils.data import GPT3_REPORTED_TRAINING_FLOPS, training_flops

estimate = training_flops(gpt3.parameters, gpt3.training_tokens)
print(f"GPT-3: 6ND = {estimate:.3g} FLOPs; the paper reports "
      f"{GPT3_REPORTED_TRAINING_FLOPS:.3g} ({estimate / GPT3_REPORTED_TRAINING_FLOPS:.3f}x).")
pd.Series({m.name: training_flops(m.parameters, m.training_tokens) for m in with_tokens},
          name="training compute 6ND (FLOPs)").to_frame().style.format("{:.2g}")

# %% [markdown]
# The course's own foundation model, trained in [Chapter 4](../book/04_lstm_language_model.md), is many orders of
# magnitude smaller than any model in this table: small enough to train on a
# laptop's CPU, yet it shows every idea of the course. Its notebook prints its
# own parameter count, training compute and training time for comparison.
#
# What to take away: sizes grew by orders of magnitude in a few years, the
# data did not always keep pace, and $6ND$ turns both into one number, the
# compute a model cost, which the paper behind GPT-3 confirms to within a few
# per mille.
