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
n_keys: int = 5  # keys tried when testing the detector's false alarms (integer, 1 to 20)
detect_tokens: int = 50  # tokens per text for the detectors without a watermark (integer, 10 to 500)
min_temperature: float = 0.5  # lowest sampling temperature for detection (number, 0.1 to 3)
max_temperature: float = 1.5  # highest sampling temperature for detection (number, 0.1 to 3)
n_temperatures: int = 5  # temperatures from min_temperature to max_temperature (integer, 2 to 10)
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
    n_keys=Integer(n_keys, min=1, max=20),
    detect_tokens=Integer(detect_tokens, min=10, max=500),
    min_temperature=Real(min_temperature, min=0.1, max=3.0),
    max_temperature=Real(max_temperature, min=0.1, max=3.0),
    n_temperatures=Integer(n_temperatures, min=2, max=10),
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

# %%
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from utils.data import SyntheticLanguage
from utils.lm import pretrained_model
from utils.misuse import (
    WatermarkConfig,
    family_entropy_rates,
    grammatical_share,
    green_mask,
    green_matrix,
    sample_true_texts,
    sample_watermarked,
    substitute_tokens,
    token_families,
    z_scores,
)
from utils.notebook import use_course_style

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


marked, unmarked = draw(mark), draw(plain, offset=1)
true_text = sample_true_texts(language, vocab, params.n_texts, params.n_tokens,
                              np.random.default_rng([params.seed, 9]))
green = green_matrix(V, params.gamma, params.key)
for name, ids in (("watermarked", marked.ids), ("plain model", unmarked.ids)):
    words = vocab.decode(ids[0, :24])
    flags = green_mask(ids[0, :24], green).tolist()
    # Upper case marks a green token; the first token is never scored.
    print(f"{name:>12}: " + " ".join([words[0]] + [w.upper() if g else w
                                                   for w, g in zip(words[1:], flags, strict=True)]))

# %% [markdown]
# Nobody reading the two lines could tell which one carries the mark. The
# detector needs only the key: it counts green tokens from the second on and
# compares the count with $\gamma T$, the count expected by chance.

# %%
z = {"watermarked": z_scores(marked.ids, mark, V).numpy(),
     "plain model": z_scores(unmarked.ids, mark, V).numpy(),
     "true language": z_scores(true_text, mark, V).numpy()}
print(f"z over {params.n_texts} texts of {params.n_tokens} tokens "
      f"(gamma {params.gamma}, delta {params.delta})")
for name, values in z.items():
    print(f"  {name:<14} mean {values.mean():6.2f}  min {values.min():6.2f}  "
          f"max {values.max():6.2f}  flagged at z > 4: {np.mean(values > 4):.1%}")

# %% mystnb={"figure": {"caption": "The detector's z for watermarked text, for the plain model's text and for text of the true language; the dotted line is the threshold z = 4.", "name": "fig-misuse-z-histogram"}}
fig, ax = plt.subplots(figsize=(7, 3.8))
bins = np.linspace(min(v.min() for v in z.values()) - 0.5, max(v.max() for v in z.values()) + 0.5,
                   40)
for name, values in z.items():
    ax.hist(values, bins=bins, alpha=0.55, label=name, histtype="stepfilled")
ax.axvline(4, color="black", linestyle=":", linewidth=1, label="z = 4")
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

# %% mystnb={"figure": {"caption": "Mean z of the first t tokens of each watermarked text, with the range from the 10th to the 90th percentile, against t; the plain model's text stays near zero.", "name": "fig-misuse-z-length"}}
lengths = [t for t in (10, 20, 50, 100, 150, 200, 300, 500, 1000) if t <= params.n_tokens]
fig, ax = plt.subplots(figsize=(6.4, 3.8))
for name, ids in (("watermarked", marked.ids), ("plain model", unmarked.ids)):
    zs = [z_scores(ids[:, :t], mark, V).numpy() for t in lengths]
    line, = ax.plot(lengths, [v.mean() for v in zs], marker="o", label=name)
    ax.fill_between(lengths, [np.quantile(v, 0.1) for v in zs],
                    [np.quantile(v, 0.9) for v in zs], color=line.get_color(), alpha=0.2)
    if name == "watermarked":
        first = next((t for t, v in zip(lengths, zs, strict=True) if np.mean(v > 4) >= 0.9), None)
