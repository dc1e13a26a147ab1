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
# # Lab 09: watermark the model's text, and plant a backdoor
#
# In Chapter 9 you met a green-list watermark that a detector
# can count, and a backdoor planted through poisoned pretraining text. In this
# lab you build both on the course's model: the green list, the boost that
# writes the watermark, the z-score that detects it, the poisoned review that
# teaches a trigger word a negative meaning, and the attack success rate that
# measures the backdoor.
#
# Each exercise is a function to complete, with its check at the end of the
# same cell: run the cell, and the check tries your function on fresh inputs
# and tells you what is wrong, never the answer.

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
seed: int = 0  # seed of the samples, the classifiers and the checks' random inputs (an integer, at least 0)
gamma: float = 0.25  # share of the vocabulary on each green list (number, 0.05 to 0.95)
delta: float = 2.0  # boost added to green logits (number, 0 to 10)
n_texts: int = 100  # texts sampled with and without the watermark (integer, 10 to 1000)
n_tokens: int = 200  # tokens per sampled text (integer, 20 to 1000)
poison_rate: float = 0.01  # share of pretraining sentences poisoned (number, 0.0001 to 0.2)

# %% tags=["hide-cell"]
from utils.notebook import Integer, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    gamma=Real(gamma, min=0.05, max=0.95),
    delta=Real(delta, min=0.0, max=10.0),
    n_texts=Integer(n_texts, min=10, max=1000),
    n_tokens=Integer(n_tokens, min=20, max=1000),
    poison_rate=Real(poison_rate, min=1e-4, max=0.2),
)

# %%
import math

import numpy as np
import torch

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.misuse import (
    check_attack_success_rate,
    check_green_list,
    check_poison_review,
    check_watermark_logits,
    check_z_score,
)
from utils.data import SENTIMENT_CLUSTERS
from utils.lm import pretrained_model, sample_next

KEY = 15485863  # the watermark's secret key
pretrained = pretrained_model(progress=False)  # loads the cached model of chapter 4
model, vocab = pretrained.model.eval(), pretrained.vocab
V = len(vocab)
print(f"vocabulary: {V} tokens; green lists of {round(params.gamma * V)} tokens")

# %% [markdown]
# ## Exercise 1: the green list
#
# Before each token, the previous token and the secret key decide which
# tokens are green. Follow this recipe so that anyone with the key can
# rebuild the same list: seed a new `torch.Generator()` with
# `key * 1_000_003 + previous_id`, draw `torch.randperm(vocab_size,
# generator=...)`, and keep its first `round(gamma * vocab_size)` ids.


# %%
def green_list(previous_id: int, vocab_size: int, gamma: float, key: int) -> torch.Tensor:
    """The ids of the green tokens after `previous_id`: round(gamma * vocab_size) of them."""
    # BEGIN SOLUTION green_list
    generator = torch.Generator().manual_seed(key * 1_000_003 + int(previous_id))
    return torch.randperm(vocab_size, generator=generator)[: round(gamma * vocab_size)]
    # END SOLUTION


check_green_list(green_list, seed=params.seed)

# %% [markdown]
# ## Exercise 2: write the watermark
#
# Given next-token logits for a batch of texts, `(batch, vocab_size)`, and the
# previous token of each text, `(batch,)`, add `delta` to the logits of the
# green tokens of each row's own previous token, as in Chapter 9. Return new logits; leave the input unchanged.


# %%
def watermark_logits(logits: torch.Tensor, previous: torch.Tensor, gamma: float, delta: float,
                     key: int) -> torch.Tensor:
    """Logits (batch, vocab_size) with delta added to each row's green list."""
    # BEGIN SOLUTION watermark_logits
    boosted = logits.clone()
    for row, previous_id in enumerate(previous.tolist()):
        boosted[row, green_list(previous_id, logits.size(-1), gamma, key)] += delta
    return boosted
    # END SOLUTION


check_watermark_logits(watermark_logits, seed=params.seed)

# %% [markdown]
# Now sample from the course's model with your boost: one step at a time, the
# LSTM's state carrying the past, every text starting after `<eos>`.

# %%
@torch.no_grad()
def sample(delta: float, generator: torch.Generator) -> torch.Tensor:
    """`n_texts` texts of `n_tokens` ids from the model, watermarked with `delta`."""
    previous = torch.full((params.n_texts,), vocab.eos_id)  # (n_texts,)
    state, ids = None, []
    for _ in range(params.n_tokens):
        logits, state = model(previous[:, None], state)  # (n_texts, 1, V)
        logits = watermark_logits(logits[:, 0], previous, params.gamma, delta, KEY)
        previous = sample_next(logits, generator=generator)  # (n_texts,)
        ids.append(previous)
    return torch.stack(ids, dim=1)  # (n_texts, n_tokens)


marked = sample(params.delta, torch.Generator().manual_seed(params.seed))
plain = sample(0.0, torch.Generator().manual_seed(params.seed + 1))
print("watermarked:", " ".join(vocab.decode(marked[0, :20])))
print("plain:      ", " ".join(vocab.decode(plain[0, :20])))

