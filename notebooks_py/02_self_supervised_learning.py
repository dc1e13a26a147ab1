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
seed: int = 0  # seed of the masking draw and of the untrained model (integer, at least 0)
n_examples: int = 3  # raw sentences shown and turned into training pairs (integer, 1 to 10)
mask_rate: float = 0.15  # share of words hidden in the masked-word task (number, 0.05 to 0.5)
k: int = 5  # nearest neighbours per word in the cluster measure (integer, 1 to 20)
query: str = "superb"  # word whose nearest neighbours are listed: a sentiment word
n_merges: int = 500  # merges the byte-pair tokeniser learns (integer, 50 to 2000)

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
    n_merges=Integer(n_merges, min=50, max=2000),
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
import pandas as pd
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
# any of them. The pairs overlap: the input of each is the previous input
# plus one word, which is why a model that reads left to right can compute
# all of a sentence's predictions in one pass.

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
# from the same text. A sentence can come out with nothing hidden, as short
# ones often do: the share is a rate, drawn word by word, not a quota per
# sentence. The masked task sees context on both sides of the gap, which
# makes it a better teacher of representations and a worse one of
# generation: the model never learns to continue a text it has not seen.

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
# ## From text to tokens: byte-pair encoding
#
# Above, a token was a word, which works for a language of 224 words. Real
# text has no fixed vocabulary: a word model must map every word it never
# saw to `<unk>`, and a character model makes every sequence several times
# longer. Byte-pair encoding, BPE ([Sennrich et al., 2016](../book/references.md)),
# sits between the two. It starts from the 256 byte values, so any text, in
# any script, has an encoding, and then learns its vocabulary from the text:
# count every pair of adjacent tokens, make the most frequent pair a new
# token, and repeat `n_merges` times. Ties go to the pair with the smaller
# ids, and pairs never cross from one word into the next: a word may take
# the space in front of it, so `" the"` can become one token.
# `utils.data.train_bpe` keeps the pair counts up to date as it merges,
# instead of counting again, which is what makes it fast.
#
# We train it on two texts: the King James Bible, which ships with the
# course, and the course's synthetic corpus (the training sentences above).

# %%
import time

from utils.data import decode, encode, load_kjv_text, split_chunks, token_bytes, train_bpe

kjv = load_kjv_text(max_chars=300_000)  # single spaces, so each model below reads the same text
texts = {"King James Bible": [" ".join(line.split()) for line in kjv.splitlines() if line.strip()],
         "course corpus": [" ".join(s) for s in corpus.train[:6000]]}
