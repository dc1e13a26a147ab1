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
# # What the model remembers: exposure, membership and DP-SGD
#
# [Chapter 8](../book/08_privacy.md) asked what a language model can give away about
# the text it was trained on. This notebook measures it on small versions of
# the course's LSTM model: a secret code planted in the training text a known
# number of times, and how exposed it becomes; the same secret after the text
# is deduplicated; an attack that guesses which sentences were in the training
# set; DP-SGD, which trains with a provable limit on both; and two defences
# that act on the data instead: a scrubber that removes the secret's format
# before training, and unlearning after it.
#
# Two algorithms are the heart of the chapter, and both are written out here in
# a few lines before the notebook hands over to the `utils.privacy` library:
# the exposure of a secret (section 1) and DP-SGD's clipped, noisy gradient
# (section 4). Each is checked against the library with an `assert`, so if
# you change one and it no longer agrees, the notebook stops there.

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
# Every model here is small and trained in seconds, then kept in the model
# cache; from an empty cache the defaults need about two minutes of CPU. A new `seed` draws new corpora and trains every model again.

# %% tags=["parameters"]
seed: int = 0  # seed of the corpora, the models and the attack's splits (an integer, at least 0)
largest_insertions: int = 64  # the most copies of the canary; the notebook plants 0, 1, 4, 16 ... up to it (one of 4, 16, 64, 256)
exposure_epochs: int = 6  # passes over the 4000-sentence corpus of the exposure models (integer, 1 to 30)
overfit_epochs: int = 20  # passes over the 1000 training sentences of the overfit model (integer, 5 to 60)
dp_epochs: int = 10  # passes over the training sentences of each DP-SGD run (integer, 2 to 40)
delta: float = 1e-5  # the delta of (epsilon, delta) differential privacy (number, 1e-9 to 1e-3)

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    largest_insertions=OneOf(largest_insertions, [4, 16, 64, 256]),
    exposure_epochs=Integer(exposure_epochs, min=1, max=30),
    overfit_epochs=Integer(overfit_epochs, min=5, max=60),
    dp_epochs=Integer(dp_epochs, min=2, max=40),
    delta=Real(delta, min=1e-9, max=1e-3),
)

# %% [markdown]
# ## 1. A secret in the training text
#
# The corpus has a family of sentences "the code is d d d d d ." whose five
# digits are drawn uniformly at random, so in the language itself every one of
# the $10^5$ codes is equally likely. We plant one code, the **canary**
# "4 8 1 5 2", $k$ times in the training text and train a model for each $k$.
# Its **exposure** ([Carlini et al., 2019](../book/references.md)) is
#
# $$\text{exposure} = \log_2 10^5 - \log_2 \text{rank},$$
#
# where the rank is the canary's place when all $10^5$ codes are sorted by the
# model's probability. Ranked first, the canary has the maximum
# $\log_2 10^5 \approx 16.6$ bits. We can score all $10^5$ codes exactly: the
# state after "the code is" is computed once and expanded digit by digit, ten
# ways at each step.
#
# Five models are trained, one for each $k$ in 0, 1, 4, 16, ... up to the
# `largest_insertions` parameter; everything else about them is the same: the
# same 4,000 sentences, the same seed, the same epochs. Whatever differs in
# their exposure is the canary's doing. Each model is kept in the model cache,
# so a second run of the notebook loads them.

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from utils.notebook import plain_log_ticks, use_course_style
from utils.privacy import CANARY, canary_log2_probs, exposure_run, train_run

use_course_style()
torch.manual_seed(params.seed)
notebook_start = time.perf_counter()
max_bits = math.log2(10**5)
canary = int(CANARY)  # the canary's index among the 100,000 codes
insertions = [0] + [4**i for i in range(int(round(math.log(params.largest_insertions, 4))) + 1)]
runs = {k: train_run(exposure_run(k, seed=params.seed, epochs=params.exposure_epochs))
        for k in insertions}
scores = {k: canary_log2_probs(run.model, run.vocab) for k, run in runs.items()}  # (100000,) each
print("loaded from the cache:", [k for k in insertions if runs[k].from_cache] or "none")

# %% [markdown]
# ### Exposure, written out
#
# The rank is one plus the number of codes the model scores higher than the
# canary. Codes scored exactly alike share their places: each other code tied
# with the canary counts one half, so the rank is the mid-rank, the place the
# canary would get on average if ties were broken by a coin. (A model that
# scores every code alike then gives the canary rank 50,000.5 and about one bit,
# not the full 16.6.) Here are the ten lines, checked against the library's
# `utils.privacy.exposure` on every model before the rest of the notebook uses it.

# %%
def rank_of(log_probs: np.ndarray, index: int) -> float:
    """The mid-rank of candidate `index`: 1 + those scored higher + half the ties."""
    target = log_probs[index]
    higher = np.sum(log_probs > target)
    ties = np.sum(log_probs == target) - 1  # the canary is not tied with itself
    return 1 + higher + ties / 2


def exposure_by_hand(log_probs: np.ndarray, index: int) -> float:
    """Bits of exposure: log2(number of candidates) - log2(rank)."""
    return math.log2(len(log_probs)) - math.log2(rank_of(log_probs, index))


from utils.privacy import exposure, extrapolated_exposure

