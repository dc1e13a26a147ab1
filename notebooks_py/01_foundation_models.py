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

from utils.notebook import use_course_style

use_course_style()

print(f"{'model':<14}{'year':>7}{'parameters':>12}{'tokens':>9}   source")
for m in PUBLISHED_MODELS:
    tokens = f"{m.training_tokens:.3g}" if m.training_tokens else "—"
    print(f"{m.name:<14}{m.year:>7.1f}{m.parameters:>12.3g}{tokens:>9}   {m.source}")

# %% [markdown]
# ## Parameters over time
#
# On a logarithmic axis, a straight line is exponential growth. The cell
# after the figure measures how much the largest model grew.

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
print(f"From {first.name} ({first.year:.0f}) to {largest.name} ({largest.year:.0f}) the largest "
      f"model grew {largest.parameters / first.parameters:,.0f}-fold "
      f"({math.log10(largest.parameters / first.parameters):.1f} orders of magnitude) in "
      f"{largest.year - first.year:.0f} years.")

# %% [markdown]
# ## Training data over time
#
# Did the data grow faster than the models? It depends on where you start.
# [Hoffmann et al. (2022)](../book/references.md) found that, for a fixed compute budget,
# GPT-3-era models were too big for their data, and the models after it see
# far more tokens per parameter. But T5-11B, published before GPT-3, had
# already trained on about a trillion tokens, more per parameter than any
# later model in the table. The cell after the figure compares the two
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

# %%
from utils.data import growth_per_year, published_model

gpt3 = published_model("GPT-3")
for start in (published_model("T5-11B"), gpt3):
    window = [m for m in with_tokens if m.year >= start.year]
    last = window[-1]
    print(f"{start.name} ({start.year:.1f}) to {last.name} ({last.year:.1f}): "
          f"parameters x{last.parameters / start.parameters:.1f}, "
          f"training tokens x{last.training_tokens / start.training_tokens:.1f}; "
          f"fitted through all {len(window)} models, parameters "
          f"x{growth_per_year(window, 'parameters'):.2f} per year, tokens "
          f"x{growth_per_year(window, 'training_tokens'):.2f} per year")
print()
for m in with_tokens:
    print(f"{m.name:<14} {m.tokens_per_parameter:6.1f} tokens per parameter")
ratio_after = [m.tokens_per_parameter for m in with_tokens if m.year > gpt3.year]
t5 = published_model("T5-11B")
print(f"\nTokens per parameter: GPT-3 {gpt3.tokens_per_parameter:.1f}, the models after it "
      f"{min(ratio_after):.1f} to {max(ratio_after):.1f}; T5-11B, before it, "
      f"{t5.tokens_per_parameter:.0f}.")

# %% [markdown]
# ## Tokens per parameter, and the cost of training
#
# A common rule of thumb puts the cost of training at about $6ND$
# floating-point operations for $N$ parameters and $D$ training tokens: $2N$
# per token for the forward pass and $4N$ for the backward pass. The GPT-3
# paper reports its own figure, so we can check the rule against it.

# %%
from utils.data import GPT3_REPORTED_TRAINING_FLOPS, training_flops

for m in with_tokens:
    print(f"{m.name:<14} ~{training_flops(m.parameters, m.training_tokens):.2g} FLOPs")

estimate = training_flops(gpt3.parameters, gpt3.training_tokens)
print(f"\nGPT-3: 6ND = {estimate:.3g} FLOPs; the paper reports "
      f"{GPT3_REPORTED_TRAINING_FLOPS:.3g} ({estimate / GPT3_REPORTED_TRAINING_FLOPS:.3f}x).")

# %% [markdown]
# The course's own foundation model, trained in [Chapter 4](../book/04_lstm_language_model.md), is many orders of
# magnitude smaller than any model in this table: small enough to train on a
# laptop in about a minute, yet it shows every idea of the course. Its
# notebook prints its own parameter count and training compute for comparison.
