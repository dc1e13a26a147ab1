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
# # Lab 04: attention, one head at a time
#
# A Transformer replaces the LSTM's recurrence with **self-attention**: every
# position looks at the positions it may see and takes a weighted average of
# what they hold. This lab builds the two pieces of the course's tiny
# Transformer (`utils/lm/transformer.py`) that matter most: one head of
# causal self-attention, and the split of a layer's features into heads.
#
# Each check tries your function on fresh random inputs and compares it with
# PyTorch's `scaled_dot_product_attention`; when they differ it says what is
# wrong, never the answer.

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
seed: int = 0  # seed of the checks' random inputs and of the demo (an integer, at least 0)
seq_len: int = 8  # length of the demo sequence whose attention weights are drawn (integer, 2 to 32)

# %% tags=["hide-cell"]
from utils.notebook import Integer, validate

params = validate(
    seed=Integer(seed, min=0),
    seq_len=Integer(seq_len, min=2, max=32),
)

# %%
import math

import torch

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.transformer import check_causal_attention, check_split_heads

generator = torch.Generator().manual_seed(params.seed)

# %% [markdown]
# ## Exercise 1: causal self-attention for one head
#
# Given queries $Q$, keys $K$ and values $V$, each of shape
# `(..., seq, d)`, one head of attention computes
#
# $$ \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^\top}{\sqrt{d}} + M\right) V, $$
#
# where the mask $M$ is $0$ where a query may look and $-\infty$ where it may
# not. In a language model, position $t$ may look at positions $0, \dots, t$
# (itself included) and never later, or predicting the next word would be
# copying it. The softmax runs over the keys: each query's weights sum to 1.
#
# Use only tensor operations (`@`, `.transpose`, `torch.softmax`,
# `masked_fill`...), not `scaled_dot_product_attention` itself.


# %%
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d, future masked) v for tensors of shape (..., seq, d)."""
    # BEGIN SOLUTION causal_attention
    seq, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., seq, seq)
    future = torch.ones(seq, seq, dtype=torch.bool, device=q.device).triu(1)
    weights = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
    return weights @ v  # (..., seq, d)
    # END SOLUTION


check_causal_attention(causal_attention, seed=params.seed)

# %% [markdown]
# ## Exercise 2: split a layer's features into heads
#
# A layer with `d_model` features and `heads` heads gives each head its own
# contiguous slice of `d_model // heads` features: head 0 gets features
# `0 .. head_dim - 1`, head 1 the next slice, and so on. Turn `x` of shape
# `(batch, seq, d_model)` into `(batch, heads, seq, head_dim)`, so that every
# head can run exercise 1's attention on its own slice at once.


# %%
def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(batch, seq, d_model) -> (batch, heads, seq, d_model // heads)."""
    # BEGIN SOLUTION split_heads
    batch, seq, d_model = x.shape
    return x.view(batch, seq, heads, d_model // heads).transpose(1, 2)
    # END SOLUTION


check_split_heads(split_heads, seed=params.seed)

# %% [markdown]
# ## What your attention does
#
# Feed your function a sequence whose queries and keys are random and whose
# values are the one-hot position indices: row $t$ of the output is then
# exactly the attention weights of position $t$. The lower triangle is where
# each position looks; the upper triangle, the future, is empty.

# %% mystnb={"figure": {"caption": "The attention weights your causal_attention gives on random queries and keys: each row sums to one over the positions up to itself.", "name": "fig-lab-attention"}}
import matplotlib.pyplot as plt

from utils.notebook import use_course_style

use_course_style()
q = torch.randn(params.seq_len, 4, generator=generator)
k = torch.randn(params.seq_len, 4, generator=generator)
weights = causal_attention(q, k, torch.eye(params.seq_len))  # (seq, seq): row t = weights of t
fig, ax = plt.subplots(figsize=(4, 3.5))
image = ax.imshow(weights, cmap="Blues", vmin=0, vmax=1)
ax.set_xlabel("key position")
ax.set_ylabel("query position")
fig.colorbar(image, ax=ax, label="weight")
plt.show()
print(f"each row sums to 1: {torch.allclose(weights.sum(-1), torch.ones(params.seq_len))}")
