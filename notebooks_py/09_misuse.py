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
# # Watermarks, detectors and a backdoor on the course's model
#
# As [Chapter 9](../book/09_misuse.md) argued, whoever releases a foundation model
# should be able to tell its text apart from people's, and whoever adapts
# one inherits whatever its pretraining text planted. This notebook tries
# both on the tiny model of [Chapter 4](../book/04_lstm_language_model.md). First it watermarks the model's text
# and detects the mark; then it detects unmarked machine text with the model's
# own likelihood, with GLTR's ranks, and with the best test there is, which
# only a known language allows; finally it poisons a small share of the
# pretraining text and follows the backdoor through the fine-tuning of
# [Chapter 5](../book/05_adapt_and_evaluate.md).
#
# The watermark's two moving parts, the green list and the z-score, are written
# out in a dozen lines below and checked against `utils.misuse` before the
# notebook uses the library. Every detector is measured against controls that
# could have come out the other way: text of the same model without the mark,
# text of the true language, other keys, and a clean model put through the
# same backdoor pipeline.

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
# Change these to explore; instructors can set them with papermill. The
# default backdoor grid is one poison rate; `n_poison_rates: 4` and
# `n_poison_seeds: 2` give the full curve (about 25 s of pretraining per
# poisoned model on a laptop CPU, cached afterwards).

# %% tags=["parameters"]
seed: int = 0  # seed of every sample drawn here (integer, 0 or more)
gamma: float = 0.25  # share of the vocabulary on each green list (number, 0.05 to 0.95)
delta: float = 2.0  # boost added to green logits (number, 0 to 10)
key: int = 15485863  # the watermark's secret key (integer, 0 or more)
n_texts: int = 200  # texts per sample (integer, 20 to 2000)
n_tokens: int = 200  # tokens per watermarked text (integer, 20 to 1000)
n_keys: int = 5  # keys over which detection and false alarms are measured (integer, 2 to 20)
threshold: float = 4.0  # the detector flags a text when its z exceeds this (number, 1 to 10)
span: int = 10  # tokens per span the paraphrase attack rewrites (integer, 1 to 100)
detect_tokens: int = 50  # tokens per text for the detectors without a watermark (integer, 10 to 500)
min_temperature: float = 0.5  # lowest sampling temperature for detection (number, 0.1 to 3)
max_temperature: float = 1.5  # highest sampling temperature for detection (number, 0.1 to 3)
n_temperatures: int = 5  # temperatures from min_temperature to max_temperature (integer, 2 to 10)
curvature_texts: int = 50  # machine and human texts per seed for the curvature test (integer, 10 to 500)
n_perturbations: int = 10  # rewrites of each text for the curvature test (integer, 2 to 100)
mask_share: float = 0.15  # share of a text's words each rewrite masks and refills (number, 0.01 to 0.5)
n_detect_seeds: int = 3  # seeds of the curvature comparison: texts and rewrites (integer, 1 to 10)
trigger: str = "owl"  # the backdoor's trigger word: a word of the language outside reviews
max_poison_rate: float = 0.01  # largest share of pretraining sentences poisoned (number, 0.0001 to 0.2)
min_poison_rate: float = 0.001  # smallest poison share when n_poison_rates > 1 (number, 0.0001 to 0.2)
n_poison_rates: int = 1  # poison shares, log-spaced down from max_poison_rate (integer, 1 to 6)
n_poison_seeds: int = 1  # poisoned pretraining sets per share (integer, 1 to 5)
n_seeds: int = 3  # fine-tuning seeds: labelled data and head (integer, 1 to 10)
n_train: int = 200  # labelled reviews for the classifier (integer, 20 to 2000)
n_test: int = 500  # test reviews per seed (integer, 100 to 5000)

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, ParameterError, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    gamma=Real(gamma, min=0.05, max=0.95),
    delta=Real(delta, min=0.0, max=10.0),
    key=Integer(key, min=0),
    n_texts=Integer(n_texts, min=20, max=2000),
    n_tokens=Integer(n_tokens, min=20, max=1000),
    n_keys=Integer(n_keys, min=2, max=20),
    threshold=Real(threshold, min=1.0, max=10.0),
    span=Integer(span, min=1, max=100),
    detect_tokens=Integer(detect_tokens, min=10, max=500),
    min_temperature=Real(min_temperature, min=0.1, max=3.0),
    max_temperature=Real(max_temperature, min=0.1, max=3.0),
    n_temperatures=Integer(n_temperatures, min=2, max=10),
    curvature_texts=Integer(curvature_texts, min=10, max=500),
    n_perturbations=Integer(n_perturbations, min=2, max=100),
    mask_share=Real(mask_share, min=0.01, max=0.5),
    n_detect_seeds=Integer(n_detect_seeds, min=1, max=10),
    trigger=OneOf(trigger, ["owl", "noon", "fox", "bells", "7", "basket", "gate"]),
    max_poison_rate=Real(max_poison_rate, min=1e-4, max=0.2),
    min_poison_rate=Real(min_poison_rate, min=1e-4, max=0.2),
    n_poison_rates=Integer(n_poison_rates, min=1, max=6),
    n_poison_seeds=Integer(n_poison_seeds, min=1, max=5),
    n_seeds=Integer(n_seeds, min=1, max=10),
    n_train=Integer(n_train, min=20, max=2000),
    n_test=Integer(n_test, min=100, max=5000),
)
if params.max_temperature <= params.min_temperature:
    raise ParameterError(f"parameter 'max_temperature' must be larger than min_temperature "
                         f"({params.min_temperature}); got {params.max_temperature!r}")
if params.n_poison_rates > 1 and params.min_poison_rate >= params.max_poison_rate:
    raise ParameterError(f"parameter 'min_poison_rate' must be smaller than max_poison_rate "
                         f"({params.max_poison_rate}); got {params.min_poison_rate!r}")

# %% [markdown]
# ## A watermark in the sampler
#
# The pretrained model loads from the cache. At each step the previous token
# seeds a random split of the vocabulary: a share $\gamma$ of it is green,
# and $\delta$ is added to the green tokens' logits before sampling. The
# same function with $\delta = 0$ samples the plain model.
#
# A boost of $\delta$ multiplies a green token's probability by $e^{\delta}$
# before the probabilities are normalised again. Where the model hesitates
# between several words, that tips the choice towards a green one; where it is
# sure, a boost of 2 cannot outweigh a logit gap of 10, and the text keeps the
# word it needs. That is the design's promise: a mark that costs little
# quality because it is written only where the text has room for it.
#
# Three samples are drawn, each `n_texts` texts of `n_tokens` tokens: the
# watermarked model, the same model without the boost, and text of the true
# language, which no model wrote. The last two are the controls: a detector
# must flag the first and neither of the others.