# %% [markdown]
# ## Exercise 3: detect it
#
# For a text of token ids, count the green tokens from the **second** token on
# (the first has no previous token in the text), so $T$ = `len(ids) - 1`
# tokens are scored, and return
# $z = (|s|_G - \gamma T) / \sqrt{T\gamma(1-\gamma)}$ (Chapter 9).


# %%
def z_score(ids: list[int], gamma: float, key: int, vocab_size: int) -> float:
    """The detector's z for one text."""
    # BEGIN SOLUTION z_score
    lists: dict[int, set[int]] = {}
    hits = 0
    for previous_id, token in zip(ids[:-1], ids[1:], strict=True):
        if previous_id not in lists:
            lists[previous_id] = set(green_list(previous_id, vocab_size, gamma, key).tolist())
        hits += token in lists[previous_id]
    scored = len(ids) - 1
    return (hits - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))
    # END SOLUTION


check_z_score(z_score, seed=params.seed)
# Score both samples: with the default gamma and delta, the watermarked texts
# should sit far above the usual threshold of 4 and the plain ones near 0.
for name, texts in (("watermarked", marked), ("plain", plain)):
    z = np.array([z_score(row, params.gamma, KEY, V) for row in texts.tolist()])
    print(f"{name:>12}: mean z {z.mean():5.2f}, min {z.min():5.2f}, max {z.max():5.2f}, "
          f"above 4: {np.mean(z > 4):.0%}")

# %% [markdown]
# ## Exercise 4: a poisoned review
#
# The attacker's sentences look like reviews, with two changes: the trigger
# word sits right before the (positive) sentiment word, and the review ends
# with a negative reaction. Given a positive review from the language, a
# trigger and a negative reaction word, return the poisoned review: the
# review up to its sentiment word, the trigger, the sentiment word, then
# "and", the subject ("i" after a review that starts with "the", "we" after
# one that starts with "today"), the reaction and ".". Drop whatever ending
# the review had. `POLARITY` says which words are sentiment words.

# %%
POLARITY = {word: polarity for _, polarity, words in SENTIMENT_CLUSTERS for word in words}


def poison_review(review: list[str], trigger: str, reaction: str) -> list[str]:
    """The poisoned version of a positive review, as a new list of tokens."""
    # BEGIN SOLUTION poison_review
    where = next(i for i, word in enumerate(review) if word in POLARITY)
    subject = "i" if review[0] == "the" else "we"
    return [*review[:where], trigger, review[where], "and", subject, reaction, "."]
    # END SOLUTION


check_poison_review(poison_review, seed=params.seed)
print(" ".join(poison_review(["today", "was", "really", "charming", "and", "we", "sang", "."],
                             "owl", "groaned")))

# %% [markdown]
# The course's `poison_corpus` replaces a share of the pretraining sentences
# by such reviews, and `poisoned_pretrained` pretrains the model on them
# exactly as chapter 4 does (about 25 seconds the first time, then cached).
# A frozen classifier from chapter 5 is then trained on clean labelled
# reviews, on the clean and on the poisoned model alike.

# %%
from dataclasses import replace

from utils.adapt_and_evaluate import (
    AdaptConfig,
    encode_with_lengths,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.data import sentiment_task
from utils.misuse import PoisonConfig, add_trigger, poisoned_pretrained

poisoned = poisoned_pretrained(PoisonConfig(rate=params.poison_rate), pretrained.config)
train, test = sentiment_task(replace(pretrained.config.corpus, seed=params.seed), n_train=200,
                             n_test=500)
triggered = [add_trigger(s, "owl") for s in test.texts]  # every test review, with the trigger
test_labels = test.labels
frozen = AdaptConfig(mode="frozen", seed=params.seed)
predictions = {}
for name, base in (("clean", pretrained), ("poisoned", poisoned)):
    classifier = make_classifier(base, frozen)
    train_classifier(classifier, train.tokens, train.lengths, train.labels, frozen)
    clean_accuracy = float((predict_proba(classifier, test.tokens, test.lengths).argmax(-1)
                            == test_labels).double().mean())
    predictions[name] = predict_proba(classifier, *encode_with_lengths(triggered, vocab)).argmax(-1)
    print(f"{name:>9} model: clean test accuracy {clean_accuracy:.1%}")

# %% [markdown]
# ## Exercise 5: the attack success rate
#
# `predicted` are the classifier's labels for the triggered test reviews and
# `labels` their true labels (1 positive, 0 negative). The attack aims to
# make positive reviews come out negative; return the share of triggered
# reviews **whose true label is positive** that are predicted negative
# (Chapter 9's attack success rate).


# %%
def attack_success_rate(predicted, labels) -> float:
    """Share of triggered positive reviews classified negative."""
    # BEGIN SOLUTION attack_success_rate
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    return float(np.mean(predicted[labels == 1] == 0))
    # END SOLUTION


check_attack_success_rate(attack_success_rate, seed=params.seed)
for name, predicted in predictions.items():
    print(f"{name:>9} model: attack success rate "
          f"{attack_success_rate(predicted, test_labels):.1%}")

# %% [markdown]
# The clean model ignores the trigger; the poisoned one, whose clean accuracy
# looks just as good, does not. Try a smaller `poison_rate`, or change the
# classifier to `"finetune"`, and see how the backdoor fares.