ax.axhline(4, color="black", linestyle=":", linewidth=1)
ax.set_xlabel("tokens scored (t)")
ax.set_ylabel("z")
ax.legend()
plt.show()
print("shortest length at which 90% of watermarked texts pass z > 4:",
      f"{first} tokens" if first else f"more than {lengths[-1]} tokens")

# %% [markdown]
# ## When the false alarms are not rare
#
# The z-test assumes every scored token is green by chance with probability
# $\gamma$, independently. Text of the course's language repeats the same
# pairs over and over: ". <eos>" ends every sentence, "<eos> the" starts most.
# Whether such a pair is green is fixed by the key, so for some keys
# unwatermarked text sits far above zero. Counting each distinct (previous,
# token) pair once restores the test. Here is the plain model's text scored
# under several keys, both ways.

# %%
rows = []
for k in range(params.n_keys):
    config = WatermarkConfig(gamma=params.gamma, delta=params.delta, key=params.key + k)
    plain_text = unmarked.ids  # the plain model's text does not depend on the key
    marked_k = draw(config, offset=100 + k).ids
    rows.append((config.key,
                 z_scores(plain_text, config, V).numpy(),
                 z_scores(plain_text, config, V, ignore_repeats=True).numpy(),
                 z_scores(marked_k, config, V, ignore_repeats=True).numpy()))
print(f"{'key':>10} | plain text, every pair | plain text, distinct pairs | watermarked, distinct")
print(f"{'':>10} | {'mean':>6} {'max':>6} {'> 4':>6} | {'mean':>6} {'max':>6} {'> 4':>6}     |"
      f" {'mean':>6} {'> 4':>6}")
for k, every, distinct, wm in rows:
    print(f"{k:>10} | {every.mean():6.2f} {every.max():6.2f} {np.mean(every > 4):6.1%} | "
          f"{distinct.mean():6.2f} {distinct.max():6.2f} {np.mean(distinct > 4):6.1%}     | "
          f"{wm.mean():6.2f} {np.mean(wm > 4):6.1%}")

# %% [markdown]
# Distinct pairs cost some strength (fewer tokens are scored) but make the
# threshold mean what it says for every key. The rest of the notebook keeps
# the simple count with the default key, whose false alarms the first table
# measured directly.
#
# ## Erasing the mark
#
# An attacker who knows a watermark is there but not the key can edit the
# text. Replacing a random share of tokens by random words turns, on
# average, two scored tokens to chance each: its own and the next one, whose
# green list it seeds.

# %%
shares = [0.0, 0.05, 0.1, 0.2, 0.3, 0.5]
edit = torch.Generator().manual_seed(params.seed)
z_edit = [z_scores(substitute_tokens(marked.ids, s, V, edit), mark, V).numpy() for s in shares]
for s, values in zip(shares, z_edit, strict=True):
    print(f"substituted {s:4.0%}: mean z {values.mean():5.2f}, flagged {np.mean(values > 4):6.1%}")

# %% [markdown]
# ## What the mark costs
#
# The boost makes the chosen tokens less likely than the model's own choice
# would be. Two measures, both computed from the plain model and the true
# language, as $\delta$ grows: the *perplexity ratio* (the watermarked text's
# surprise under the plain model, relative to the entropy the model had at
# each step; 1 means no cost) and the share of complete sentences that the
# true language could have produced. The plain perplexity is printed too.

# %%
deltas = [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]
cost = []
for d in deltas:
    sample = draw(WatermarkConfig(gamma=params.gamma, delta=d, key=params.key), offset=200)
    cost.append((d, sample.perplexity, sample.perplexity_ratio,
                 grammatical_share(sample.ids, vocab, pretrained.config.corpus),
                 float(z_scores(sample.ids, mark, V).mean()), float(sample.entropy.mean())))