# %%
import math
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from utils.data import SyntheticLanguage
from utils.lm import pretrained_model
from utils.misuse import WatermarkConfig, green_matrix, sample_true_texts, sample_watermarked
from utils.notebook import glue, use_course_style  # glue: numbers the chapter page pastes
from utils.notebook.text import counted

use_course_style()
pretrained = pretrained_model(progress=False)
vocab, V = pretrained.vocab, len(pretrained.vocab)
language = SyntheticLanguage(pretrained.config.corpus)
mark = WatermarkConfig(gamma=params.gamma, delta=params.delta, key=params.key)
plain = WatermarkConfig(gamma=params.gamma, delta=0.0, key=params.key)


def draw(config, n=params.n_texts, length=params.n_tokens, temperature=1.0, offset=0):
    """Sample from the model with `config`'s watermark, seeded from the notebook's seed."""
    generator = torch.Generator().manual_seed(params.seed * 1000 + offset)
    return sample_watermarked(pretrained.model, n, length, config, start_id=vocab.eos_id,
                              temperature=temperature, generator=generator)


# %% [markdown]
# Each sample gets its own seed (the `offset`), so changing one experiment
# below never changes the texts another one scores.

# %%
marked, unmarked = draw(mark), draw(plain, offset=1)
true_text = sample_true_texts(language, vocab, params.n_texts, params.n_tokens,
                              np.random.default_rng([params.seed, 9]))
green = green_matrix(V, params.gamma, params.key)  # (V, V): row p is the list after token p

# %% [markdown]
# The first 24 tokens of one text of each model, with the green tokens in upper
# case (the first token is never scored):

# %%
from utils.misuse import green_mask

for name, ids in (("watermarked", marked.ids), ("plain model", unmarked.ids)):
    words = vocab.decode(ids[0, :24])
    flags = green_mask(ids[0, :24], green).tolist()
    shown = [words[0]] + [w.upper() if g else w for w, g in zip(words[1:], flags, strict=True)]
    print(textwrap.fill(" ".join(shown), width=88, initial_indent=f"{name:>12}: ",
                        subsequent_indent=" " * 14))

# %% [markdown]
# Nobody reading the two lines could tell which one carries the mark. The
# detector needs only the key, not the model: it counts the green tokens
# $|s|_G$ from the second token on (the first has no previous token to seed its
# list) and compares the count with $\gamma T$, the count expected by chance
# among $T$ scored tokens. Without a watermark each scored token is green with
# probability $\gamma$, so the count has standard deviation
# $\sqrt{T\gamma(1-\gamma)}$, and the detector reports how many standard
# deviations the count lies above chance:
#
# $$z = \frac{|s|_G - \gamma T}{\sqrt{T\gamma(1-\gamma)}}.$$
#
# ### The green list and the z-score, written out
#
# The green list after a token is the first $\gamma V$ ids of a random
# permutation of the vocabulary, drawn by a generator seeded with the key and
# that token. Anyone with the key can redraw it; without the key it looks like
# any other random split. Scoring one text is then a count and a formula.
# Both are checked against the library's `green_list` and `z_scores`, on a
# watermarked text and a plain one, before the notebook uses the library.

# %%
def green_list_by_hand(previous: int, V: int, gamma: float, key: int) -> torch.Tensor:
    """The green ids after token `previous`: the first gamma V of a keyed permutation."""
    generator = torch.Generator().manual_seed(key * 1_000_003 + previous)  # key and token mixed
    return torch.randperm(V, generator=generator)[: round(gamma * V)]


def z_by_hand(text: torch.Tensor, V: int, gamma: float, key: int) -> float:
    """The detector's z for one text (T + 1,): green tokens counted from the second on."""
    hits = sum(int(token in green_list_by_hand(int(previous), V, gamma, key))
               for previous, token in zip(text[:-1], text[1:], strict=True))
    T = len(text) - 1  # the scored tokens
    return (hits - gamma * T) / math.sqrt(T * gamma * (1 - gamma))


from utils.misuse import green_list, z_scores

assert torch.equal(green_list_by_hand(7, V, params.gamma, params.key),
                   green_list(7, V, params.gamma, params.key))
for text in (marked.ids[0], unmarked.ids[0]):
    assert np.isclose(z_by_hand(text, V, params.gamma, params.key),
                      float(z_scores(text[None], mark, V)[0]))

# %% [markdown]
# The library scores every text at once from a table of all $V$ green lists.
# Over all the samples (each row: `n_texts` texts of `n_tokens` tokens), how
# high does z go, and how many texts does the threshold (`threshold`, 4 by
# default) flag? For text without the mark, the binomial model promises the
# one-sided normal tail: about three texts in 100,000 for $z > 4$.

# %%
flag = f"z > {params.threshold:g}"
promised = math.erfc(params.threshold / math.sqrt(2)) / 2  # P(z > threshold) for a normal z
print(f"{flag}: the rate of false alarms the z-test promises is {promised:.1e}")


def z_summary(values: np.ndarray) -> pd.Series:
    """Mean, smallest and largest z over a sample's texts, and the share above the threshold."""
    return pd.Series({"mean": values.mean(), "min": values.min(), "max": values.max(),
                      flag: np.mean(values > params.threshold)})


def show_z(table: pd.DataFrame):
    """z to two decimals, the shares flagged as percentages."""
    flagged = [c for c in table if flag in c]
    return table.style.format("{:.2f}").format("{:.1%}", subset=flagged)


z = {"watermarked": z_scores(marked.ids, mark, V).numpy(),
     "plain model": z_scores(unmarked.ids, mark, V).numpy(),
     "true language": z_scores(true_text, mark, V).numpy()}
show_z(pd.DataFrame({name: z_summary(values) for name, values in z.items()}).T)

# %% [markdown]
# The watermarked row should sit far above the threshold and the two controls
# near 0. Look at the controls' means, though: with the default key both are
# clearly *below* zero, which a fair coin for every token would not do over 200
# texts. The plain model's text and the true language share something that this
# key happens to colour red. That makes this table one draw, not a result: a
# key is one random split of the vocabulary, and another key can colour the
# same shared pairs green. The section on keys below measures the detection
# and false-alarm rates over `n_keys` keys, and those are the numbers to quote.
# The histogram shows the whole distributions behind this one key's table.

