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
# set; and DP-SGD, which trains with a provable limit on both.

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
# Every model here is small and trained in seconds, then kept in the model
# cache; from an empty cache the defaults need about a minute of one CPU
# core. A new `seed` draws new corpora and trains every model again.

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

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch

from utils.notebook import use_course_style
from utils.privacy import (
    CANARY,
    canary_log2_probs,
    exposure,
    exposure_run,
    extrapolated_exposure,
    perplexity,
    train_run,
)

use_course_style()
torch.manual_seed(params.seed)
notebook_start = time.perf_counter()
max_bits = math.log2(10**5)
insertions = [0] + [4**i for i in range(int(round(math.log(params.largest_insertions, 4))) + 1)]
runs = {}
for k in insertions:
    start = time.perf_counter()
    runs[k] = train_run(exposure_run(k, seed=params.seed, epochs=params.exposure_epochs))
    how = "loaded" if runs[k].from_cache else "trained"
    print(f"k = {k:3d}: {how} in {time.perf_counter() - start:4.1f} s")
scores = {k: canary_log2_probs(run.model, run.vocab) for k, run in runs.items()}
exposures = {k: exposure(s, int(CANARY)) for k, s in scores.items()}
for k in insertions:
    ranks_above = int(np.sum(scores[k] > scores[k][int(CANARY)]))
    print(f"canary planted {k:3d} times: exposure {exposures[k]:5.2f} bits "
          f"(rank {ranks_above + 1:,} of 100,000); extrapolated "
          f"{extrapolated_exposure(scores[k], int(CANARY)):6.2f} bits")

# %% [markdown]
# Exact exposure stops at 16.6 bits: once two canaries are both ranked first,
# it cannot say which is more exposed. Carlini et al. continue the scale past
# that cap by fitting a skew-normal distribution to the scores of all the other
# candidates and asking how far in its tail the canary lies (the "extrapolated"
# column). Where the rank is informative the two agree, which is a check on the
# fit; past the cap only the extrapolation separates the canaries.
#
# The control ($k = 0$) was never in the training text, so its rank is just
# where it happens to fall among codes the model knows nothing about: a
# uniform rank, whose exposure is at least $x$ bits with probability $2^{-x}$
# and averages $1/\ln 2 \approx 1.44$ bits. One control is one draw from that
# distribution. The corpus gives a steadier view for free: every ordinary code
# sentence in the training text is a code seen exactly once. Their average
# exposure, against that of codes the model never saw, shows whether a single
# sighting leaves a trace.

# %%
control = runs[0]
seen = {int("".join(s[3:8])) for s in control.train_sentences if s[:3] == ["the", "code", "is"]}
rng = np.random.default_rng([params.seed, 1])
unseen = [c for c in rng.choice(10**5, 3000, replace=False) if c not in seen][:2000]
seen_mean = float(np.mean([exposure(scores[0], c) for c in seen]))
unseen_mean = float(np.mean([exposure(scores[0], c) for c in unseen]))
print(f"control model: {len(seen)} codes seen once, mean exposure {seen_mean:.2f} bits; "
      f"{len(unseen)} unseen codes, mean {unseen_mean:.2f} bits (uniform rank: "
      f"{1 / math.log(2):.2f})")
print(f"P(a never-seen code reaches 4 bits) = 2^-4 = {2**-4:.4f}")

# %% [markdown]
# Exposure against the number of insertions, and during training. Carlini et
# al. found that a canary is memorised early in training, while the
# validation loss is still falling: memorisation is not a late symptom of
# overfitting.

# %% mystnb={"figure": {"caption": "Left: the canary's exact exposure after training against how many times it was planted (0 is the never-inserted control); the dashed line is the maximum, log2 of 100,000. Right: the exposure after every epoch of training, one line per number of insertions.", "name": "fig-privacy-exposure"}}
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
xs = np.arange(len(insertions))
left.plot(xs, [exposures[k] for k in insertions], "o-")
left.axhline(max_bits, ls="--", color="gray", label="maximum")
left.axhline(1 / math.log(2), ls=":", color="gray", label="uniform rank, on average")
left.set(xticks=xs, xticklabels=[str(k) for k in insertions], xlabel="insertions of the canary",
         ylabel="exposure (bits)", ylim=(0, 17.5))