for k in insertions:
    assert np.isclose(exposure_by_hand(scores[k], canary), exposure(scores[k], canary))

# %% [markdown]
# They agree on every model. From here on the notebook calls the library.
#
# The exposure of the canary after each number of insertions $k$, its rank,
# and the extrapolated exposure explained below the table. Read the rank
# column as a guessing game: an attacker who tries the codes in the model's
# order of preference needs about that many guesses to hit the canary.

# %%
exposures = {k: exposure(s, canary) for k, s in scores.items()}
pd.DataFrame({"exposure (bits)": [exposures[k] for k in insertions],
              "rank among 100,000": [rank_of(scores[k], canary) for k in insertions],
              "extrapolated (bits)": [extrapolated_exposure(scores[k], canary)
                                      for k in insertions]},
             index=pd.Index(insertions, name="canary planted (times)")).round(2)

# %% [markdown]
# Exact exposure stops at 16.6 bits: once two canaries are both ranked first,
# it cannot say which is more exposed. Carlini et al. continue the scale past
# that cap by fitting a skew-normal distribution to the scores of all the other
# candidates and asking how far in its tail the canary lies (the "extrapolated"
# column). Where the rank is informative the two agree, which is a check on the
# fit; past the cap only the extrapolation separates the canaries. Read those
# large values as an ordering, not a measurement: tens of bits correspond to a
# tail probability far below one in $10^5$, the most the sampled candidates
# can show, so out there it is the fitted skew-normal's shape talking, not the
# model's scores.
#
# The control ($k = 0$) was never in the training text, so its rank is just
# where it happens to fall among codes the model knows nothing about: a
# uniform rank, whose exposure is at least $x$ bits with probability $2^{-x}$
# (4 bits or more one time in 16) and averages $1/\ln 2 \approx 1.44$ bits. One
# control is one draw from that distribution. The corpus gives a steadier view
# for free: every ordinary code sentence in the training text is a code seen
# exactly once. Their average exposure, against that of 2,000 codes the model
# never saw, shows whether a single sighting leaves a trace: if it leaves
# none, both rows sit near 1.44 bits; if the first row is clearly higher, the
# model has kept something of each code it read only once.

# %%
control = runs[0]
seen = {int("".join(s[3:8])) for s in control.train_text if s[:3] == ["the", "code", "is"]}
rng = np.random.default_rng([params.seed, 1])
unseen = [c for c in rng.choice(10**5, 3000, replace=False) if c not in seen][:2000]
pd.DataFrame({"codes": [len(seen), len(unseen)],
              "mean exposure (bits)": [np.mean([exposure(scores[0], c) for c in codes])
                                       for codes in (seen, unseen)]},
             index=["seen once in training", "never seen"]).round(2)

# %% [markdown]
# Exposure against the number of insertions, and during training. Carlini et
# al. found that a canary is memorised early in training, while the
# validation loss is still falling: memorisation is not a late symptom of
# overfitting. In the right panel, look at how early each curve rises, and at
# the gap between the curves: more copies, sooner and higher.

# %% mystnb={"figure": {"caption": "Left: the canary's exact exposure after training against how many times it was planted (0 is the never-inserted control); the dashed line is the maximum, log2 of 100,000. Right: the exposure after every epoch of training, one line per number of insertions.", "name": "fig-privacy-exposure"}}
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
xs = np.arange(len(insertions))
left.plot(xs, [exposures[k] for k in insertions], "o-")
left.axhline(max_bits, ls="--", color="gray", label="maximum")
left.axhline(1 / math.log(2), ls=":", color="gray", label="uniform rank, on average")
left.set(xticks=xs, xticklabels=[str(k) for k in insertions], xlabel="insertions of the canary",
         ylabel="exposure (bits)", ylim=(0, 17.5))
left.legend(loc="upper left")
for k in insertions:
    curve = runs[k].record.measured["exposure_by_epoch"]
    right.plot(range(1, len(curve) + 1), curve, "o-", label=f"k = {k}")
right.axhline(max_bits, ls="--", color="gray")
right.set(xlabel="epoch", ylabel="exposure (bits)", ylim=(0, 17.5))
right.legend(loc="center right")
plt.show()

# %% [markdown]
# ## 2. Duplicates and deduplication
#
# The canary planted many times is a duplicated sequence, and duplicated text
# is what models regurgitate most ([Kandpal et al., 2022](../book/references.md)). Removing exact
# duplicates from the training text leaves one copy of the canary. It also
# removes the repeats of common short sentences, which in this corpus are not
# accidents but the language's own frequencies, so the perplexity on held-out
# text is worth watching too.
#
# The table compares the largest-$k$ model with the same recipe trained on the
# deduplicated text. Two things to read in it: how far the canary's exposure
# falls when only one copy is left (towards the control's level, or only part
# of the way), and whether the held-out perplexity pays for the common
# sentences that deduplication also threw away.

# %%
from utils.privacy import perplexity

k_max = insertions[-1]
dup = runs[k_max]
dedup = train_run(exposure_run(k_max, seed=params.seed, epochs=params.exposure_epochs,
                               dedupe=True))