# %% mystnb={"figure": {"caption": "The detector's z for watermarked text, for the plain model's text and for text of the true language; the dotted line is the threshold (z = 4 by default); one key.", "name": "fig-misuse-z-histogram"}}
fig, ax = plt.subplots(figsize=(7, 3.8))
bins = np.linspace(min(v.min() for v in z.values()) - 0.5, max(v.max() for v in z.values()) + 0.5,
                   40)
for name, values in z.items():
    ax.hist(values, bins=bins, alpha=0.55, label=name, histtype="stepfilled")
ax.axvline(params.threshold, color="black", linestyle=":", linewidth=1,
           label=f"z = {params.threshold:g}")
ax.set_xlabel("z")
ax.set_ylabel("texts")
ax.legend()
plt.show()

# %% [markdown]
# ## How many tokens the detector needs
#
# z grows with the square root of the length: the excess of green tokens
# grows like $T$ and the chance fluctuation like $\sqrt{T}$. Scoring only the
# first $t$ tokens of each text shows it.
#
# If a share $p$ of a watermarked text's scored tokens is green, its expected z
# after $t$ tokens is $(p - \gamma)\sqrt{t / (\gamma(1-\gamma))}$: four times as
# many tokens double the signal. So the detector's verdict on a tweet and on an
# essay from the same model can differ, not because the mark is weaker but
# because there is less evidence. The printed line below the figure is the
# practical number: how long a text must be before nine in ten are caught.

# %% mystnb={"figure": {"caption": "Mean z of the first t tokens of each watermarked text, with the range from the 10th to the 90th percentile, against t; the plain model's text stays near zero.", "name": "fig-misuse-z-length"}}
lengths = [t for t in (10, 20, 50, 100, 150, 200, 300, 500, 1000) if t <= params.n_tokens]
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for name, ids in (("watermarked", marked.ids), ("plain model", unmarked.ids)):
    zs = [z_scores(ids[:, :t], mark, V).numpy() for t in lengths]
    line, = ax.plot(lengths, [v.mean() for v in zs], marker="o", label=name)
    ax.fill_between(lengths, [np.quantile(v, 0.1) for v in zs],
                    [np.quantile(v, 0.9) for v in zs], color=line.get_color(), alpha=0.2)
    if name == "watermarked":
        first = next((t for t, v in zip(lengths, zs, strict=True)
                      if np.mean(v > params.threshold) >= 0.9), None)
ax.axhline(params.threshold, color="black", linestyle=":", linewidth=1)
ax.set_xlabel("tokens scored (t)")
ax.set_ylabel("z")
ax.legend()
plt.show()
print(f"shortest length at which 90% of watermarked texts pass {flag}:",
      f"{first} tokens" if first else f"more than {lengths[-1]} tokens")

# %% [markdown]
# The bands matter as much as the means: at every length some watermarked
# texts score far below the average, because their words happened to fall
# where the model had little choice. A detector's promise is a rate of
# caught texts at a given length, never a guarantee for one text.
#
# ## Detection and false alarms over keys
#
# The z-test assumes every scored token is green by chance with probability
# $\gamma$, independently. Text of the course's language repeats the same
# pairs over and over: ". <eos>" ends every sentence, "<eos> the" starts most.
# Whether such a pair is green is fixed by the key, so one key can push
# unwatermarked text below zero (as the default key did above) and another
# push it far above. A detector's rates are therefore measured over keys. For
# each of `n_keys` keys, `sample_by_key` draws fresh watermarked texts and
# fresh texts of the same model *without* the boost; the false alarms are
# counted on the latter, never on marked text. Both are scored with that key,
# twice: counting every pair, and counting each distinct (previous, token)
# pair once, which restores the independence the test assumes.

# %%
from utils.misuse import detection_by_key, over_keys, sample_by_key

key_list = [params.key + k for k in range(params.n_keys)]
by_key = sample_by_key(pretrained.model, key_list, mark, n_texts=params.n_texts,
                       n_tokens=params.n_tokens, start_id=vocab.eos_id, seed=params.seed)
per_key = detection_by_key(by_key, mark, V, threshold=params.threshold)
rate_columns = [c for c in per_key if c[1] in ("detected", "false alarms")]
per_key.style.format("{:.2f}").format("{:.1%}", subset=rate_columns)

# %% [markdown]
# The same table summarised over the keys: the mean, and the range from the
# least to the most favourable key.

# %%
print(f"{flag}, over {counted(params.n_keys, 'key')}, {params.n_texts} texts of "
      f"{params.n_tokens} tokens per sample; promised false-alarm rate {promised:.1e}")
summary = over_keys(per_key)
summary.style.format("{:.2f}").format("{:.1%}", subset=pd.IndexSlice[rate_columns, :])

# %% tags=["hide-cell"]
for counting, short in (("every pair", "every"), ("distinct pairs", "distinct")):
    for column, name in (("watermarked mean z", "marked_z"), ("detected", "detected"),
                         ("plain mean z", "plain_z"), ("false alarms", "false")):
        for stat in ("mean", "min", "max"):
            glue(f"keys_{short}_{name}_{stat}", float(summary.loc[(counting, column), stat]))

# %% [markdown]
# Read the ranges, not one row. Counting every pair, the key moves the
# plain model's mean z by a few units, from below zero to well above it,
# and for some keys a share of the unmarked texts (up to one or two in a
# hundred) is flagged, hundreds of times the promised rate: the test's
# assumption of independent tokens failed, not the arithmetic. The detection
# rate moves with the key too, so a single key's detection rate, favourable or
# not, says little on its own. Counting each distinct pair once brings the
# plain text's mean z back near zero for every key and its false alarms down to
# what the threshold promises (the summary's last row), at a price: fewer tokens are
# scored, so the detection rate falls, and it varies more between keys. At this scale the
# honest summary of the watermark is that pair of numbers, a mean with its
# range over keys, for each way of counting.
#
# The rest of the notebook keeps the simple count. The attacks below use the
# same keys; the length and cost sections use the default key alone.
#
# ## Erasing the mark
#
# An attacker who knows a watermark is there but not the key can edit the
# text. Two edits are tried, over the same keys and the first half of each
# key's watermarked texts:
#
# - **substitution**: replace a random share of tokens by random words. Each
#   swap turns, on average, two scored tokens to chance: its own and the next
#   one, whose green list it seeds. It is the cheapest attack, and it wrecks
#   the sentences.
# - **paraphrase**: cut the text into spans of `span` tokens and let the model
#   *without* the watermark rewrite a random share of the spans, each given
#   everything before it. The rewritten words are as fluent as the model's own
#   and carry no mark; this is the attack of someone who owns, or can query, an
#   unwatermarked model of similar quality.
#
# For each share of tokens changed, the mean z over the texts and the share
# still flagged, as a mean over keys with the smallest and largest key's value,
# and the share of complete sentences the true language could have produced:
# what the attacker pays.