left.legend(loc="upper left")
for k in insertions:
    curve = runs[k].record["exposure_by_epoch"]
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

# %%
k_max = insertions[-1]
dedup = train_run(exposure_run(k_max, seed=params.seed, epochs=params.exposure_epochs,
                               dedupe=True))
dup = runs[k_max]
dedup_exposure = exposure(canary_log2_probs(dedup.model, dedup.vocab), int(CANARY))
for name, run, exp_bits in (("with duplicates", dup, exposures[k_max]),
                            ("deduplicated", dedup, dedup_exposure)):
    copies = sum(s == run.train_sentences[dup.corpus.canary_positions[0]]
                 for s in run.train_sentences)
    print(f"{name:16s}: {len(run.train_sentences):5d} training sentences, canary {copies:2d} "
          f"times, exposure {exp_bits:5.2f} bits, held-out perplexity "
          f"{perplexity(run.model, run.corpus.test, run.vocab):.3f}")

# %% [markdown]
# ## 3. Membership inference
#
# A model's loss is lower on sentences it trained on. The simplest attack
# ([Yeom et al., 2018](../book/references.md)) says "member" when a sentence's loss is below a
# threshold. We attack two models trained on the same 1000 sentences: one made
# to overfit (128 units, many epochs) and one trained briefly (64 units, the
# recipe the DP-SGD runs below use, without the privacy). Non-members are 800
# held-out sentences of the same language. The threshold is picked on half of
# the members and non-members (for at most 1 % false positives) and applied to
# the other half, so the attack is not scored on the data it was tuned on.
# [Carlini et al. (2022)](../book/references.md) advise reporting the true-positive rate at such a low
# false-positive rate, where an attack is actually useful, beside the AUC.

# %%
from utils.privacy import attack_report, dp_run, overfit_run, roc_curve, sentence_losses


def member_split(run):
    """Distinct training sentences other than the canary, and the held-out test sentences."""
    canary = run.train_sentences[run.corpus.canary_positions[0]]
    members = [list(s) for s in {tuple(s) for s in run.train_sentences} if list(s) != canary]
    members.sort()
    return members, run.corpus.test


def attack(run):
    members, nonmembers = member_split(run)
    member_losses = sentence_losses(run.model, members, run.vocab)
    nonmember_losses = sentence_losses(run.model, nonmembers, run.vocab)
    report = attack_report(member_losses, nonmember_losses, seed=params.seed)
    return report, member_losses, nonmember_losses


overfit = train_run(overfit_run(seed=params.seed, epochs=params.overfit_epochs))
baseline = train_run(dp_run(math.inf, seed=params.seed, epochs=params.dp_epochs)[0])
attacks = {"overfit": attack(overfit), "brief": attack(baseline)}
for name, run in (("overfit", overfit), ("brief", baseline)):
    report = attacks[name][0]
    print(f"{name:8s} AUC {report['auc']:.3f}, advantage {report['advantage']:.3f}, "
          f"TPR at 1% FPR {report['tpr_at_fpr']:.3f}; threshold from the other half: "
          f"TPR {report['held_out_tpr']:.3f} at FPR {report['held_out_fpr']:.3f}; "
          f"perplexity {perplexity(run.model, run.corpus.valid, run.vocab):.2f}")

# %% [markdown]
# Why is the true-positive rate at 1 % false positives so low even for the
# overfit model? Many sentences of this language are short and common: the
# same "the dog sat on the mat ." is both a member and a non-member, with the
# same loss. Only the rarer, longer sentences can be told apart.

# %% mystnb={"figure": {"caption": "ROC curves of the loss-threshold membership attack on the overfit model and the briefly trained one, on the evaluation halves; the dashed diagonal is guessing. Left on linear axes, right on log axes, where the low false-positive region that matters for an attacker is visible.", "name": "fig-privacy-roc"}}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for name, (report, m_loss, n_loss) in attacks.items():
    fpr, tpr, _ = roc_curve(-m_loss, -n_loss)
    for ax in axes:
        ax.plot(fpr, tpr, label=f"{name} (AUC {report['auc']:.2f})")
for ax in axes:
    ax.plot([1e-3, 1], [1e-3, 1], "--", color="gray")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate")