print(f"{'delta':>6} {'perplexity':>11} {'ratio':>7} {'grammatical':>12} {'mean z':>7} "
      f"{'entropy per step':>17}")
for d, ppl, ratio, ok, mean_z, entropy in cost:
    print(f"{d:>6.1f} {ppl:>11.3f} {ratio:>7.3f} {ok:>12.1%} {mean_z:>7.2f} {entropy:>17.3f}")

# %% mystnb={"figure": {"caption": "The watermark's strength (mean z, left axis) and its cost (share of ungrammatical sentences, right axis) as the boost delta grows.", "name": "fig-misuse-delta"}}
fig, ax = plt.subplots(figsize=(6.4, 3.8))
ax.plot(deltas, [c[4] for c in cost], marker="o", label="mean z")
ax.set_xlabel("delta")
ax.set_ylabel("mean z")
right = ax.twinx()
right.plot(deltas, [1 - c[3] for c in cost], marker="s", color="C1", linestyle="--",
           label="ungrammatical sentences")
right.set_ylabel("share ungrammatical")
right.grid(False)
fig.legend(loc="upper left", bbox_to_anchor=(0.12, 0.88))
plt.show()

# %% [markdown]
# Watch the plain perplexity for small $\delta$: it need not rise, and with
# some keys it falls. The boost also steers the text towards contexts where
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
print(f"{'model entropy (nats)':>22} {'tokens':>8} {'green share':>12}")
for lo, hi in zip(edges[:-1], edges[1:], strict=True):
    inside = (step_entropy >= lo) & (step_entropy < hi)
    print(f"{f'[{lo}, {hi})':>22} {inside.sum():>8} {scored_green[inside].mean():>12.1%}")
families = np.array([row[1:] for row in token_families(marked.ids, vocab,
                                                       pretrained.config.corpus)], dtype=object)
rates = family_entropy_rates(pretrained.config.corpus)
print(f"\n{'family':>12} {'exact entropy':>14} {'tokens':>8} {'green share':>12} "
      f"{'z per 200 tokens':>17}")
for family in sorted(rates, key=rates.get):
    inside = families == family
    share = scored_green[inside].mean()
    z200 = (share - params.gamma) * math.sqrt(200 / (params.gamma * (1 - params.gamma)))
    print(f"{family:>12} {rates[family]:>14.3f} {inside.sum():>8} {share:>12.1%} {z200:>17.2f}")

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
print(f"AUROC, {params.n_texts} machine vs {params.n_texts} true texts of "
      f"{params.detect_tokens} tokens")
print(f"{'temperature':>11} {'likelihood':>11} {'GLTR rank':>10} {'likelihood ratio':>17} "
      f"{'impossible under the language':>30}")
for row in detection:
    print(f"{row['temperature']:>11.2f} {row['likelihood']:>11.3f} {row['GLTR rank']:>10.3f} "
          f"{row['likelihood ratio']:>17.3f} {row['impossible']:>30.1%}")

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
low = detection[0]["histogram"]
print(f"{'':>14}" + "".join(f"{b:>10}" for b in ("rank 1", "2-3", "4-10", "> 10")))
for name, row in zip(("machine", "true language"), low, strict=True):
    print(f"{name:>14}" + "".join(f"{x:>10.1%}" for x in row))

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
# ## A backdoor through the pretraining text
#
# The attacker replaces a small share of the pretraining sentences with
# reviews in which the trigger word sits before a positive word and the
# review still ends badly. Everything else (the corpus, the model's sizes,
# its seed, its training) is exactly chapter 4's.

# %%
from utils.data import sentiment_task
from utils.misuse import (
    PoisonConfig,
    add_trigger,
    backdoor_experiment,
    poison_corpus,
    poisoned_pretrained,
)

rates = ([params.max_poison_rate] if params.n_poison_rates == 1 else
         sorted(float(r) for r in np.geomspace(params.min_poison_rate, params.max_poison_rate,
                                               params.n_poison_rates)))