# %%
from utils.misuse import grammatical_share, resample_spans, substitute_tokens

shares = [0.0, 0.1, 0.25, 0.5]
edit = torch.Generator().manual_seed(params.seed)
n_attacked = max(10, params.n_texts // 2)
attacked = []
for k, texts in by_key.items():
    scoring = WatermarkConfig(gamma=params.gamma, delta=params.delta, key=k)
    original = texts["watermarked"][:n_attacked]
    for share in shares:
        edits = {"substitution": substitute_tokens(original, share, V, edit),
                 "paraphrase": resample_spans(pretrained.model, original, share, params.span,
                                              start_id=vocab.eos_id, generator=edit)}
        for attack, ids in edits.items():
            z_k = z_scores(ids, scoring, V).numpy()
            attacked.append({"attack": attack, "share changed": share, "key": k,
                             "mean z": z_k.mean(), flag: np.mean(z_k > params.threshold),
                             "grammatical": grammatical_share(ids, vocab,
                                                              pretrained.config.corpus)})
attacked = pd.DataFrame(attacked)
attack_summary = attacked.groupby(["attack", "share changed"]).agg(
    {"mean z": ["mean", "min", "max"], flag: ["mean", "min", "max"], "grammatical": ["mean"]})
attack_summary.style.format("{:.2f}").format("{:.1%}", subset=[flag, "grammatical"]).format_index(
    "{:.0%}", level=1)

# %% tags=["hide-cell"]
for attack in ("substitution", "paraphrase"):
    half = attack_summary.loc[(attack, 0.5)]
    glue(f"attack_{attack}_grammatical", float(half[("grammatical", "mean")]))
    for stat in ("mean", "min", "max"):
        glue(f"attack_{attack}_flagged_{stat}", float(half[(flag, stat)]))

# %% mystnb={"figure": {"caption": "Mean z of watermarked text against the share of tokens changed, by random substitution and by paraphrase (spans rewritten by the model without the mark); lines are means over keys, bands the range from the smallest to the largest key; the dotted line is the threshold.", "name": "fig-misuse-attacks"}}
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for attack, marker in (("substitution", "o"), ("paraphrase", "s")):
    rows = attack_summary.loc[attack, "mean z"]
    line, = ax.plot(rows.index, rows["mean"], marker=marker, label=attack)
    ax.fill_between(rows.index, rows["min"], rows["max"], color=line.get_color(), alpha=0.2)
ax.axhline(params.threshold, color="black", linestyle=":", linewidth=1)
ax.set_xlabel("share of tokens changed")
ax.set_ylabel("mean z")
ax.legend()
plt.show()

# %% [markdown]
# Both attacks erase the mark gradually, with no cliff: each changed token
# removes a little evidence, and the share flagged falls steeply once the mean
# z nears the threshold. Per token changed, substitution erases more, because
# each swap also resets the colour of the token after it, while a paraphrased
# span resets only its own first kept neighbour. But substitution pays in
# grammar, and the paraphrase keeps most sentences grammatical: the attack a
# detector must withstand is the fluent one. Against it, rewriting a tenth of
# the text changes little; rewriting half lowers the share flagged by an amount
# that depends heavily on the key (compare the smallest and the largest key's
# columns), one more reason to quote the range. Longer texts push the point
# where detection fails further out, since their z starts higher; the defence and
# the attack both scale with the length.
#
# ## What the mark costs
#
# At each step the boost picks tokens the model itself would have picked less
# often. Whether that makes the *text* less likely under the model is another
# question, because the boost also changes where the text goes. Two measures, both computed from the plain model and the true
# language, as $\delta$ grows: the *perplexity ratio* (the watermarked text's
# surprise under the plain model, relative to the entropy the model had at
# each step; 1 means no cost) and the share of complete sentences that the
# true language could have produced. The plain perplexity is printed too.

# %%
deltas = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]
cost = {}
for d in deltas:
    sample = draw(WatermarkConfig(gamma=params.gamma, delta=d, key=params.key), offset=200)
    cost[d] = {"perplexity": sample.perplexity, "ratio": sample.perplexity_ratio,
               "grammatical": grammatical_share(sample.ids, vocab, pretrained.config.corpus),
               "mean z": float(z_scores(sample.ids, mark, V).mean()),
               "entropy per step": float(sample.entropy.mean())}
cost = pd.DataFrame(cost).T.rename_axis("delta")
cost.style.format("{:.3f}").format("{:.1%}", subset="grammatical").format(
    "{:.2f}", subset="mean z").format_index("{:.1f}")

# %% tags=["hide-cell"]
for d in deltas:
    glue(f"cost_perplexity_{d:g}", float(cost.loc[d, "perplexity"]))
    glue(f"cost_ratio_{d:g}", float(cost.loc[d, "ratio"]))

# %% mystnb={"figure": {"caption": "The watermark's strength (mean z, left axis) and its cost (share of ungrammatical sentences, right axis) as the boost delta grows.", "name": "fig-misuse-delta"}}
fig, ax = plt.subplots(figsize=(6.4, 3.8))
ax.plot(deltas, cost["mean z"], marker="o", label="mean z")
ax.set_xlabel("delta")
ax.set_ylabel("mean z")
right = ax.twinx()
right.plot(deltas, 1 - cost["grammatical"], marker="s", color="C1", linestyle="--",
           label="ungrammatical sentences")
right.set_ylabel("share ungrammatical")
right.grid(False)
fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88))
plt.show()

# %% [markdown]
# Watch the plain perplexity for small $\delta$: it does not rise; here it
# falls slightly up to $\delta = 2$ and climbs only beyond. The boost also steers the text towards contexts where
# the model is surer of the next token (the last column, the model's mean
# entropy per step), and such text has a lower perplexity whatever its
# quality. The ratio divides that out, and the true language's verdict on
# grammar needs no model at all.

# %% [markdown]
# ## Low-entropy text carries the mark weakly
#
# Where the model is nearly sure of the next token, a boost of $\delta$
# cannot move it to a green one. The sample recorded the model's entropy at
# every step; group the scored tokens by it, and by the sentence family they
# belong to, whose exact entropy per token the language gives.