canary_sentence = dup.train_text[dup.corpus.canary_positions[0]]
pd.DataFrame({
    "training sentences": [len(r.train_text) for r in (dup, dedup)],
    "copies of the canary": [sum(s == canary_sentence for s in r.train_text) for r in (dup, dedup)],
    "exposure (bits)": [exposures[k_max],
                        exposure(canary_log2_probs(dedup.model, dedup.vocab), canary)],
    "held-out perplexity": [perplexity(r.model, r.corpus.test, r.vocab) for r in (dup, dedup)],
}, index=["with duplicates", "deduplicated"]).round({"exposure (bits)": 2,
                                                     "held-out perplexity": 3})

# %% [markdown]
# ## 3. Membership inference
#
# A model's loss is lower on sentences it trained on. The simplest attack
# ([Yeom et al., 2018](../book/references.md)) says "member" when a sentence's loss is below a
# threshold. We attack two models trained on the same 1000 sentences: one made
# to overfit (128 units, many epochs) and one trained briefly (64 units, the
# recipe the DP-SGD runs below use, without the privacy).
#
# The members are the training sentences other than the canary's copies:
# independent draws from the language, repeats and all. The non-members are
# 10,000 fresh draws from the same language. Two reasons for so many: a
# false-positive rate of 0.1 % means 10 of them, so fewer would leave that
# rate unmeasurable; and both sides come from one distribution, so an attack
# can only tell them apart by what the model learnt from its members.
# [Carlini et al. (2022)](../book/references.md) advise reporting the true-positive rate at such a
# low false-positive rate, where an attack is actually useful, beside the AUC.
# The threshold is picked on half of the non-members (for at most 1 % false
# positives) and applied to the other half, so the attack is not scored on
# the data it was tuned on.
#
# The two models are the control for each other: the same sentences, the same
# attack, a different amount of fitting. If the attack only measured how
# unusual a sentence is, not whether the model saw it, both would score alike.
# In the table, the **AUC** is the chance that a random member scores a lower
# loss than a random non-member (0.5 is guessing); the **advantage** is the
# largest gap between true- and false-positive rates over all thresholds; the
# **held-out** columns are what the threshold chosen on one half actually
# achieves on the other.

# %%
from utils.privacy import attack_report, attack_scores, dp_run, overfit_run


def attack(run):
    """The loss attack's report, and both attacks' (members, non-members) scores."""
    scores = attack_scores(run)  # {"loss": (members, non-members), "calibrated": (...)}
    member_loss, nonmember_loss = (-s for s in scores["loss"])
    return attack_report(member_loss, nonmember_loss, seed=params.seed), scores


def attack_row(report: dict, run) -> dict:
    """One line of the attack tables below."""
    return {"AUC": report["auc"], "advantage": report["advantage"],
            "TPR at 1% FPR": report["tpr_at_fpr"], "held-out TPR": report["held_out_tpr"],
            "held-out FPR": report["held_out_fpr"],
            "validation perplexity": perplexity(run.model, run.corpus.valid, run.vocab)}


overfit = train_run(overfit_run(seed=params.seed, epochs=params.overfit_epochs))
baseline = train_run(dp_run(math.inf, seed=params.seed, epochs=params.dp_epochs))
attacks = {"overfit": attack(overfit), "brief": attack(baseline)}
pd.DataFrame({name: attack_row(attacks[name][0], run)
              for name, run in (("overfit", overfit), ("brief", baseline))}).T.round(3)

# %% [markdown]
# The loss attack separates the overfit model's members on average (its AUC
# is well above 0.5), yet at 1 % false positives it catches only about twice
# as many members as it accuses non-members, and at 0.1 % next to none. The reason is in the sentences: a short,
# common one ("the dog sat on the mat .") has a low loss under any model that
# has learnt the language, member or not, and a long rare one a high loss
# even when it was trained on. The loss measures how *hard* a sentence is at
# least as much as whether the model saw it, and the non-members with the
# lowest losses are simply the easiest sentences.
#
# ### Calibrating by difficulty
#
# [Watson et al. (2022)](../book/references.md) calibrate each example's score by how hard it is:
# compare the model's loss with what the loss of a model that never saw the
# example would be. Carlini et al.'s offline LiRA does so with reference models
# trained without the example. Our language knows the exact probability of
# every sentence, which is the best reference there is, so the calibrated
# score is
#
# $$\text{score}(s) = \log p_{\text{model}}(s) - \log p_{\text{language}}(s),$$
#
# how many nats more likely the model finds the sentence than the language
# does. A common sentence the model has merely learnt scores near 0; a rare
# one it has memorised scores high. Written out, and checked against the
# scores `attack_scores` computed above with the library's `calibrated_scores`:

# %%
from utils.data import SyntheticLanguage
from utils.privacy import membership_sets, sentence_losses

language = SyntheticLanguage(overfit.corpus.config)
members, nonmembers = membership_sets(overfit)
for sentences, library_scores in zip((members, nonmembers), attacks["overfit"][1]["calibrated"],
                                     strict=True):
    model_ll = -sentence_losses(overfit.model, sentences, overfit.vocab)  # nats, <eos> included
    true_ll = np.array([language.log_prob(s) for s in sentences])  # "." ends it; <eos> is certain
    assert np.allclose(model_ll - true_ll, library_scores)
print(f"{len(members)} members, {len(nonmembers)} non-members")

# %% [markdown]
# The true-positive rate at 0.1 % and 1 % false positives for both attacks,
# each with a 95 % bootstrap interval (members and non-members resampled, the
# threshold chosen again each time). With about 1000 members, one member
# caught is 0.1 % of them.

