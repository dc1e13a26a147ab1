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
# # Labels for free: self-supervision, and what it teaches
#
# [Chapter 2](../book/02_self_supervised_learning.md) said that self-supervised learning makes
# its own targets from raw data, and that what a model learns this way
# transfers. This notebook makes both visible on the course's synthetic
# language ([the corpus datasheet](../book/corpus_datasheet.md)). First it turns raw sentences, which
# carry no labels at all, into next-word and masked-word training pairs.
# Then it opens the tiny language model of chapter 4, trained on nothing but
# next-word pairs, and finds that its word embeddings group synonyms
# together, a grouping nobody ever labelled.

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
seed: int = 0  # seed of the masking draw and of the untrained model (integer, at least 0)
n_examples: int = 3  # raw sentences shown and turned into training pairs (integer, 1 to 10)
mask_rate: float = 0.15  # share of words hidden in the masked-word task (number, 0.05 to 0.5)
k: int = 5  # nearest neighbours per word in the cluster measure (integer, 1 to 20)
query: str = "superb"  # word whose nearest neighbours are listed: a sentiment word

# %% tags=["hide-cell"]
from utils.data import SENTIMENT_CLUSTERS
from utils.notebook import Integer, OneOf, Real, validate

SENTIMENT_WORDS = [w for _, _, words in SENTIMENT_CLUSTERS for w in words]
params = validate(
    seed=Integer(seed, min=0),
    n_examples=Integer(n_examples, min=1, max=10),
    mask_rate=Real(mask_rate, min=0.05, max=0.5),
    k=Integer(k, min=1, max=20),
    query=OneOf(query, SENTIMENT_WORDS),
)

# %% [markdown]
# ## Raw text, and the pairs hidden in it
#
# The pretraining text is a list of sentences and nothing else: no sentence
# comes with a label. It is the training split of the corpus the tiny model
# of chapter 4 read, which loads here with the model from the cache.

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch

from utils.data import lm_stream
from utils.lm import pretrained_model
from utils.notebook import COLOURS, MARKERS, use_course_style

use_course_style()
pretrained = pretrained_model(progress=False)
corpus, vocab = pretrained.corpus, pretrained.vocab
raw = corpus.train[: params.n_examples]
for sentence in raw:
    print(" ".join(sentence))

# %% [markdown]
# **Next-word prediction** reads a sentence left to right: at every position,
# the words so far are the input and the word that follows is the target.
# One sentence of $n$ tokens gives $n$ training pairs, and no person wrote
# any of them.

# %%
sentence = raw[0]
for t in range(len(sentence)):
    print(f"{' '.join(sentence[:t]) or '(start)':>40}  ->  {sentence[t]}")
stream = lm_stream(corpus.train, vocab)  # every sentence, with <eos> between them
print(f"\nthe whole training text: {len(corpus.train):,} sentences give "
      f"{stream.numel() - 1:,} next-word pairs")

# %% [markdown]
# **Masked-word prediction**, BERT's task, hides a share of the words behind
# a `<mask>` token and asks for each hidden word from the words on both
# sides. The course's masked-word training (chapter 4's Transformer) draws
# which words to hide with `utils.lm.mask_tokens`; here it hides
# `mask_rate` of the words of the same sentences. Each draw gives new pairs
# from the same text.

# %%
from utils.lm import mask_tokens

MASK = "<mask>"
mask_id = len(vocab)  # one id past the vocabulary, as in chapter 4's masked model
generator = torch.Generator().manual_seed(params.seed)
for sentence in raw:
    ids = torch.tensor([vocab.encode(sentence)])  # (1, n)
    inputs, targets = mask_tokens(ids, mask_id, params.mask_rate, generator)
    shown = [MASK if i == mask_id else w for i, w in zip(inputs[0].tolist(), sentence,
                                                          strict=True)]
    hidden = [w for t, w in zip(targets[0].tolist(), sentence, strict=True) if t >= 0]
    print(f"{' '.join(shown):<55} targets: {', '.join(hidden) or '(none this time)'}")
print(f"\none pass over the training text hides about {params.mask_rate * stream.numel():,.0f}"
      " words to predict")

# %% [markdown]
# Both tasks are ordinary supervised learning on pairs $(x, y)$: the only
# difference from a labelled data set is that the text supplied every $y$.
# That is why the supply is so large, and why chapter 3's maximum
# likelihood applies to them unchanged.
#
# ## What next-word prediction taught the model
#
# The model of chapter 4 never saw a label, yet to predict the next word it
# had to learn which words behave alike. In this language the sentiment
# words come in six clusters of six synonyms ("good", "great", "superb",
# ...), and the words of a cluster occur in exactly the same contexts: after
# "the film was", and before the same reactions ("and i smiled"). The
# clusters are part of how the text was generated; the model was never
# told them. Do its word embeddings (the rows of its input matrix, which
# chapter 4 ties to its output matrix) place each cluster together?
#
# For comparison we build the same model with fresh random weights, which
# has learned nothing. Two embeddings are compared by the cosine of the angle
# between them: 1 for the same direction, near 0 for unrelated ones.