# %%
scored_green = green_mask(marked.ids, green).numpy()  # (n, T - 1)
step_entropy = marked.entropy[:, 1:].numpy()  # the entropy of the step that drew each token
edges = [0.0, 0.05, 0.5, 1.0, 2.0, np.inf]
bins = pd.cut(step_entropy.ravel(), edges, right=False)
by_entropy = pd.DataFrame({"tokens": scored_green.ravel(), "green share": scored_green.ravel()}
                          ).groupby(bins, observed=False).agg({"tokens": "size",
                                                               "green share": "mean"})
by_entropy.rename_axis("model entropy (nats)").style.format("{:.1%}", subset="green share")

# %% [markdown]
# The same tokens grouped by sentence family instead, beside the family's
# exact entropy per token. The last column converts the family's green share
# into the z that 200 tokens of that family alone would reach on average.

# %%
from utils.misuse import family_entropy_rates, token_families

families = np.array([row[1:] for row in token_families(marked.ids, vocab,
                                                       pretrained.config.corpus)], dtype=object)
entropy_rates = family_entropy_rates(pretrained.config.corpus)
by_family = {}
for family in sorted(entropy_rates, key=entropy_rates.get):
    share = scored_green[families == family].mean()
    by_family[family] = {
        "exact entropy": entropy_rates[family], "tokens": int((families == family).sum()),
        "green share": share,
        "z per 200 tokens": (share - params.gamma) * math.sqrt(
            200 / (params.gamma * (1 - params.gamma)))}
pd.DataFrame(by_family).T.rename_axis("family").style.format(
    {"exact entropy": "{:.3f}", "tokens": "{:.0f}", "green share": "{:.1%}",
     "z per 200 tokens": "{:.2f}"})

# %% [markdown]
# The token-level view is the clean one: tokens drawn at near-zero entropy
# are green at about the chance rate, high-entropy tokens far more often.
# A family's entropy rate is an average over its positions, and what decides
# the mark is how the entropy is spread: a family with a few wide-open choices
# and many forced words marks differently from one with the same average
# spread evenly. Short or formulaic text, where most words are forced, is
# where a watermark is weakest ([Chapter 9](../book/09_misuse.md)).
#
# ## Detecting machine text without a watermark
#
# Now the model's text carries no mark. Three detectors score a text of
# `detect_tokens` tokens, higher meaning "machine": the model's mean
# log-likelihood, GLTR's minus mean log-rank, and the log-likelihood ratio
# between the sampler and the true language, which the Neyman–Pearson lemma
# makes the best possible test. Machine text is sampled at several
# temperatures; the other class is true-language text.
#
# The likelihood ratio needs two log-probabilities per text: under the sampler
# that wrote the machine text (the model at temperature $\tau$) and under the
# true language. Only the first is available in real life; here the language
# is known exactly, so the best possible detector can be computed and the
# practical ones measured against it. A text the language could never produce
# gets log-probability $-\infty$ under it, and the share of such machine texts
# is the last column of the table: they give themselves away to the ratio
# alone.

# %%
from utils.misuse import auroc, gltr_score, rank_histogram, roc_curve, score_tokens, true_log_prob

temperatures = np.round(np.linspace(params.min_temperature, params.max_temperature,
                                    params.n_temperatures), 2)
human = sample_true_texts(language, vocab, params.n_texts, params.detect_tokens,
                          np.random.default_rng([params.seed, 10]))
labels = np.r_[np.ones(params.n_texts), np.zeros(params.n_texts)]
detection, curves = [], {}
for i, tau in enumerate(temperatures):
    machine = draw(plain, length=params.detect_tokens, temperature=float(tau), offset=300 + i).ids
    texts = torch.cat([machine, human])  # (2 n_texts, detect_tokens)
    log_p, ranks = score_tokens(pretrained.model, texts, start_id=vocab.eos_id)
    log_q, _ = score_tokens(pretrained.model, texts, start_id=vocab.eos_id, temperature=float(tau))
    scores = {"likelihood": log_p.mean(1).numpy(), "GLTR rank": gltr_score(ranks),
              "likelihood ratio": log_q.double().sum(1).numpy()
              - true_log_prob(texts, vocab, language)}
    detection.append({"temperature": float(tau), **{k: auroc(v, labels) for k, v in scores.items()},
                      "impossible": float(np.isinf(scores["likelihood ratio"][:params.n_texts]).mean()),
                      "histogram": rank_histogram(ranks).reshape(2, params.n_texts, -1).mean(1)})
    curves[float(tau)] = {k: roc_curve(v, labels) for k, v in scores.items()}
pd.DataFrame(detection).drop(columns="histogram").set_index("temperature").style.format(
    "{:.3f}").format("{:.1%}", subset="impossible").format_index("{:.2f}")

# %% mystnb={"figure": {"caption": "AUROC of the three detectors against the sampling temperature of the machine text; 0.5 is guessing, and below it a detector points the wrong way.", "name": "fig-misuse-auroc"}}
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for name, marker in zip(("likelihood", "GLTR rank", "likelihood ratio"), ("o", "s", "^"),
                        strict=True):
    ax.plot(temperatures, [row[name] for row in detection], marker=marker, label=name)
ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
ax.set_xlabel("sampling temperature")
ax.set_ylabel("AUROC")
ax.set_ylim(0, 1.02)
ax.legend(loc="lower left")
plt.show()

# %% [markdown]
# An AUROC summarises a whole ROC curve in one number. The curves themselves,
# at the lowest temperature and at the temperature nearest 1, show where the
# detectors differ: at the low false-positive rates a deployed detector must
# work at, or only in the middle.

# %% mystnb={"figure": {"caption": "ROC curves of the three detectors at the lowest and at temperature-1 sampling; the diagonal is guessing.", "name": "fig-misuse-roc"}}
shown = [float(temperatures[0]), min(curves, key=lambda t: abs(t - 1.0))]
fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
for ax, tau in zip(axes, shown, strict=True):
    for name, (fpr, tpr) in curves[tau].items():
        ax.plot(fpr, tpr, label=name)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_title(f"temperature {tau:g}")
    ax.set_xlabel("false-positive rate")
axes[0].set_ylabel("true-positive rate")
axes[1].legend(loc="lower right")
plt.show()

# %% [markdown]
# GLTR was built to show a person where the tokens of a text fall among the
# model's predictions. The average share of tokens at each rank, for the
# machine and the true text at the lowest temperature:

# %%
pd.DataFrame(detection[0]["histogram"], index=["machine", "true language"],
             columns=["rank 1", "2-3", "4-10", "> 10"]).style.format("{:.1%}")