# %%
from utils.privacy import low_fpr_attack


def low_fpr_rows(name: str, scores: dict) -> list[dict]:
    """Both attacks at 0.1 % and 1 % false positives, one row each."""
    rows = []
    for attack_name, (m, n) in scores.items():
        for row in low_fpr_attack(m, n, delta=params.delta, seed=params.seed):
            rows.append({"model": name, "attack": attack_name,
                         "target FPR": row["target_fpr"], "held-out FPR": row["fpr"],
                         "TPR": row["tpr"], "TPR low": row["tpr_low"],
                         "TPR high": row["tpr_high"], "epsilon proven": row["epsilon_lower"]})
    return rows


pd.DataFrame([row for name in attacks for row in low_fpr_rows(name, attacks[name][1])]
             ).set_index(["model", "attack", "target FPR"]).round(4)

# %% [markdown]
# On the overfit model the calibrated attack finds a sizeable share of the
# members at 0.1 % false positives, where the loss attack finds next to none:
# the members it catches are the rare sentences the model has learnt far
# better than the language predicts them. On the briefly trained model,
# whose perplexity is as good, calibration gains little: at 0.1 % false
# positives it catches a member or two more than it accuses non-members, so
# at this scale that model has learnt the language, not its sentences. The
# curves show the whole range of thresholds; the log axes show the low
# false-positive region.

# %% mystnb={"figure": {"caption": "ROC curves of the loss attack (dashed) and the difficulty-calibrated attack (solid) on the overfit model and the briefly trained one; the grey diagonal is guessing. Left on linear axes, right on log axes, where the low false-positive region that matters for an attacker is visible.", "name": "fig-privacy-roc"}}
from utils.privacy import auroc, roc_curve, scores_and_labels

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
for color, (name, (_, scores)) in zip(("C0", "C1"), attacks.items(), strict=True):
    for attack_name, style in (("loss", "--"), ("calibrated", "-")):
        labelled = scores_and_labels(*scores[attack_name])
        fpr, tpr = roc_curve(*labelled)
        for ax in axes:
            ax.plot(fpr, tpr, style, color=color,
                    label=f"{name}, {attack_name} (AUC {auroc(*labelled):.2f})")
for ax in axes:
    ax.plot([1e-4, 1], [1e-4, 1], ":", color="gray")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate")
axes[0].legend(loc="lower right", fontsize="small")
axes[1].set(xscale="log", yscale="log", xlim=(1e-4, 1), ylim=(1e-3, 1))
plain_log_ticks(axes[1].xaxis)
plain_log_ticks(axes[1].yaxis)
plt.show()

# %% [markdown]
# ## 4. DP-SGD, one step by hand
#
# DP-SGD ([Abadi et al., 2016](../book/references.md)) changes one thing in training: the gradient.
# Each example's gradient $g_i$ is clipped to norm at most $C$, the clipped
# gradients are summed, Gaussian noise of standard deviation $\sigma C$ is
# added, and the result is divided by the expected batch size $L$:
#
# $$\tilde g = \frac{1}{L}\Big(\sum_i g_i \min\big(1, C/\lVert g_i\rVert\big) + \mathcal N(0, \sigma^2 C^2 I)\Big).$$
#
# The norm is taken over all of an example's parameters together, one vector
# per sentence, so clipping bounds how far any one sentence can move the model:
# that bound, $C$, is what the noise is scaled to. The division is by the
# *expected* batch size, not the batch's actual size: with Poisson sampling the
# actual size itself depends on who was drawn, and dividing by it would leak
# that. Here is the formula in code,
# on a batch of eight sentences, with $C = 1$, $\sigma = 2$ and $L = 8$, checked
# against the library's `private_gradient` (the same noise generator, seeded
# alike, gives the same noise).

# %%
from utils.privacy import encode_with_targets, per_example_grads, private_gradient


def dp_gradient_by_hand(grads, C, sigma, L, generator):
    """Clip each example's gradient to norm C, sum, add N(0, (sigma C)^2), divide by L."""
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)  # (batch, all weights)
    factor = (C / flat.norm(dim=1)).clamp(max=1.0)  # shrink only the gradients longer than C
    noisy = {}
    for name, g in grads.items():  # g: (batch, *parameter shape)
        clipped_sum = torch.einsum("b,b...->...", factor, g)
        noise = torch.normal(0.0, sigma * C, clipped_sum.shape, generator=generator)
        noisy[name] = (clipped_sum + noise) / L
    return noisy


model, vocab = baseline.model, baseline.vocab
inputs, targets = encode_with_targets(baseline.train_text[:8], vocab)  # (8, width) each
grads = per_example_grads(model, inputs, targets)  # {name: (8, *param.shape)}
ours = dp_gradient_by_hand(grads, C=1.0, sigma=2.0, L=8, generator=torch.Generator().manual_seed(0))
library = private_gradient(model, inputs, targets, max_grad_norm=1.0, noise_multiplier=2.0,
                           expected_batch_size=8, generator=torch.Generator().manual_seed(0))
for name in ours:
    assert torch.allclose(ours[name], library[name], atol=1e-6), name