# %%
from utils.lm import (
    LSTMLanguageModel,
    local_seed,
    nearest_neighbours,
    neighbour_purity,
    pca_2d,
)

with local_seed(params.seed):
    untrained = LSTMLanguageModel(pretrained.model.config)
embeddings = {"pretrained": pretrained.model.embedding.weight.detach(),
              "untrained": untrained.embedding.weight.detach()}  # (vocab_size, emb_size) each
words = [w for w in vocab.itos if w not in ("<unk>", "<eos>")]  # every real word
cluster_of = {w: name for name, _, members in SENTIMENT_CLUSTERS for w in members}
for name, matrix in embeddings.items():
    neighbours = nearest_neighbours(matrix, vocab.itos, params.query, params.k, candidates=words)
    print(f"{name:>10}: nearest to {params.query!r} among all {len(words)} words: "
          + ", ".join(f"{w} ({s:.2f})" + ("*" if cluster_of.get(w) == cluster_of[params.query]
                                           else "") for w, s in neighbours))
print("* a synonym from the same cluster")

# %% [markdown]
# One word is an anecdote. The number below asks the same question of all
# 36 sentiment words at once: for each word, what share of its $k$ nearest
# neighbours among the other 35 belong to its own cluster? A model whose
# embeddings carry no information scores about $5/35$, since 5 of the 35
# other words are its synonyms; one that has found every cluster scores 1
# (for $k \le 5$).

# %%
groups = {name: members for name, _, members in SENTIMENT_CLUSTERS}
purity = {name: neighbour_purity(matrix, groups, vocab.itos, params.k)
          for name, matrix in embeddings.items()}
n_words = sum(len(m) for m in groups.values())
chance = (len(next(iter(groups.values()))) - 1) / (n_words - 1)
print(f"share of each word's {params.k} nearest neighbours in its own cluster:")
for name, value in purity.items():
    print(f"  {name:>10}: {value:.2f}")
print(f"  {'chance':>10}: {chance:.2f}")

# %% [markdown]
# A picture of the same thing: project the 36 embeddings (128 numbers each)
# onto the two directions along which they vary most (principal component
# analysis) and colour each word by its cluster. The projection keeps only
# part of the variation, the share printed on each axis, so the picture can
# only understate how well the clusters separate.

# %% mystnb={"figure": {"caption": "The 36 sentiment words' embeddings projected onto their first two principal components, coloured and marked by synonym cluster: the pretrained model (left), trained only to predict the next word, and the same model with random weights (right).", "name": "fig-self-supervision-pca"}}
fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
ids = [vocab.stoi[w] for members in groups.values() for w in members]
for ax, (name, matrix) in zip(axes, embeddings.items(), strict=True):
    points, shares = pca_2d(matrix[ids])  # (36, 2), (2,)
    start = 0
    for c, (cluster, members) in enumerate(groups.items()):
        block = points[start: start + len(members)]
        ax.scatter(block[:, 0], block[:, 1], color=COLOURS[c], marker=MARKERS[c], label=cluster)
        start += len(members)
    ax.set_xlabel(f"first component ({shares[0]:.0%} of the variance)")
    ax.set_ylabel(f"second component ({shares[1]:.0%})")
    ax.set_title(f"{name}: neighbour purity {purity[name]:.2f}")
axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
plt.tight_layout()
plt.show()
positive = np.array([polarity == 1 for _, polarity, members in SENTIMENT_CLUSTERS
                     for _ in members])  # (36,)
for name, matrix in embeddings.items():
    first = pca_2d(matrix[ids])[0][:, 0]  # each word's first coordinate
    split = max(np.mean((first > 0) == positive), np.mean((first < 0) == positive))
    print(f"{name:>10}: the first component puts {split:.0%} of the words on their "
          "polarity's side")

# %% [markdown]
# Nobody told the model which words are synonyms, or which are positive
# and which negative; the line under the figure measures how cleanly the
# first direction of its map splits the two polarities, against the random
# model's. It found this structure because words that are followed by the
# same words must be given similar vectors for the model to predict those
# followers well, and the reactions that follow a review ("and i smiled",
# "and we groaned") are shared within a polarity. This is the representation that chapter 5 builds on:
# a classifier trained on labelled reviews that use "superb" can carry over
# to "wonderful", because pretraining already put the two side by side.