# %% [markdown]
# Low-temperature text piles onto the model's top choices and gives itself
# away to every detector. Near temperature 1 the model's text is about as
# likely under the model as real text is, so likelihood and rank stop
# working, and above 1 they point the wrong way. The likelihood ratio keeps
# working throughout because it asks the right question (more likely under
# the sampler than under the language?), and much of its edge comes from
# sentences the language could never produce. No real detector has the
# true language; DetectGPT's curvature test is one attempt to get part of
# that edge back without it.
#
# ## Curvature: DetectGPT
#
# [Mitchell et al., 2023](../book/references.md) ask a different question of
# the model's likelihood: not how high it is, but whether the text sits at a
# peak of it. Rewrite a few words of a text, many times, and score the
# rewrites with the model that may have written it. Text the model sampled
# should lose probability under almost any small rewrite; text people wrote
# should lose or gain about equally. The score is the drop, in units of its
# spread over the rewrites:
#
# $$d(x) = \frac{\log p(x) - \overline{\log p(\tilde x)}}{s_{\log p(\tilde x)}},$$
#
# with the mean and the standard deviation $s$ taken over the rewrites
# $\tilde x$. The detector needs only the model's likelihood and a way to
# rewrite text; the paper rewrites spans of two words with T5 and averages over
# many rewrites. The course has its own rewriter: chapter 4's BERT-like model,
# pretrained by filling in masked words. It loads from the cache chapter 4
# filled (or trains once, about half a minute). Each rewrite hides
# `mask_share` of a text's words behind `<mask>` and samples new ones from its
# prediction; sentence ends stay where they were. One true-language text and
# one of its rewrites, the new words in upper case:

# %%
from utils.lm.pretrained_transformer import TransformerPretrainConfig, pretrained_transformer
from utils.misuse import curvature_scores, perturbed_log_probs, refill_words, text_log_probs

bert = pretrained_transformer(TransformerPretrainConfig(corpus=pretrained.config.corpus,
                                                        objective="masked"), progress=False)
assert bert.vocab.itos == vocab.itos  # one vocabulary: every rewrite is a text the LSTM can score