# %% [markdown]
# The library's version is in turn checked against Opacus, the PyTorch library
# for DP training: the same weights in Opacus's own LSTM, the same batch, no
# noise, and Opacus's optimizer asked to clip and sum without taking a step.
# The gradient norms printed first are all well above $C = 1$, so every
# sentence is clipped here: clipping is not a rare safety net but the normal
# case, which is one reason DP-SGD learns more slowly.

# %%
import warnings

from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer

from utils.privacy import PAD, clip_and_sum, opacus_twin

summed, norms = clip_and_sum(grads, max_grad_norm=1.0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Opacus's notes on secure randomness
    twin = GradSampleModule(opacus_twin(model), loss_reduction="sum")
    opt = DPOptimizer(torch.optim.SGD(twin.parameters(), lr=0.0), noise_multiplier=0.0,
                      max_grad_norm=1.0, expected_batch_size=8, loss_reduction="sum")
    logits, _ = twin(inputs)  # (8, width, vocab_size)
    torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD,
                                      reduction="sum").backward()
    opt.pre_step()  # clip, sum (and add zero noise) without updating
worst = max(float((p.grad - summed[name]).abs().max())
            for name, p in twin._module.named_parameters())
print("per-sentence gradient norms before clipping:", np.round(norms.numpy(), 2))
print(f"largest difference from Opacus's clipped sum, over all parameters: {worst:.1e}")

# %% [markdown]
# ## 5. Counting the privacy spent
#
# A training run is $(\varepsilon, \delta)$-differentially private when adding
# or removing any one sentence changes the probability of every possible
# outcome (here: every set of trained weights) by at most a factor
# $e^{\varepsilon}$, except with probability $\delta$. A small $\varepsilon$
# means that whoever holds the model cannot tell, with any test, whether a
# given sentence was trained on; $\delta$ is kept far below one over the
# number of sentences. Clipping bounds one sentence's influence on a step; the
# noise hides it; the accountant adds up what all the steps reveal together.
#
# Each step is a Gaussian mechanism, which in Rényi differential privacy costs
# $\alpha / (2\sigma^2)$ at every order $\alpha$ ([Mironov, 2017](../book/references.md)); the costs add
# over $T$ steps, and converting to $(\varepsilon, \delta)$ takes a minimum
# over $\alpha$. When every example is in every step that is all closed form.
# Sampling each example with probability $q$ spends less, but needs a
# numerical accountant; we use Opacus's. First, our closed form against
# Opacus's accountant at $q = 1$. More noise (a larger $\sigma$) spends less
# per step; more steps spend more, though less than in proportion, because the
# Rényi costs add and the conversion to $\varepsilon$ grows only like a square
# root of their sum.

# %%
from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

from utils.privacy import DEFAULT_ORDERS, dpsgd_epsilon, gaussian_epsilon


def opacus_epsilon(sigma: float, steps: int, delta: float) -> float:
    rdp = compute_rdp(q=1.0, noise_multiplier=sigma, steps=steps, orders=list(DEFAULT_ORDERS))
    return get_privacy_spent(orders=list(DEFAULT_ORDERS), rdp=rdp, delta=delta)[0]


settings = [(5.0, 10), (10.0, 100), (20.0, 100)]
pd.DataFrame([{"sigma": s, "full-batch steps": t,
               "epsilon, closed form": gaussian_epsilon(s, t, params.delta),
               "epsilon, Opacus": opacus_epsilon(s, t, params.delta)} for s, t in settings]
             ).round(3)

# %% [markdown]
# Now the DP-SGD runs: the brief recipe of section 3 on the same 1000 sentences
# with the canary planted 64 times, with noise calibrated to spend
# $\varepsilon = 8, 2, 1$ at the chosen $\delta$ over all its steps. The
# accountant's column recomputes the $\varepsilon$ each run actually spent, from
# its noise, sampling rate and number of steps: it should give back the target.
#
# One more model is the control the DP runs need. Noise makes a model worse,
# and a worse model leaks less whether or not it is private, so a fall in
# exposure or in the attack's success could be the privacy or merely the
# model not having learnt much. The last row is the same recipe *without* DP,
# stopped after 2 epochs (at a learning rate of 0.012 rather than 10 epochs
# at 0.01), chosen to be about as poor as the $\varepsilon = 8$ model by
# validation perplexity. What the $\varepsilon = 8$ model leaks less than
# this control is DP's doing; what both leak less than the fully trained
# model is partly just underfitting.
#
# Read the table from top to bottom. The noise multiplier $\sigma$ grows as the
# budget shrinks. The canary's exposure is the first thing to fall: 64 copies
# of one sentence are a group, and clipping limits how much any copy can pull.
# The price is in the perplexity column: on 1,000 sentences, the noise that
# buys a small $\varepsilon$ costs a large part of what the model learnt.

# %%
from utils.privacy import underfit_run

epsilons = [math.inf, 8.0, 2.0, 1.0]
configs = {("no DP" if math.isinf(eps) else f"ε = {eps:g}"):
           dp_run(eps, seed=params.seed, epochs=params.dp_epochs, delta=params.delta)
           for eps in epsilons}