axes[0].legend(loc="lower right")
axes[1].set(xscale="log", yscale="log", xlim=(1e-3, 1), ylim=(1e-3, 1))
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
# Here is one step on a batch of eight sentences, checked against Opacus, the
# PyTorch library for DP training, on the same weights and batch.

# %%
import warnings

from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer

from utils.privacy import (
    PAD,
    clip_and_sum,
    encode_sentences,
    gaussian_noise,
    opacus_twin,
    per_example_grads,
)

model, vocab = baseline.model, baseline.vocab
inputs, targets = encode_sentences(baseline.train_sentences[:8], vocab)  # (8, width) each
grads = per_example_grads(model, inputs, targets)  # {name: (8, *param.shape)}
summed, norms = clip_and_sum(grads, max_grad_norm=1.0)
print("per-sentence gradient norms:", np.round(norms.numpy(), 2))

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
print(f"largest difference from Opacus's clipped sum over all parameters: {worst:.1e}")
noise = gaussian_noise(summed, std=2.0 * 1.0, generator=torch.Generator().manual_seed(0))
flat_noise = torch.cat([n.flatten() for n in noise.values()])
print(f"noise for sigma = 2, C = 1: standard deviation {float(flat_noise.std()):.3f} "
      f"over {flat_noise.numel():,} coordinates (sigma * C = 2)")

# %% [markdown]
# ## 5. Counting the privacy spent
#
# Each step is a Gaussian mechanism, which in Rényi differential privacy costs
# $\alpha / (2\sigma^2)$ at every order $\alpha$ ([Mironov, 2017](../book/references.md)); the costs add
# over $T$ steps, and converting to $(\varepsilon, \delta)$ takes a minimum
# over $\alpha$. When every example is in every step that is all closed form.
# Sampling each example with probability $q$ spends less, but needs a
# numerical accountant; we use Opacus's. First, our closed form against
# Opacus's accountant at $q = 1$:

# %%
from opacus.accountants.analysis.rdp import compute_rdp, get_privacy_spent

from utils.privacy import DEFAULT_ORDERS, dpsgd_epsilon, gaussian_epsilon

for sigma, steps in ((5.0, 10), (10.0, 100), (20.0, 100)):
    ours = gaussian_epsilon(sigma, steps, params.delta)
    rdp = compute_rdp(q=1.0, noise_multiplier=sigma, steps=steps, orders=list(DEFAULT_ORDERS))
    theirs, _ = get_privacy_spent(orders=list(DEFAULT_ORDERS), rdp=rdp, delta=params.delta)
    print(f"sigma {sigma:4.1f}, {steps:3d} full-batch steps: epsilon {ours:7.3f} (closed form), "
          f"{theirs:7.3f} (Opacus)")

# %% [markdown]
# Now the DP-SGD runs: the brief recipe of section 3 on the same 1000 sentences
# with the canary planted 64 times, with noise calibrated to spend
# $\varepsilon = 8, 2, 1$ at the chosen $\delta$ over all its steps.

# %%
epsilons = [math.inf, 8.0, 2.0, 1.0]
dp = {}
for eps in epsilons:
    run_config, sigma = dp_run(eps, seed=params.seed, epochs=params.dp_epochs, delta=params.delta)
    start = time.perf_counter()
    run = train_run(run_config)
    report, m_loss, n_loss = attack(run)
    spent = (math.inf if sigma is None else
             dpsgd_epsilon(sigma, run.record["sample_rate"], run.record["steps"], params.delta))
    dp[eps] = {"sigma": sigma, "spent": spent, "run": run, "attack": report,
               "losses": (m_loss, n_loss),
               "exposure": exposure(canary_log2_probs(run.model, run.vocab), int(CANARY)),
               "perplexity": perplexity(run.model, run.corpus.valid, run.vocab)}
    print(f"epsilon {eps:>4}: sigma {sigma if sigma is not None else 0:5.2f}, "
          f"accountant says {spent:5.2f}; exposure {dp[eps]['exposure']:5.2f} bits, "
          f"attack AUC {report['auc']:.3f}, TPR at 1% FPR {report['tpr_at_fpr']:.3f}, "
          f"perplexity {dp[eps]['perplexity']:6.2f} ({time.perf_counter() - start:.1f} s)")

