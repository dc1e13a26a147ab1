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
# # The tiny foundation model
#
# [Chapter 4](../book/04_lstm_language_model.md) described the course's tiny foundation model: an
# embedding, an LSTM and a softmax, trained by maximum likelihood on the
# synthetic corpus ([the corpus datasheet](../book/corpus_datasheet.md)). This notebook trains it (or
# loads it from the cache, if it was trained before with the same settings),
# watches its loss fall, compares its perplexity with the n-gram models of
# [Chapter 3](../book/03_maximum_likelihood.md) and with the entropy floor of the language, lets it write at
# several temperatures, and measures one thing it learned that no n-gram
# can: making a verb agree with a subject several words back.

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
# The defaults give the model every other chapter uses, already in the cache
# after its first training. Changing `seed`, `hidden_size` or `epochs` makes
# another model, trained here (the next cells print how long its training took).

# %% tags=["parameters"]
seed: int = 0  # seed of the corpus and of training (an integer, at least 0)
hidden_size: int = 128  # size of the word embeddings and of the LSTM state (integer, 16 to 512)
epochs: int = 10  # passes over the training text (integer, 1 to 50)
temperature: float = 1.0  # the middle sampling temperature; half and twice it are shown too (number, 0.1 to 5)
prompt: str = "the cat sat on the"  # text to continue and explore: one of PROMPTS in the next cell
n_items: int = 1000  # agreement test items, drawn fresh from the grammar (integer, 100 to 5000)

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, Real, validate

PROMPTS = ["the cat sat on the", "the keys near the old red barn", "the film was",
           "the nurse said that", "the code is"]
params = validate(
    seed=Integer(seed, min=0),
    hidden_size=Integer(hidden_size, min=16, max=512),
    epochs=Integer(epochs, min=1, max=50),
    temperature=Real(temperature, min=0.1, max=5.0),
    prompt=OneOf(prompt, PROMPTS),
    n_items=Integer(n_items, min=100, max=5000),
)

# %% [markdown]
# ## Pretrain, or load from the cache
#
# `pretrained_model` builds the configuration's corpus and model, then looks
# for weights trained with exactly this configuration in the model cache. The
# first time, it trains (with a progress bar) and saves them; every later
# call, from any notebook, loads them in about a second.

# %%
import dataclasses
import math
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.data import CorpusConfig, SyntheticLanguage
from utils.lm import PretrainConfig, pretrained_model
from utils.notebook import glue, plain_log_ticks, use_course_style

use_course_style()
default = PretrainConfig()
config = dataclasses.replace(
    default, corpus=CorpusConfig(seed=params.seed), emb_size=params.hidden_size,
    hidden_size=params.hidden_size,
    train=dataclasses.replace(default.train, epochs=params.epochs, seed=params.seed))
start = time.perf_counter()
pre = pretrained_model(config, progress=True)
model, vocab, corpus = pre.model, pre.vocab, pre.corpus
how = "loaded from the cache" if pre.from_cache else "trained now"
print(f"{how} in {time.perf_counter() - start:.1f} s; training took "
      f"{pre.record.train_time_s:.0f} s for {pre.record.steps} steps")
glue("training_seconds", pre.record.train_time_s)  # chapters 1 and 4 state it

# %% [markdown]
# How big is it? [Chapter 1](../book/01_foundation_models.md) compared models by their parameter count $N$ and
# the tokens they trained on $D$; training costs about $6ND$ floating-point
# operations (two for the forward pass and four for the backward pass, per
# parameter and token).

# %%
from utils.data import published_model, training_flops

n_params = model.num_parameters()
tokens = pre.record.tokens
flops = training_flops(n_params, tokens)
gpt3 = published_model("GPT-3")
sizes = pd.DataFrame(
    {"parameters N": [n_params, gpt3.parameters],
     "training tokens D": [tokens, gpt3.training_tokens],
     "training compute 6ND (FLOPs)": [flops, training_flops(gpt3.parameters,
                                                           gpt3.training_tokens)]},
    index=[f"this model ({config.train.epochs} epochs)", "GPT-3"])
sizes.loc["GPT-3 / this model"] = sizes.iloc[1] / sizes.iloc[0]
sizes.style.format("{:.2e}")

# %% [markdown]
# The last row is the gap: how many times as many parameters GPT-3 has, how
# many times as many tokens it read, and how many times the compute it took.
# The recipe is the same; the scale is not.
#
# ## The loss curves
#
# The training loss is recorded at every optimizer step (thinned to a few
# hundred points for the cache), the validation perplexity after every epoch.
# Both count `<eos>` as a token, as training does.