configs["no DP, stopped early"] = underfit_run(seed=params.seed)
dp, dp_scores = {}, {}
for name, config in configs.items():
    run = train_run(config)
    sigma = run.config.train.noise_multiplier
    report, dp_scores[name] = attack(run)
    calibrated = low_fpr_attack(*dp_scores[name]["calibrated"], (0.001,), delta=params.delta,
                                seed=params.seed)[0]
    dp[name] = {"sigma": sigma or 0.0,
                "accountant's epsilon": math.inf if sigma is None else dpsgd_epsilon(
                    sigma, run.record.measured["sample_rate"], run.record.steps, params.delta),
                "exposure (bits)": exposure(canary_log2_probs(run.model, run.vocab), canary),
                **attack_row(report, run), "calibrated TPR at 0.1% FPR": calibrated["tpr"]}
trade_off = pd.DataFrame(dp).T.astype(float)
trade_off.index.name = "model"
trade_off[["sigma", "accountant's epsilon", "exposure (bits)", "AUC",
           "calibrated TPR at 0.1% FPR", "validation perplexity"]].round(3)

# %% [markdown]
# Compare the $\varepsilon = 8$ row with the last one, not only with the
# first. Their perplexities are close, so whatever the private model leaks
# less than the stopped-early one is the clipping and noise at work; whatever
# both leak less than the fully trained model is only a model that has not
# learnt. On this data the comparison goes against DP: run over seeds 0 to
# 2, the canary's exposure at $\varepsilon = 8$ was no lower than the
# stopped-early model's (higher at two seeds, lower at the third, by up to
# two bits), and neither attack did better than chance on either. That is what the
# guarantee predicts: the 64 copies of the canary are a group of 64
# sentences, protected at $64 \times 8 = 512$, which promises nothing, and at
# $\varepsilon = 8$ a single sentence is promised little more. At
# $\varepsilon = 1$ the exposure does fall clearly below the control's, on
# every seed, but that model's perplexity is about twice as high again.
#
# The same table as a figure. The dashed lines are the reference points: the
# maximum exposure, 16.6 bits, and an AUC of 0.5, guessing. Perplexity is on a
# log scale, since the DP runs are several times worse than the model without
# noise.

# %% mystnb={"figure": {"caption": "The privacy-utility trade-off of DP-SGD on 1000 sentences: for each privacy budget epsilon (no DP: the same recipe without DP; stopped early: without DP, trained only until its perplexity is about that of epsilon = 8), the canary's exposure (left), the loss attack's AUC (middle) and the validation perplexity (right, log scale).", "name": "fig-privacy-utility"}}
labels = [name.replace(", ", ",\n") for name in trade_off.index]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), layout="constrained")
for ax, column, title in ((axes[0], "exposure (bits)", "canary exposure (bits)"),
                          (axes[1], "AUC", "membership attack AUC"),
                          (axes[2], "validation perplexity", "validation perplexity")):
    ax.bar(labels, trade_off[column], color=["C0"] * (len(labels) - 1) + ["C1"])
    ax.set_title(title)  # above each panel, so no label reaches into its neighbour
    ax.tick_params(axis="x", labelsize="small")
axes[0].axhline(max_bits, ls="--", color="gray")
axes[1].axhline(0.5, ls="--", color="gray")
axes[1].set_ylim(0.4, max(0.8, trade_off["AUC"].max() + 0.05))
axes[2].set_yscale("log")
plain_log_ticks(axes[2].yaxis)
plt.show()

# %% [markdown]
# ## 6. What the guarantee promises, checked
#
# $(\varepsilon, \delta)$-DP bounds every membership test at once: whatever the
# threshold, $\text{TPR} \le e^{\varepsilon}\,\text{FPR} + \delta$ (and the same
# for the mirror-image test). The popular bound on the advantage,
# $\text{TPR} - \text{FPR} \le e^{\varepsilon} - 1$, says nothing once
# $\varepsilon \ge \ln 2$.
#
# Turned around, the bound is an audit ([Jagielski et al., 2020](../book/references.md)): an attack
# whose threshold was chosen on other data, and that reaches a true-positive
# rate TPR at a false-positive rate FPR, proves that the training run cannot be
# $\varepsilon$-DP for any $\varepsilon$ below
# $\ln\big((\text{TPR} - \delta)/\text{FPR}\big)$. The rates are estimates, so
# we take the TPR at the lower end of its 95 % Clopper-Pearson interval and the
# FPR at the upper end of its own: "epsilon proven" below is what the attack
# shows beyond sampling error. A check that can fail needs a model that could
# fail it, so every model is held to the smallest claim, $\varepsilon = 1$:
# the $\varepsilon = 1$ run must pass, and a model trained without DP may not.

# %%
audited = {"overfit": attacks["overfit"][1], **dp_scores}
audit = pd.DataFrame([row for name, scores in audited.items()
                      for row in low_fpr_rows(name, {"calibrated": scores["calibrated"]})])
audit["refutes epsilon = 1"] = audit["epsilon proven"] > 1.0
audit.drop(columns="attack").set_index(["model", "target FPR"]).round(4)

# %% [markdown]
# The same test at every point of the ROC curve, as a second view: how many
# points lie beyond the bound for $\varepsilon = 1$ even after the intervals.
# (Choosing the best of thousands of points on the data that scores them
# flatters the attack a little; the held-out audit above does not.) And the
# ceiling of any such audit here: with 5,000 evaluation non-members and no
# false positive at all, the FPR's upper limit is still about 0.07 %, so no
# attack, however perfect, can prove more than the last number printed. A
# claim of $\varepsilon = 8$ cannot be refuted with this many sentences, which
# is why the audit is run at $\varepsilon = 1$; it is also a reminder that
# passing it says nothing about a large $\varepsilon$.