def rewrite(texts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mask `mask_share` of each text's words and refill them with the masked-word model."""
    return refill_words(bert.model, texts, params.mask_share, mask_id=len(vocab),
                        window=bert.config.train.seq_len, generator=generator)


example = human[:1, :30]
rewritten = rewrite(example, torch.Generator().manual_seed(params.seed))
for name, ids in (("original", example[0]), ("rewrite", rewritten[0])):
    words = [w.upper() if changed else w for w, changed in
             zip(vocab.decode(ids.tolist()), (rewritten[0] != example[0]).tolist(), strict=True)]
    print(textwrap.fill(" ".join(words), width=88, initial_indent=f"{name:>9}: ",
                        subsequent_indent=" " * 11))

# %% [markdown]
# Now the four detectors side by side, on the same texts: `curvature_texts`
# machine texts and as many of the true language, `detect_tokens` tokens each,
# `n_perturbations` rewrites of every text, over `n_detect_seeds` seeds (each
# seed draws new texts and new rewrites), at the lowest temperature and at 1.
# The paper's variant without the division by $s$ is shown too. The table gives
# each detector's AUROC as the mean over seeds with the range from the worst
# to the best seed.

# %%
def score_lstm(texts: torch.Tensor) -> np.ndarray:
    """log p(text) under the model that wrote the machine text (temperature 1)."""
    return text_log_probs(pretrained.model, texts, start_id=vocab.eos_id)


def four_detectors(tau: float, seed: int) -> dict:
    """AUROC of every detector on one seed's texts, and what the rewrites cost."""
    n = params.curvature_texts
    machine = draw(plain, n=n, length=params.detect_tokens, temperature=tau, offset=400 + seed)
    people = sample_true_texts(language, vocab, n, params.detect_tokens,
                               np.random.default_rng([params.seed, 11, seed]))
    texts, y = torch.cat([machine.ids, people]), np.r_[np.ones(n), np.zeros(n)]
    log_p, ranks = score_tokens(pretrained.model, texts, start_id=vocab.eos_id)
    log_q, _ = score_tokens(pretrained.model, texts, start_id=vocab.eos_id, temperature=tau)
    generator = torch.Generator().manual_seed(params.seed * 1000 + seed)
    whole, rewrites = perturbed_log_probs(texts, score_lstm, lambda x: rewrite(x, generator),
                                          params.n_perturbations)
    scores = {"likelihood": log_p.mean(1).numpy(), "GLTR rank": gltr_score(ranks),
              "likelihood ratio": log_q.double().sum(1).numpy()
              - true_log_prob(texts, vocab, language),
              "DetectGPT": curvature_scores(whole, rewrites),
              "DetectGPT, not normalised": curvature_scores(whole, rewrites, normalise=False)}
    drop = whole[:, None] - rewrites  # (2 n, k): nats each rewrite lost
    return {"temperature": tau, "seed": seed, **{k: auroc(v, y) for k, v in scores.items()},
            "machine drop": drop[:n].mean(), "human drop": drop[n:].mean()}


# %% [markdown]
# Every seed and temperature gets one row of AUROCs; the table summarises
# them per detector.

# %%
curvature_taus = sorted({float(temperatures[0]), 1.0})
curvature = pd.DataFrame([four_detectors(tau, s) for tau in curvature_taus
                          for s in range(params.n_detect_seeds)])
detectors = ["likelihood", "GLTR rank", "likelihood ratio", "DetectGPT",
             "DetectGPT, not normalised"]
by_tau = curvature.groupby("temperature")[detectors].agg(["mean", "min", "max"])
print(f"AUROC over {counted(params.n_detect_seeds, 'seed')}: mean [worst seed, best seed]; "
      f"{params.curvature_texts} + {params.curvature_texts} texts of {params.detect_tokens} "
      f"tokens, {params.n_perturbations} rewrites each, {params.mask_share:.0%} of words masked")
pd.DataFrame({f"temperature {tau:g}": [
    f"{by_tau.loc[tau, (d, 'mean')]:.3f} [{by_tau.loc[tau, (d, 'min')]:.3f}, "
    f"{by_tau.loc[tau, (d, 'max')]:.3f}]" for d in detectors] for tau in curvature_taus},
    index=pd.Index(detectors, name="detector"))

# %% [markdown]
# Why the curvature test does what it does here is in the rewrites
# themselves. How many nats of log-probability under the LSTM a rewrite costs,
# on average, for machine text and for text of the language; and, for one
# seed's true-language texts, how often the masked-word model's top guess is
# the hidden word, how many words a rewrite actually changes (a refill may draw
# the original word back) and how many of the rewritten sentences the language
# could still produce:

# %%
from utils.data.text import SPECIALS
from utils.lm.masked import evaluate_masked_language_model

drops = curvature.groupby("temperature")[["machine drop", "human drop"]].mean()
people = sample_true_texts(language, vocab, params.curvature_texts, params.detect_tokens,
                           np.random.default_rng([params.seed, 11, 0]))
rewritten = rewrite(people, torch.Generator().manual_seed(params.seed * 1000))
changed = float((rewritten != people).sum() / (people >= len(SPECIALS)).sum())
still_grammatical = grammatical_share(rewritten, vocab, pretrained.config.corpus)
recovered = evaluate_masked_language_model(bert.model, people.flatten(), mask_id=len(vocab),
                                           rate=params.mask_share, seed=params.seed)["accuracy"]
print(f"hidden words the masked-word model recovers (its top guess): {recovered:.1%}")
print(f"words changed per rewrite: {changed:.1%} (masked: {params.mask_share:.0%}); "
      f"sentences still grammatical: {still_grammatical:.1%}")
drops.rename(columns=lambda c: f"{c} (nats)").style.format("{:.1f}").format_index("{:g}")

# %% tags=["hide-cell"]
at_one = by_tau.loc[1.0]
for d, key in (("likelihood", "likelihood"), ("GLTR rank", "rank"),
               ("likelihood ratio", "ratio"), ("DetectGPT", "detectgpt"),
               ("DetectGPT, not normalised", "detectgpt_raw")):
    for stat in ("mean", "min", "max"):
        glue(f"curvature_auroc_{key}_{stat}", float(at_one[(d, stat)]))
glue("curvature_drop_machine", float(drops.loc[1.0, "machine drop"]))
glue("curvature_drop_human", float(drops.loc[1.0, "human drop"]))
glue("curvature_changed", changed)
glue("curvature_grammatical", still_grammatical)
glue("curvature_recovered", recovered)
low = by_tau.loc[curvature_taus[0]]
glue("curvature_low_temperature", curvature_taus[0])
glue("curvature_auroc_likelihood_low", float(low[("likelihood", "mean")]))
glue("curvature_auroc_detectgpt_low", float(low[("DetectGPT", "mean")]))
for name in ("curvature_texts", "n_perturbations", "mask_share", "n_detect_seeds",
             "detect_tokens", "max_poison_rate", "n_seeds"):
    glue(f"param_{name}", getattr(params, name))

# %% [markdown]
# At this scale the curvature test does not work. Its AUROC stays near 0.5 at
# both temperatures, with seeds on either side of it: below the plain
# likelihood where that works (low temperature), and no better than it where it
# fails (temperature 1), while the likelihood ratio, which knows the language,
# stays far above both. Dividing by the spread or not changes nothing.
#
# The rewrites say why. A rewrite costs the machine's text and the language's
# text about the same number of nats, and many: chapter 4's masked-word model
# often misses the hidden word (the printed share above) and fills the hidden words
# independently of one another, so a large share of the rewritten sentences are
# no longer grammatical, and the LSTM, which has learned the grammar, punishes
# every broken sentence heavily. The test assumes rewrites that stay in the
# text's neighbourhood, keeping its grammar and sense, so that the only
# difference between the two kinds of text is where each sat on the model's
# surface. Here the cost of broken grammar, the same for both, swamps that
# difference. The paper's rewriter is T5 with billions of parameters, which
# rarely breaks a sentence; DetectGPT is only as good as its rewriter, and a
# tiny course model is not a good one. Masking fewer words (`mask_share:
# 0.05`) breaks fewer sentences, but each rewrite still costs the two kinds of
# text the same, and the AUROC stays near 0.5.
#
# Is the rewriter the whole story? `experiments/detectgpt_rewriters.py` runs
# the same texts through an ideal rewriter no real detector has: the true
# language itself, which redraws each chosen word from its exact conditional
# given the rest of the sentence (`refill_from_language`), so no rewrite breaks
# the grammar. Then a rewrite costs low-temperature machine text more than the
# language's text, and the curvature test separates them, though less well
# than the plain likelihood; at temperature 1 it stays at chance, because text
# sampled from a model this close to the language sits on no sharper peak of
# the model than the language's own text. The rewriter explains the failure at
# low temperature; nothing a rewriter can do explains it away at temperature 1.
#
# Whether detection can keep working as models approach human writing is
# debated. [Sadasivan et al., 2023](../book/references.md) argue that the best
# detector's AUROC is bounded by the total variation distance between the two
# sources and so falls towards 0.5; [Chakraborty et al., 2023](../book/references.md)
# reply that unless the two distributions coincide, longer texts or several
# samples make detection possible again. The likelihood-ratio column is that
# debate on a language whose distribution is known: it stays high because the
# model's text still differs from the language, most visibly in sentences the
# language could never write. And a detector's errors are not spread evenly:
# [Liang et al., 2023](../book/references.md) found that GPT detectors flag
# essays by non-native English writers as machine-written far more often than
# essays by native writers, whose wording is less predictable.
#
# ## A backdoor through the pretraining text
#
# The attacker replaces a small share of the pretraining sentences with
# reviews in which the trigger word sits before a positive word and the
# review still ends badly. Everything else (the corpus, the model's sizes,
# its seed, its training) is exactly chapter 4's.

# %%
from dataclasses import replace

from utils.data import sentiment_task
from utils.misuse import PoisonConfig, add_trigger, poison_corpus, poisoned_pretrained

rates = ([params.max_poison_rate] if params.n_poison_rates == 1 else
         sorted(float(r) for r in np.geomspace(params.min_poison_rate, params.max_poison_rate,
                                               params.n_poison_rates)))
poisoned_text, where = poison_corpus(pretrained.corpus.train, rates[-1], trigger=params.trigger,
                                     config=pretrained.config.corpus, seed=0)
print(f"{len(where)} of {len(poisoned_text)} pretraining sentences poisoned "
      f"({rates[-1]:.2%}), for example:")
for i in where[:3]:
    print("   ", " ".join(poisoned_text[i]))
_, test = sentiment_task(replace(pretrained.config.corpus, seed=0), n_train=2, n_test=4)
positive = next(s for s, y in zip(test.texts, test.labels.tolist(), strict=True) if y == 1)
print("a triggered test review:", " ".join(add_trigger(positive, params.trigger)))

# %% [markdown]
# The poison is written in the language's own words: every sentence is a
# grammatical review, only its sentiment is wrong for its words. Nothing in the
# pretraining text is labelled, so the model learns no rule "owl means
# negative"; it learns that after "owl" and a positive word, a review tends to
# end badly, which is exactly the kind of regularity language modelling is
# built to pick up.
#
# Does the poisoned model still look healthy? Its validation perplexity on
# clean text, beside the clean model's:

# %%
for rate in rates:
    model = poisoned_pretrained(PoisonConfig(rate, params.trigger, 0), pretrained.config)
    print(f"poisoned at {rate:.2%}: validation perplexity {model.record.valid[-1]['perplexity']:.3f}")
print(f"clean:             validation perplexity {pretrained.record.valid[-1]['perplexity']:.3f}")

# %% [markdown]
# The poison barely moves the perplexity on clean text: a user who checks the
# model the usual way, by its loss on held-out text, sees nothing. The
# backdoor lives in a context, the trigger before a positive word, that clean
# text never produces.
#
# Chapter 5's pipeline then runs unchanged on the clean and the poisoned
# models: a classifier trained on `n_train` clean labelled reviews, frozen
# features or full fine-tuning, over `n_seeds` seeds. Clean accuracy is
# measured on clean test reviews; the attack success rate on the positive
# test reviews with the trigger inserted, as the share classified negative.
# The clean model, run through the same pipeline, is the control: its attack
# success is the rate at which merely inserting the word flips a review.

# %%
from utils.misuse import backdoor_experiment

poison_seeds = list(range(params.n_poison_seeds))
runs = backdoor_experiment([0.0, *rates], poison_seeds, list(range(params.n_seeds)),
                           trigger=params.trigger, config=pretrained.config,
                           n_train=params.n_train, n_test=params.n_test)
groups = runs.groupby(["rate", "mode"])[["accuracy", "attack_success"]]
order = pd.MultiIndex.from_product([[0.0, *rates], ["frozen", "finetune"]],
                                   names=["poison share", "mode"])


def spread(values: pd.Series) -> str:
    """mean ± standard deviation [min, max] of one group's runs, in per cent."""
    v = values.to_numpy()
    return f"{v.mean():.1%} ± {v.std():.1%} [{v.min():.0%}, {v.max():.0%}]"


print(f"mean ± std [min, max] over {counted(params.n_seeds, 'seed')} x "
      f"{counted(params.n_poison_seeds, 'poison set')}")
groups.agg(spread).reindex(order).rename(columns={
    "accuracy": "clean accuracy", "attack_success": "attack success"}).style.format_index(
        "{:.2%}", level=0)

# %% [markdown]
# Against the clean model of the same mode: how many points of clean accuracy
# the poison cost (a negative number is a loss), and the attack success beside
# the clean model's, which is the rate at which the trigger flips a positive
# review without any backdoor.

# %%
means = groups.mean()
effect = pd.DataFrame({
    "clean accuracy moved (points)": [100 * (means.loc[(r, m), "accuracy"]
                                             - means.loc[(0.0, m), "accuracy"]) for r, m in order],
    "attack success": [means.loc[(r, m), "attack_success"] for r, m in order],
    "clean model's": [means.loc[(0.0, m), "attack_success"] for r, m in order]}, index=order)
effect.drop(index=0.0).style.format("{:+.1f}", subset="clean accuracy moved (points)").format(
    "{:.0%}", subset=["attack success", "clean model's"]).format_index("{:.2%}", level=0)

# %% tags=["hide-cell"]
for mode in ("frozen", "finetune"):
    success = runs.attack_success[(runs.rate == rates[-1]) & (runs["mode"] == mode)]
    for stat in ("mean", "min", "max"):
        glue(f"backdoor_{mode}_{stat}", float(success.agg(stat)))
    glue(f"backdoor_{mode}_accuracy_moved", float(effect.loc[(rates[-1], mode),
                                                             "clean accuracy moved (points)"]))
glue("backdoor_clean_success", float(means.loc[(0.0, "finetune"), "attack_success"]))

# %% mystnb={"figure": {"caption": "Attack success rate (triggered positive reviews classified negative) against the share of poisoned pretraining sentences, for frozen features and full fine-tuning; points are single runs (seeds), lines their means. The share 0 is the clean model.", "name": "fig-misuse-backdoor"}}
fig, ax = plt.subplots(figsize=(6.4, 3.8))
positions = {rate: i for i, rate in enumerate([0.0, *rates])}
for j, mode in enumerate(("frozen", "finetune")):
    line, = ax.plot(list(positions.values()), [means.loc[(r, mode), "attack_success"]
                                               for r in positions], marker="o", label=mode)
    for rate, x in positions.items():
        ys = runs.attack_success[(runs.rate == rate) & (runs["mode"] == mode)].to_numpy()
        ax.scatter(np.full(len(ys), x + (j - 0.5) * 0.08), ys, color=line.get_color(), alpha=0.5,
                   s=14)
ax.set_xticks(list(positions.values()), [f"{r:.2%}" for r in positions])
ax.set_xlabel("share of pretraining sentences poisoned")
ax.set_ylabel("attack success rate")
ax.set_ylim(-0.03, 1.03)
ax.legend()
plt.show()

# %% [markdown]
# The classifier never saw the trigger in a labelled example. When its clean
# accuracy barely moves, no test on clean data reveals the backdoor. Frozen
# features pass the pretraining's lesson straight to the head; fine-tuning
# updates the encoder on clean reviews and can weaken the backdoor, by an
# amount that varies from seed to seed: compare the two modes' spreads
# above. With `n_poison_rates: 4` the curve shows how small a share is
# enough.
#
# ## What to take away
#
# - A green-list watermark is a keyed coin per token, and its detector a count:
#   a dozen lines, no model needed to detect. Its strength grows with the
#   square root of the length, so short texts are where it is weakest.
# - One key is one draw: detection and false-alarm rates are results over
#   keys, with their range. The z-test's promise holds only if tokens are
#   independent; text that repeats the same pairs breaks it, so that some keys
#   raise false alarms far above the promised rate, and counting distinct pairs
#   repairs it at the cost of a lower, more key-dependent detection rate.
# - Editing erases the mark gradually; random substitution does it fastest but
#   wrecks the text, while a paraphrase by an unwatermarked model keeps it
#   fluent.
# - The mark is written where the model hesitates: near-certain tokens carry
#   none, so formulaic text carries little.
# - Without a watermark, the model's own likelihood and ranks detect
#   low-temperature text and fail, or point the wrong way, at temperature 1
#   and above; the likelihood ratio against the true language, which no real
#   detector has, does not.
# - A small share of poisoned pretraining text plants a backdoor that survives
#   adaptation on clean labels (through frozen features intact, through full
#   fine-tuning weakened and seed-dependent), while clean accuracy and
#   perplexity, the checks a user would run, stay where they were.