# %% mystnb={"figure": {"caption": "Left: the training loss (mean cross-entropy in nats) at each optimizer step. Right: the validation perplexity after each epoch.", "name": "fig-tiny-curves"}}
train_loss = np.array(pre.record.train_loss)
steps = np.linspace(1, pre.record.steps, len(train_loss))
valid = pre.record.valid
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
left.plot(steps, train_loss)
left.set_xlabel("optimizer step")
left.set_ylabel("training loss (nats)")
left.set_yscale("log")
plain_log_ticks(left.yaxis)  # "2, 3, 4" rather than "2×10⁰"
right.plot([v["epoch"] for v in valid], [v["perplexity"] for v in valid], marker="o")
right.set_xlabel("epoch")
right.set_ylabel("validation perplexity")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Against the n-grams and the floor
#
# To compare with [Chapter 3](../book/03_maximum_likelihood.md)'s n-gram models we must score the same tokens:
# every word of every held-out sentence, the final "." included, but not the
# `<eos>` separators the LSTM's stream adds (an n-gram never predicts them).
# `evaluate_language_model(..., ignore_index=vocab.eos_id)` does exactly
# that. The n-grams are the add-0.1 trigram of [Chapter 3](../book/03_maximum_likelihood.md) and the best of a
# small grid of orders and smoothings, chosen on the validation text. The
# floor is $e^{H}$, with $H$ the exact entropy rate of the language over the
# same tokens (`<eos>` left out): no model can beat it on average on text it
# was not trained on. The Transformer notebook (`04_transformer`) scores
# `<eos>` too, and its floor is lower for that reason alone.

# %%
from utils.data import lm_stream
from utils.lm import NGramModel, best_ngram_baseline, evaluate_language_model

language = SyntheticLanguage(corpus.config)
best_ngram, _, best_name = best_ngram_baseline(corpus.train, corpus.valid, language.vocab)
trigram = NGramModel(3, 0.1).fit(corpus.train, language.vocab)
floor = math.exp(language.entropy_rate())
rows = {"true language (floor)": (floor, floor)}
for name, ngram in ((f"best n-gram: {best_name}", best_ngram), ("add-0.1 trigram", trigram)):
    rows[name] = (ngram.perplexity(corpus.valid), ngram.perplexity(corpus.test))
rows["LSTM"] = tuple(
    evaluate_language_model(model, lm_stream(split, vocab), ignore_index=vocab.eos_id)["perplexity"]
    for split in (corpus.valid, corpus.test))
lstm_test, ngram_test = rows["LSTM"][1], rows[f"best n-gram: {best_name}"][1]
gap_bits = math.log2(lstm_test / floor)
print(f"LSTM test perplexity is {gap_bits:.3f} bits per token above the floor")
pd.DataFrame(rows, index=["valid", "test"]).T.rename_axis("perplexity").round(3)

# %% [markdown]
# The best n-gram's validation perplexity is a little optimistic, since its
# interpolation weights were fitted on the validation text; compare test
# perplexities. The bar chart shows them.

# %% mystnb={"figure": {"caption": "Test perplexity (every word of the test sentences, <eos> not scored) of two n-gram models and the LSTM, with the entropy floor of the language as a dashed line.", "name": "fig-tiny-perplexity"}}
names = [n for n in rows if n != "true language (floor)"]
fig, ax = plt.subplots(figsize=(7, 3.2))
ax.barh(range(len(names)), [rows[n][1] for n in names], color="#0072B2")
ax.axvline(floor, color="#D55E00", linestyle="--", label=f"floor $e^H$ = {floor:.2f}")
ax.set_yticks(range(len(names)), [n.split(":")[0] for n in names])
ax.set_xlabel("test perplexity")
ax.legend(loc="lower right")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Writing at several temperatures
#
# `utils.lm.generate` continues the prompt one sampled word at a time.
# A low temperature keeps to the most likely words; a high one flattens the
# distribution and lets rare, odd continuations in.

# %%
from utils.lm import generate

for t in (params.temperature / 2, params.temperature, 2 * params.temperature):
    words = generate(model, vocab, params.prompt.split(), max_new_tokens=30, temperature=t,
                     seed=params.seed)
    print(textwrap.fill(f"T = {t:g}: {params.prompt} {' '.join(words)}", width=88,
                        subsequent_indent="    ") + "\n")

# %% [markdown]
# ## What comes next? The model against the truth
#
# The synthetic language knows its own next-word probabilities, so we can put
# the model's beside them. The explorer switches between the LSTM and the
# best n-gram and changes the temperature; the figure under it shows both.

# %%
import torch

from utils.notebook import next_word_explorer, next_word_grid, plot_next_word


@torch.no_grad()
def lstm_next_word(prefix: str) -> dict[str, float]:
    """The LSTM's next-word distribution after `prefix`, read from the start of a sentence."""
    ids = torch.tensor([vocab.encode(["<eos>", *prefix.split()])])  # (1, len + 1)
    logits, _ = model(ids)  # (1, len + 1, vocab_size)
    probs = torch.softmax(logits[0, -1].double(), dim=-1)  # (vocab_size,)
    return dict(zip(vocab.itos, probs.tolist(), strict=True))


def ngram_next_word(prefix: str) -> dict[str, float]:
    """The best n-gram's next-word distribution after `prefix`."""
    return best_ngram.next_word_distribution(["<eos>", *prefix.split()][1:])