# %%
from utils.privacy import dp_bound_violations, epsilon_lower_bound

eps_claim = min(epsilons)
for name in ("overfit", "no DP", "ε = 1"):
    m, n = audited[name]["calibrated"]
    violations = dp_bound_violations(m, n, eps_claim, params.delta)
    print(f"{name}: {violations} ROC points beyond TPR <= e^{eps_claim:g} FPR + delta "
          "(95% intervals)")
n_members, n_eval = len(m), len(n) - len(n) // 2  # low_fpr_attack's evaluation half
ceiling = epsilon_lower_bound(n_members, n_members, 0, n_eval, params.delta)
print(f"the most any attack could prove with {n_members} members and {n_eval} non-members: "
      f"epsilon = {ceiling:.2f}")

# %% [markdown]
# A DP run refuted by an attack would mean the accountant, the noise or the
# code is wrong, since the guarantee holds for every attack. Passing does not
# show the guarantee is tight, and the stopped-early control says why the DP
# models pass so easily here: at the perplexity DP costs on 1,000 sentences,
# a model without any privacy has not learnt its members enough for this
# attack to catch them either. (For these poor models the two attacks even
# pick the same sentences first, short review sentences whose true
# probabilities are all alike, so their rows coincide.) Of the models trained
# without DP, only the overfit one breaks the bound; the briefly trained one,
# as good a language model, does not at this scale.

# %% [markdown]
# ## 7. How fast is our DP step?
#
# The per-example gradients are DP-SGD's extra cost. Ours come from
# `torch.func` (one example's gradient, vectorised over the batch); Opacus
# records each layer's activations and backpropagated gradients with hooks and
# forms the per-example products itself. Both run one full private step on the
# same model and batch here, alternating; the ratio is ours over Opacus's.
# Timings on a shared machine are noisy, so the ratio, measured in one run,
# means more than either number of tokens per second.

# %%
from utils.privacy import dp_step_speed

inputs, targets = encode_with_targets(baseline.train_text[:128], vocab)  # (128, width)
speed = dp_step_speed(model, inputs, targets, repeats=3)
print(f"one DP-SGD step on {speed['batch']} sentences ({speed['tokens']:,} tokens):")
print(f"ours {speed['ours_tokens_per_s']:,.0f} tokens/s, Opacus "
      f"{speed['opacus_tokens_per_s']:,.0f} tokens/s, ratio {speed['speedup']:.2f}")

# %% [markdown]
# ## 8. Beyond the training run: scrubbing and unlearning
#
# The defences so far act on how the model is trained. Two more act on the
# data: remove the identifiers from the text before training (**scrubbing**),
# and, when someone asks for their data to be erased after training, remove
# its influence from the model (**unlearning**). One small experiment measures
# both.
#
# Four secret codes of one person are planted in the training text, each in
# its own format, 16 copies of each: the canary's format "the code is 4 8 1
# 5 2 .", the digits spelled out as words ("two seven four zero six"), dashes
# between the digits ("6 - 1 - 0 - 9 - 3"), and a code split over two
# sentences ("the code is 8 5 ." and "the code ends 3 2 7 ."). The scrubber
# is a regular expression for five digits, optionally separated by spaces,
# and it replaces each match with a mask token, `<pii>`; it is written, as
# real scrubbers are, for the format its authors expected
# ([Lukas et al., 2023](../book/references.md)). First, what it does to the
# planted sentences:

# %%
from utils.privacy import (
    CODE_PATTERN,
    SECRET_FORMATS,
    SECRETS,
    caught_by_scrubber,
    scrub,
    scrubbing_rows,
    unlearning_comparison,
)

print("pattern:", CODE_PATTERN.pattern)
for name, code in SECRETS.items():
    for sentence in SECRET_FORMATS[name].render(code):
        text = " ".join(sentence)
        print(f"{name:>12}: {text!r:42} -> {scrub(text)!r}")
caught = caught_by_scrubber()
assert caught == {"exact": True, "spelled out": False, "dashes": False, "split": False}

# %% [markdown]
# Each secret's exposure is measured in its own format, by ranking it among
# all $10^5$ codes written the same way (the library's `format_log2_probs`
# scores them all exactly, as for the canary; for the split code, the two
# sentences' log-probabilities add). Three models per seed, all on one corpus
# of 1,600 training sentences and one recipe: the text as it is, the text
# after scrubbing, and a control never shown any of the four codes, whose
# exposures are the floor. Three seeds (new corpora, new initial weights);
# the table gives the mean and the range over them.

# %%
seeds = (params.seed, params.seed + 1, params.seed + 2)
scrubbing = pd.DataFrame(scrubbing_rows(seeds))
scrub_table = (scrubbing.groupby(["format", "caught by the scrubber", "condition"], sort=False)
               ["exposure (bits)"].agg(["mean", "min", "max"]).unstack("condition"))
scrub_table.round(2)