merges = {}
for name, lines in texts.items():
    start = time.perf_counter()
    merges[name] = train_bpe("\n".join(lines[len(lines) // 5:]), params.n_merges)
    print(f"{name}: {sum(map(len, lines)):,} characters; {len(merges[name])} merges "
          f"learnt in {time.perf_counter() - start:.2f} s")

# %% [markdown]
# The first step, by hand: cut the Bible's training lines into chunks, count
# every adjacent pair of bytes in them, and take the most frequent pair (on
# a tie, the smaller one). It must be the trainer's first merge; a pair of
# bytes prints as two numbers from 0 to 255, and as the text they spell:

# %%
from collections import Counter

lines = texts["King James Bible"]
chunks = split_chunks("\n".join(lines[len(lines) // 5:]))  # the lines BPE was trained on
pair_counts = Counter(p for c in chunks for p in zip(c, c[1:], strict=False))  # bytes are ints
top = max(pair_counts.values())
first = min(pair for pair, count in pair_counts.items() if count == top)
assert first == merges["King James Bible"][0]
print(f"most frequent pair {first} = {bytes(first)!r}, {top:,} times")

# %% [markdown]
# Every later merge repeats this step on the text as the merges so far have
# rewritten it. The trainer does not recount: after each merge it adjusts
# only the counts of the pairs that touched a merged one.

# %% [markdown]
# The first merges each learnt, shown as the bytes of the new token (a
# space is shown as `␣`): common letter pairs first, then frequent words
# with their leading space.

# %%
def shown(token: bytes) -> str:
    return token.decode("utf-8", errors="replace").replace(" ", "␣")


pd.DataFrame({name: [shown(t) for t in token_bytes(m)[256:271]] for name, m in merges.items()},
             index=pd.RangeIndex(1, 16, name="merge"))

# %% [markdown]
# A sentence from the Bible's held-out part, split into tokens, and the
# average number of tokens per word on each held-out text. Frequent words are
# one token; a rare word is split into pieces that were frequent.

# %%
sentence = texts["King James Bible"][3][:120]
pieces = [decode([i], merges["King James Bible"]) for i in encode(sentence, merges["King James Bible"])]
print(" | ".join(shown(p) for p in pieces))
per_word = {}
for name, lines in texts.items():
    held_out = lines[: len(lines) // 5]
    n_tokens = sum(len(encode(line, merges[name])) for line in held_out)
    per_word[name] = n_tokens / sum(len(line.split()) for line in held_out)
pd.Series(per_word, name="BPE tokens per word (held-out text)").to_frame().round(2)

# %% [markdown]
# The synthetic corpus has 224 words, each frequent, so a few hundred merges
# learn nearly all of them whole and a word is about one token. The Bible
# has thousands of distinct words: with `n_merges` merges only the frequent
# ones become one token, and a rare word is spelled in pieces, as the
# sentence shows. More merges bring the count closer to one token per word,
# at the price of a larger vocabulary, and so of a larger embedding matrix
# in a neural model. Nothing is ever unknown: a word, or a script, that the
# tokeniser never saw still falls back to its bytes, and `decode` returns
# exactly the bytes that went in.

# %% [markdown]
# ### Perplexities under different tokenisers do not compare
#
# Perplexity is $2^{H}$, where $H$ is the mean loss per token in bits. Split
# the same text into characters and the model makes many easy predictions;
# into words and it makes a few hard ones. Its perplexity changes with the
# unit even if it describes the text equally well. What does not change is
# the text: a model's total loss on it, in bits, is the length of the code
# it would give the text, and dividing by the number of characters gives
# **bits per character**, one unit for every tokeniser. Say a model codes a
# line of 100 characters (20 words) in 250 bits: that is 2.5 bits per
# character, whether it read the line as 100 characters, with a perplexity
# of $2^{250/100} \approx 5.7$, or as 20 words, with a perplexity of
# $2^{250/20} \approx 5{,}800$. The two perplexities differ a thousandfold
# for one and the same description of the text.
#
# The cheapest models show it: add-$k$ $n$-gram models (chapter 3) at the
# level of characters, BPE tokens and words. Each reads a text line by line,
# and a line ends with a newline token (the newline counts as a character),
# so all three describe exactly the same characters.

# %%
import math

from utils.data import UNK
from utils.lm import NGramModel
from utils.notebook import glue

NEWLINE = "\n"


def split_into(level: str, line: str, merges: list[tuple[int, int]]) -> list[str]:
    """One line as tokens of the level, ending with the newline token."""
    if level == "character":
        tokens = list(line)
    elif level == "BPE":
        tokens = [str(i) for i in encode(line, merges)]
    else:
        tokens = line.split()
    return tokens + [NEWLINE]


# %% [markdown]
# A model's cost for a line is the sum of its tokens' losses in bits,
# $-\log_2 P(\text{token} \mid \text{the } n - 1 \text{ tokens before it})$.
# The word model meets words it never saw in training. Mapping them all to
# `<unk>` would let it predict an easier text than the other two, one where
# every rare word is the same word; so an unknown token is charged the
# `<unk>` token's loss plus the cost of spelling it out, 8 bits for each of
# its bytes and 8 more for its end. The BPE model predicts every token of its
# vocabulary, so nothing is unknown to it.

# %%
def total_bits(model: NGramModel, tokens: list[str]) -> float:
    """Bits to code one line's tokens, unknown ones spelled out byte by byte."""
    known = set(model.vocab)
    seen = [t if t in known else UNK for t in tokens]
    bits = 0.0
    for i, token in enumerate(seen):
        bits -= math.log2(model.prob(token, seen[max(0, i - model.n + 1): i]))
        if token == UNK:
            bits += 8 * (len(tokens[i].encode("utf-8")) + 1)
    return bits


# %% [markdown]
# Each level gets its own best model: the order $n$ (2 to 6) and the
# smoothing $k$ (0.001, 0.01 or 0.1) that code 100 validation lines in the
# fewest bits. Nothing else is tuned.

# %%
def fit_best(level: str, train_lines: list[str], valid_lines: list[str],
             merges: list[tuple[int, int]]) -> NGramModel:
    """The add-k n-gram model of the level whose n and k code the validation lines best."""
    sequences = [split_into(level, line, merges) for line in train_lines]
    vocab = ([str(i) for i in range(256 + len(merges))] + [NEWLINE] if level == "BPE"
             else sorted({t for s in sequences for t in s}) + [UNK])
    valid = [split_into(level, line, merges) for line in valid_lines]
    fitted = [NGramModel(n).fit(sequences, vocab) for n in (2, 3, 4, 5, 6)]
    candidates = [model.with_k(k) for model in fitted for k in (0.001, 0.01, 0.1)]
    return min(candidates, key=lambda m: sum(total_bits(m, tokens) for tokens in valid))


# %% [markdown]
# The held-out fifth of each text (the lines BPE did not learn from) is
# scored in three parts. For each part we record the perplexity per token,
# $2^{\text{bits} / \text{tokens}}$, and the bits per character,
# $\text{bits} / \text{characters}$: the same total bits, divided by two
# different counts.

# %%
rows = []
for name, lines in texts.items():
    fifth = len(lines) // 5
    held_out, valid, train = lines[:fifth], lines[fifth: fifth + 100], lines[fifth + 100:]
    for level in ("character", "BPE", "word"):
        model = fit_best(level, train, valid, merges[name])
        known = set(model.vocab)
        for part in range(3):
            part_lines = held_out[part::3]
            tokens = [split_into(level, line, merges[name]) for line in part_lines]
            n_tokens = sum(map(len, tokens))
            bits = sum(total_bits(model, t) for t in tokens)
            rows.append({"text": name, "tokens": level, "n": model.n, "k": model.k,
                         "unknown": sum(t not in known for ts in tokens for t in ts) / n_tokens,
                         "perplexity": 2 ** (bits / n_tokens),
                         "bits per character": bits / sum(len(line) + 1 for line in part_lines)})

# %% [markdown]
# The mean over the three parts, and for bits per character the range (min
# to max); `unknown` is the share of held-out tokens the model never saw.
#
# The chapter's page quotes the Bible's three rows of this table (perplexity
# per token and bits per character) from this very run, so when a parameter
# or a library changes what the run measures, the page says so too instead of
# repeating an older number.

# %%
scores = pd.DataFrame(rows).groupby(["text", "tokens"], sort=False)
summary = scores.agg(n=("n", "first"), k=("k", "first"), unknown=("unknown", "mean"),
                     perplexity=("perplexity", "mean"), bpc=("bits per character", "mean"),
                     bpc_min=("bits per character", "min"), bpc_max=("bits per character", "max"))
for level in ("character", "BPE", "word"):  # the chapter page quotes the Bible's rows
    glue(f"bible_{level}_perplexity", float(summary.loc[("King James Bible", level), "perplexity"]))
    glue(f"bible_{level}_bpc", float(summary.loc[("King James Bible", level), "bpc"]))
summary.round(3)

# %% [markdown]
# Read the perplexity column first: on both texts it ranks the character
# model best by a wide margin, because one character is far easier to guess
# than one word. (The word model's perplexity on the Bible is huge also
# because the `unknown` share of its held-out words, never seen in training,
# had to be spelled out.) The bits per character put the three models on one
# scale, and at the default settings the order changes: the BPE model codes
# each text in the fewest bits, ahead of the character model. A likely
# reason, not tested here: with a few tokens of history, a model of BPE
# tokens, which are longer, sees further back. On the synthetic corpus,
# whose 224 words all occur in training and which BPE learns almost word
# for word, the BPE and word models come out close. Whenever tokenisers differ, or models
# that use different ones are compared, the comparison is made in bits per
# character (or per byte), never in perplexity. Chapter 2's text reports the
# same comparison with chapter 4's LSTM, trained for equal compute at each
# level (`experiments/tokeniser_bits_per_char.py`).
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
from utils.lm import LSTMLanguageModel, nearest_neighbours, neighbour_purity, pca_2d
from utils.runtime import local_seed

with local_seed(params.seed):
    untrained = LSTMLanguageModel(pretrained.model.config)
embeddings = {"pretrained": pretrained.model.embedding.weight.detach(),
              "untrained": untrained.embedding.weight.detach()}  # (vocab_size, emb_size) each
words = [w for w in vocab.itos if w not in ("<unk>", "<eos>")]  # every real word

# %% [markdown]
# ### Nearest neighbours, written out
#
# Scale every embedding to length 1; then the dot product of two rows is the
# cosine of their angle, and one matrix product gives the query's cosine with
# every word. The neighbours are the $k$ candidates with the largest cosines
# (here $k$ counts neighbours, not the pseudo-counts of add-$k$ smoothing).
# Checked against `utils.lm.nearest_neighbours` on both models:

# %%
def nearest_by_hand(matrix: torch.Tensor, itos: list[str], query: str, k: int,
                    candidates: list[str]) -> list[tuple[str, float]]:
    """The k candidates whose embeddings have the largest cosine with the query's."""
    unit = matrix / matrix.norm(dim=1, keepdim=True)  # (vocab_size, emb_size), rows of length 1
    cosine = unit @ unit[itos.index(query)]  # (vocab_size,)
    pool = [w for w in candidates if w != query]
    ranked = sorted(pool, key=lambda w: -float(cosine[itos.index(w)]))
    return [(w, float(cosine[itos.index(w)])) for w in ranked[:k]]


for matrix in embeddings.values():
    ours = nearest_by_hand(matrix, vocab.itos, params.query, params.k, words)
    theirs = nearest_neighbours(matrix, vocab.itos, params.query, params.k, candidates=words)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    assert np.allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-6)

# %% [markdown]
# The query's nearest neighbours in each model among every real word of the
# vocabulary, with their cosines; a star marks a synonym from the query's own
# cluster. The untrained model is the control: its neighbours are whatever
# random vectors happen to point the same way, with cosines near zero.

# %%
cluster_of = {w: name for name, _, members in SENTIMENT_CLUSTERS for w in members}
pd.DataFrame({name: [f"{w} ({s:.2f})" + ("*" if cluster_of.get(w) == cluster_of[params.query]
                                         else "") for w, s in nearest_neighbours(
    matrix, vocab.itos, params.query, params.k, candidates=words)]
    for name, matrix in embeddings.items()}, index=pd.RangeIndex(1, params.k + 1, name="rank"))

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
print(f"{n_words} sentiment words in {len(groups)} clusters; each embedding holds "
      f"{embeddings['pretrained'].shape[1]} numbers")
pd.Series({**purity, "chance": chance},
          name=f"share of the {params.k} nearest neighbours in the own cluster").to_frame().round(2)

# %% [markdown]
# The pretrained model is far above chance and the untrained one is not: the
# clusters were found by training, not built into the architecture. A score
# below 1 does not mean the model confused the clusters at random: often the
# neighbour that is not a synonym is a word of the other cluster of the same
# polarity, which occurs in nearly the same contexts.
#
# A picture of the same thing: project the 36 embeddings (each holds as
# many numbers as printed above, the model's embedding size, too many to
# draw) onto the two directions along which they vary most (principal component
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
#
# What to take away: self-supervision turns raw text into as many labelled
# pairs as it has words; predicting those pairs well forces a model to group
# words by how they behave; and a comparison with the same network untrained
# shows that the grouping was learnt from the text, not built in. Chapter 5
# puts that grouping to work on a task with labels.
