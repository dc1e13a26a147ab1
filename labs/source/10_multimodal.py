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
# # Lab 10: a contrastive image–text model
#
# CLIP learns to put an image and its caption near each other in one space.
# This lab writes its three working parts from scratch: the Vision
# Transformer's patches, CLIP's symmetric contrastive loss, and zero-shot
# classification from prompt embeddings. Then it trains the course's tiny CLIP
# with your loss and classifies with your function, on the synthetic images of
# Chapter 10's section on images and captions.
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
seed: int = 0  # seed of the checks' inputs and of the training run (an integer, at least 0)
steps: int = 150  # optimizer steps of the tiny CLIP trained with your loss (20 to 2000)

# %% tags=["hide-cell"]
from utils.notebook import Integer, validate

params = validate(seed=Integer(seed, min=0), steps=Integer(steps, min=20, max=2000))

# %%
import torch
import torch.nn.functional as F

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.multimodal import (
    check_contrastive_loss,
    check_patchify,
    check_zero_shot_predict,
)

# %% [markdown]
# ## Exercise 1: cutting an image into patches
#
# A Vision Transformer reads an image of shape `(C, H, W)` as a sequence of
# non-overlapping `p × p` patches. Number the patches row by row, left to
# right, as a text is read: patch `i * (W // p) + j` covers rows `i·p` to
# `i·p + p - 1` and columns `j·p` to `j·p + p - 1`. Flatten each patch channel
# first, then row, then column, the order of a convolution's weight, so that
# one linear layer on your patches equals a convolution with kernel and stride
# `p`. Return a tensor of shape `(batch, (H/p)·(W/p), C·p·p)`; `H` and `W` need
# not be equal.


# %%
def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """(batch, C, H, W) -> (batch, number of patches, C * patch * patch), row by row."""
    # BEGIN SOLUTION patchify
    batch, channels, height, width = images.shape
    grid = images.reshape(batch, channels, height // patch, patch, width // patch, patch)
    grid = grid.permute(0, 2, 4, 1, 3, 5)  # (batch, rows, cols, C, p, p)
    return grid.reshape(batch, -1, channels * patch * patch)
    # END SOLUTION


check_patchify(patchify, seed=params.seed)

# %% [markdown]
# ## Exercise 2: CLIP's contrastive loss
#
# For a batch of $n$ matching pairs, normalise each image feature $u_i$ and
# each text feature $v_j$ to unit length, and let
# $s_{ij} = (u_i \cdot v_j) / \tau$. Row $i$ of $s$ classifies image $i$ among
# the captions (the right one is caption $i$); column $j$ classifies caption
# $j$ among the images. The loss is the mean of the two cross-entropies:
#
# $$
# \mathcal{L} = \tfrac{1}{2}\Big(\tfrac{1}{n}\sum_i -\log
#   \frac{e^{s_{ii}}}{\sum_j e^{s_{ij}}}
#   + \tfrac{1}{n}\sum_i -\log \frac{e^{s_{ii}}}{\sum_j e^{s_{ji}}}\Big).
# $$
#
# Mind small temperatures: at $\tau = 0.01$ a logit can reach 100, and
# $e^{100}$ overflows in float32.


# %%
def contrastive_loss(image_features: torch.Tensor, text_features: torch.Tensor,
                     temperature: float) -> torch.Tensor:
    """CLIP's symmetric loss for (n, d) features whose row i match, as a 0-d tensor."""
    # BEGIN SOLUTION contrastive_loss
    u = F.normalize(image_features, dim=1)
    v = F.normalize(text_features, dim=1)
    logits = u @ v.T / temperature
    targets = torch.arange(len(u))
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
    # END SOLUTION


check_contrastive_loss(contrastive_loss, seed=params.seed)

# %% [markdown]
# ## Exercise 3: zero-shot classification
#
# Given image embeddings `(n, d)` and one prompt embedding per class
# `(classes, d)`, e.g. of "a red circle", "a blue square", ..., give each image
# the class whose prompt has the highest **cosine** similarity with it. Return
# the class indices, shape `(n,)`. Prompt embeddings come out of the text
# encoder with different lengths; a plain dot product would favour the longest.


# %%
def zero_shot_predict(image_embeddings: torch.Tensor,
                      prompt_embeddings: torch.Tensor) -> torch.Tensor:
    """The index of each image's nearest prompt by cosine similarity, shape (n,)."""
    # BEGIN SOLUTION zero_shot_predict
    cosines = F.normalize(image_embeddings, dim=1) @ F.normalize(prompt_embeddings, dim=1).T
    return cosines.argmax(dim=1)
    # END SOLUTION


check_zero_shot_predict(zero_shot_predict, seed=params.seed)

# %% [markdown]
# ## Putting it together: a tiny CLIP trained with your loss
#
# The course's tiny CLIP (a Vision Transformer and a text Transformer) trains
# here for a few seconds with your loss, its temperature learned as in CLIP;
# then your zero-shot function classifies new images among the twelve
# colour–shape prompts. Chance is one in twelve.

# %%
import numpy as np

from utils.data.images import ImageConfig, combinations, encode_captions, generate_images
from utils.outlook.multimodal import ClipConfig, TinyClip, combination_labels
from utils.runtime import local_seed

data = generate_images(ImageConfig(n=2000, seed=params.seed))
images, tokens = torch.from_numpy(data.images), torch.from_numpy(encode_captions(data.captions))
with local_seed(params.seed):
    model = TinyClip(ClipConfig())
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
rng = np.random.default_rng(params.seed)
for _ in range(params.steps):
    batch = torch.from_numpy(rng.choice(len(images), 64, replace=False))
    temperature = 1 / model.logit_scale.clamp(max=np.log(100)).exp()
    loss = contrastive_loss(model.image_encoder(images[batch]),
                            model.text_encoder(tokens[batch]), temperature)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"loss after {params.steps} steps: {loss.item():.3f}; temperature {temperature.item():.3f}")

# %%
test = generate_images(ImageConfig(n=300, kinds=(("single", 1.0),), seed=params.seed + 1000))
prompts = [f"a {colour} {shape}" for colour, shape in combinations()]
with torch.no_grad():
    predicted = zero_shot_predict(model.image_encoder(torch.from_numpy(test.images)),
                                  model.text_encoder(torch.from_numpy(encode_captions(prompts))))
accuracy = (predicted.numpy() == combination_labels(test)).mean()
print(f"zero-shot accuracy with your functions: {accuracy:.2f} (chance {1 / len(prompts):.2f})")