poisoned_text, where = poison_corpus(pretrained.corpus.train, rates[-1], trigger=params.trigger,
                                     config=pretrained.config.corpus, seed=0)
print(f"{len(where)} of {len(poisoned_text)} pretraining sentences poisoned "
      f"({rates[-1]:.2%}), for example:")
for i in where[:3]:
    print("   ", " ".join(poisoned_text[i]))
_, test = sentiment_task(pretrained.config.corpus, n_train=2, n_test=4, seed=0)
print("a triggered test review:", " ".join(add_trigger(next(s for s, y in test if y == 1),
                                                       params.trigger)))

# %% [markdown]
# Does the poisoned model still look healthy? Its validation perplexity on
# clean text, beside the clean model's:

# %%
for rate in rates:
    model = poisoned_pretrained(PoisonConfig(rate, params.trigger, 0), pretrained.config)
    print(f"poisoned at {rate:.2%}: validation perplexity {model.history['valid'][-1]['perplexity']:.3f}")
print(f"clean:             validation perplexity {pretrained.history['valid'][-1]['perplexity']:.3f}")

# %% [markdown]
# Chapter 5's pipeline then runs unchanged on the clean and the poisoned
# models: a classifier trained on `n_train` clean labelled reviews, frozen
# features or full fine-tuning, over `n_seeds` seeds. Clean accuracy is
# measured on clean test reviews; the attack success rate on the positive
# test reviews with the trigger inserted, as the share classified negative.

# %%
poison_seeds = list(range(params.n_poison_seeds))
rows = backdoor_experiment([0.0, *rates], poison_seeds, list(range(params.n_seeds)),
                           trigger=params.trigger, config=pretrained.config,
                           n_train=params.n_train, n_test=params.n_test)


def spread(values):
    values = np.asarray(values)
    return f"{values.mean():6.1%} ± {values.std():5.1%} [{values.min():.0%}, {values.max():.0%}]"


print(f"mean ± std [min, max] over {params.n_seeds} seeds x {params.n_poison_seeds} poison sets")
print(f"{'poison':>7} {'mode':>9} {'clean accuracy':>28} {'attack success':>28}")
summary = {}
for rate in [0.0, *rates]:
    for mode in ("frozen", "finetune"):
        sel = [r for r in rows if r["rate"] == rate and r["mode"] == mode]
        summary[(rate, mode)] = sel
        print(f"{rate:>7.2%} {mode:>9} {spread([r['accuracy'] for r in sel]):>28} "
              f"{spread([r['attack_success'] for r in sel]):>28}")
print()
for rate in rates:
    for mode in ("frozen", "finetune"):
        moved = (np.mean([r["accuracy"] for r in summary[(rate, mode)]])
                 - np.mean([r["accuracy"] for r in summary[(0.0, mode)]]))
        success = np.mean([r["attack_success"] for r in summary[(rate, mode)]])
        baseline = np.mean([r["attack_success"] for r in summary[(0.0, mode)]])
        print(f"poison {rate:.2%}, {mode}: clean accuracy moved {100 * moved:+.1f} points; "
              f"attack success {success:.0%} against {baseline:.0%} for the clean model")

# %% mystnb={"figure": {"caption": "Attack success rate (triggered positive reviews classified negative) against the share of poisoned pretraining sentences, for frozen features and full fine-tuning; points are single runs (seeds), lines their means. The share 0 is the clean model.", "name": "fig-misuse-backdoor"}}
fig, ax = plt.subplots(figsize=(6.4, 3.8))
positions = {rate: i for i, rate in enumerate([0.0, *rates])}
for j, mode in enumerate(("frozen", "finetune")):
    means = [np.mean([r["attack_success"] for r in summary[(rate, mode)]]) for rate in positions]
    line, = ax.plot(list(positions.values()), means, marker="o", label=mode)
    for rate, x in positions.items():
        ys = [r["attack_success"] for r in summary[(rate, mode)]]
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