# %% [markdown]
# The control's column is the floor: about the 1.44 bits of a uniform rank,
# one draw per seed. Trained on the text as it is, every format is exposed
# far above it, near the maximum of 16.6 bits. Scrubbing takes the canary's
# own format back to the floor, and it is the only one it touches: the three
# formats the regular expression was not written for stay at least as
# exposed as without scrubbing. Scrubbing removes what it matches, and only
# that.
#
# The mask token itself is no leak, since every code of the canary's format
# became the same `<pii>`; but the scrubber also took every ordinary code
# sentence out of the text, which is the price in utility that Lukas et al.
# weigh against the disclosure it prevents. The held-out sentences are not
# scrubbed, so their perplexity shows that price:

# %%
(scrubbing.groupby("condition", sort=False)["held-out perplexity"]
 .agg(["mean", "min", "max"]).round(3))

# %%
from utils.notebook import glue  # the book pastes these numbers; elsewhere a no-op

# Plain floats: the book formats the glued text, which must read as a number.
means = scrubbing.groupby(["condition", "caught by the scrubber"])["exposure (bits)"].mean()
glue("scrub_control_bits", float(means["never planted"].mean()))
glue("scrub_caught_before_bits", float(means["planted", True]))
glue("scrub_caught_after_bits", float(means["planted, scrubbed", True]))
glue("scrub_missed_after_bits", float(means["planted, scrubbed", False]))

# %% [markdown]
# ### Unlearning
#
# Now the person asks for their data to be erased. The exact answer is to
# train again without their sentences ([Bourtoule et al., 2021](../book/references.md)
# make that cheaper by training separate models on shards of the data, so a
# deletion retrains only one shard). Here the retained text is, sentence for
# sentence, the control's training text, so the control *is* the retrained
# model: `exact_unlearning` checks that before returning it. The approximate
# answer changes the trained model instead: **gradient ascent** takes a few
# Adam steps (learning rate $10^{-3}$) that *raise* the loss of the person's
# five sentences, from the model trained on the unscrubbed text. It costs
# seconds rather than a training run; what it leaves behind and what it
# breaks have to be measured. Both are measured here by the four secrets'
# mean and highest exposure, and by the perplexity on held-out sentences that
# no model of the experiment trained on.

# %%
unlearning = pd.DataFrame(unlearning_comparison(seeds, steps=(10, 20, 40)))
columns = ["mean exposure (bits)", "highest exposure (bits)", "held-out perplexity"]
unlearn_table = unlearning.groupby("method", sort=False)[columns].agg(["mean", "min", "max"])
unlearn_table.round(2)

# %% [markdown]
# Retraining reaches the floor by construction, at the perplexity of a model
# that never saw the person; the model trained with them is hardly better on
# held-out text, since five sentences among 1,600 teach it little about the
# language. Gradient ascent trades one for the other. Ten steps lower the
# mean exposure but leave the most exposed secret where it was; more steps
# bring the exposures down, but the held-out perplexity rises with them, and
# by forty steps, with the mean exposure close to the floor and the most
# exposed secret still well above it, the model has lost much of what it
# knew of the language: the ascent does not stop at the five sentences, and
# what it removes with them is shared with the rest of the language. There
# is also no certificate: how far a number of steps goes
# differs from secret to secret and seed to seed (the ranges), so a deployed
# model would need this audit after every deletion.

# %%
by_method = unlearning.groupby("method", sort=False)[columns].mean()
glue("unlearn_before_bits", float(by_method.loc["before", "mean exposure (bits)"]))
glue("unlearn_retrain_ppl", float(by_method.loc["retrained without", "held-out perplexity"]))
for steps in (10, 20, 40):
    row = by_method.loc[f"gradient ascent, {steps} steps"].astype(float)
    glue(f"unlearn_ga{steps}_bits", float(row["mean exposure (bits)"]))
    glue(f"unlearn_ga{steps}_highest_bits", float(row["highest exposure (bits)"]))
    glue(f"unlearn_ga{steps}_ppl", float(row["held-out perplexity"]))
print(f"notebook ran in {time.perf_counter() - notebook_start:.0f} s")

# %% [markdown]
# ## What to take away
#
# - Exposure measures memorisation on an absolute scale; with an enumerable
#   secret it is exact. Repetition is what drives it here.
# - Deduplicating the text removes the repeats, and the canary's exposure
#   with them; it cannot help a secret that occurs once.
# - A loss threshold tells members from non-members of an overfit model on
#   average, but hardly at a low false-positive rate; calibrating each
#   sentence's score by its true difficulty finds many members there. Report
#   the true-positive rate at 0.1 % false positives, beside the AUC.
# - DP-SGD bounds what any attack can learn about one sentence, at a cost in
#   perplexity that is steep on a data set this small. Audit the bound with
#   an attack that could break it, and compare a private model with a
#   non-private one as poor as it, or underfitting passes for privacy.
# - Both core computations fit in a dozen lines: a rank among all candidates,
#   and a clip, a sum and a draw of Gaussian noise. What makes them hard in
#   practice is scale (scoring every candidate, a gradient per example) and
#   accounting (adding up the privacy every step spends).
# - A regular-expression scrubber removes the format it was written for, and
#   the secret in any other format stays as exposed as before: measure what
#   is left on the trained model, in every format.
# - Retraining without a person's data forgets them exactly; gradient ascent
#   is cheap, but it reaches the floor only by damaging the model, and it
#   comes with no certificate, so audit it after every deletion.