truth = language.next_word_distribution(params.prompt.split())
predictions = {"LSTM": lstm_next_word(params.prompt),
               "n-gram": ngram_next_word(params.prompt)}
next_word_explorer(predictions, truth=truth, temperature=1.0, prefix=params.prompt,
                   setting_label="model")

# %% mystnb={"figure": {"caption": "Next-word distributions after the prompt (bars) against the truth (diamonds): the LSTM (top) and the best n-gram (bottom), at three temperatures (columns).", "name": "fig-tiny-next-word"}}
next_word_grid(predictions, [params.temperature / 2, params.temperature,
                             2 * params.temperature], truth=truth, prefix=params.prompt,
               setting_label="")
plt.show()

# %% [markdown]
# Two prefixes side by side: after "the cat sat on the" both models do well,
# since the last words say nearly all; after "the keys near the old red barn"
# the verb's number depends on "keys", six words before the verb (the
# distance that `AgreementItem.distance` counts, from the subject to the verb).

# %% mystnb={"figure": {"caption": "The LSTM's next-word distribution (bars) against the truth (diamonds) after a short-range prefix (left) and after a subject followed by a distractor phrase (right).", "name": "fig-tiny-two-prefixes"}}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
for ax, prefix in zip(axes, ["the cat sat on the", "the keys near the old red barn"],
                      strict=True):
    true = language.next_word_distribution(prefix.split())
    shown = [w for w, _ in sorted(true.items(), key=lambda item: -item[1])[:8]]
    plot_next_word(ax, lstm_next_word(prefix), shown, truth=true, title=f'after "{prefix}"')
axes[0].set_ylabel("probability")
axes[0].legend(loc="upper right")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Long-range agreement: what no n-gram can learn
#
# Each test item is a sentence start like "the keys near the old red barn",
# drawn fresh from the grammar, and asks: is "are" (agreeing with the
# subject) more likely next than "is" (agreeing with the nearest noun)? The
# subject is always at least four words before the verb, outside even a
# 4-gram's window, so the n-gram can only guess from the words it sees.

# %%
from utils.data import agreement_items
from utils.evaluate import (
    accuracy_by_distance,
    agreement_accuracy,
    lstm_verb_margins,
    ngram_verb_margins,
)

items = agreement_items(corpus.config, n=params.n_items)
margins = {"LSTM": lstm_verb_margins(model, vocab, items),
           "best n-gram": ngram_verb_margins(best_ngram, items)}
mismatch = np.array([item.attractor_mismatch for item in items])

# %% [markdown]
# ### The agreement test, written out
#
# An item's margin is $\log P(\text{correct verb}) - \log P(\text{wrong verb})$
# after its prefix, read from the start of a sentence; the model passes the
# item when the margin is positive, and its agreement accuracy is the share
# of items it passes. With `lstm_next_word` from above that is two lines,
# checked against `utils.evaluate.lstm_verb_margins` (which runs prefixes of
# equal length as one batch) on the first fifty items:

# %%
def margin_by_hand(item) -> float:
    """log P(correct verb) - log P(wrong verb) after the item's prefix."""
    p = lstm_next_word(" ".join(item.prefix))
    return math.log(p[item.correct]) - math.log(p[item.wrong])


by_hand = np.array([margin_by_hand(item) for item in items[:50]])
assert np.allclose(by_hand, margins["LSTM"][:50], atol=1e-4)
assert np.isclose(np.mean(by_hand > 0), agreement_accuracy(margins["LSTM"][:50]))

# %%
pd.DataFrame({name: {"overall": agreement_accuracy(m),
                     "nearest noun of the other number": agreement_accuracy(m[mismatch])}
              for name, m in margins.items()}).T.rename_axis("agreement accuracy").round(3)

# %% [markdown]
# Chance is 0.5. Split by the distance from the subject to the verb, the LSTM
# stays right however far the verb is, while the n-gram stays at chance:

# %% mystnb={"figure": {"caption": "Share of agreement items where the model prefers the verb form that agrees with the subject, against the number of words from subject to verb, for the LSTM and the best n-gram; chance is 0.5.", "name": "fig-tiny-agreement"}}
fig, ax = plt.subplots(figsize=(7, 3.4))
for name, m in margins.items():
    by_distance = accuracy_by_distance(items, m)
    ax.plot(list(by_distance), [acc for acc, _ in by_distance.values()], marker="o", label=name)
ax.axhline(0.5, color="grey", linestyle=":", label="chance")
ax.set_xlabel("words from subject to verb")
ax.set_ylabel("agreement accuracy")
ax.set_ylim(0, 1.05)
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()

# %% [markdown]
# The LSTM carries the subject's number in its cell state across the
# distractor phrase; the n-gram, whose history is its last few words, has no
# way to. That is the first sign of what pretraining on raw text puts into a
# model: structure that the next chapters adapt and audit.