# %% mystnb={"figure": {"caption": "The privacy-utility trade-off of DP-SGD on 1000 sentences: for each privacy budget epsilon (infinity is the same recipe without DP), the canary's exposure (left), the membership attack's AUC (middle) and the validation perplexity (right, log scale).", "name": "fig-privacy-utility"}}
labels = ["no DP" if math.isinf(e) else f"ε = {e:g}" for e in epsilons]
fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
for ax, key, ylabel in ((axes[0], "exposure", "exposure of the canary (bits)"),
                        (axes[1], "auc", "membership attack AUC"),
                        (axes[2], "perplexity", "validation perplexity")):
    values = [dp[e]["attack"]["auc"] if key == "auc" else dp[e][key] for e in epsilons]
    ax.bar(labels, values, color="C0")
    ax.set(ylabel=ylabel)
axes[0].axhline(max_bits, ls="--", color="gray")
axes[1].axhline(0.5, ls="--", color="gray")
axes[1].set_ylim(0.4, max(0.8, dp[math.inf]["attack"]["auc"] + 0.05))
axes[2].set_yscale("log")
plt.show()

# %% [markdown]
# ## 6. What the guarantee promises, checked
#
# $(\varepsilon, \delta)$-DP bounds every membership test at once: whatever the
# threshold, $\text{TPR} \le e^{\varepsilon}\,\text{FPR} + \delta$ (and the same
# for the mirror-image test). The popular bound on the advantage,
# $\text{TPR} - \text{FPR} \le e^{\varepsilon} - 1$, says nothing once
# $\varepsilon \ge \ln 2$. We test the hypothesis-testing bound at the
# smallest $\varepsilon$ on every point of the attack's ROC curve, with 95 %
# Clopper-Pearson intervals, since the rates are estimated from a few hundred
# sentences. (The bound is on a single sentence's membership; duplicated
# sentences, like the 64 canaries, are a group and get only
# $64\varepsilon$.)

# %%
from utils.privacy import dp_bound_violations

eps_small = min(epsilons)
m_loss, n_loss = dp[eps_small]["losses"]
violations = dp_bound_violations(-m_loss, -n_loss, eps_small, params.delta)
fpr, tpr, _ = roc_curve(-m_loss, -n_loss)
print(f"epsilon = {eps_small:g}: {len(fpr)} ROC points, {violations} beyond the bound "
      f"TPR <= e^eps FPR + delta with 95% intervals")
print(f"largest TPR - e^eps FPR - delta without intervals: "
      f"{float(np.max(tpr - math.exp(eps_small) * fpr - params.delta)):.3f}")

# %% [markdown]
# ## 7. How fast is our DP step?
#
# The per-example gradients are DP-SGD's extra cost. Ours come from
# `torch.func` (one example's gradient, vectorised over the batch); Opacus
# records each layer's activations and backpropagated gradients with hooks and
# forms the per-example products itself. Both run one full private step on the
# same model and batch here, alternating.

# %%
from utils.privacy import dp_step_speed

inputs, targets = encode_sentences(baseline.train_sentences[:128], vocab)  # (128, width)
speed = dp_step_speed(model, inputs, targets, repeats=3)
print(f"one DP-SGD step on {speed['batch']} sentences ({speed['tokens']} tokens): "
      f"ours {speed['ours_tokens_per_s']:,.0f} tokens/s, Opacus "
      f"{speed['opacus_tokens_per_s']:,.0f} tokens/s, ratio {speed['speedup']:.2f}")
print(f"notebook ran in {time.perf_counter() - notebook_start:.0f} s")

# %% [markdown]
# ## What to take away
#
# - Exposure measures memorisation on an absolute scale; with an enumerable
#   secret it is exact. Repetition is what drives it here.
# - Deduplicating the text removes the repeats, and the canary's exposure
#   with them; it cannot help a secret that occurs once.
# - A loss threshold already tells members from non-members of an overfit
#   model; report the true-positive rate at a low false-positive rate, where an
#   attack is useful, beside the AUC.
# - DP-SGD bounds what any attack can learn about one sentence, at a cost in
#   perplexity that is steep on a data set this small.
