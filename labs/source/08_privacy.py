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
# # Lab 08: exposure, membership inference and DP-SGD
#
# Chapter 8 measured what a language model gives away about
# its training text. In this lab you implement the three measurements and the
# defence at its core: the exposure of a planted secret, ranked among every
# candidate; the loss-threshold membership attack and its AUC; and the
# per-example clipping and noise of DP-SGD.
#
# Each exercise is a function to complete, with its check at the end of the
# same cell: run the cell, and the check tries your function on fresh
# inputs and tells you what is wrong, never the answer.

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
seed: int = 0  # seed of the checks' random inputs and of the attack's split (an integer, at least 0)
max_fpr: float = 0.01  # the attack's false-positive budget (number, 0.001 to 0.5)
noise_multiplier: float = 1.0  # sigma of the DP-SGD step you run at the end (number, 0 to 10)

# %% tags=["hide-cell"]
from utils.notebook import Integer, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    max_fpr=Real(max_fpr, min=0.001, max=0.5),
    noise_multiplier=Real(noise_multiplier, min=0.0, max=10.0),
)

# %%
import math

import numpy as np
import torch

from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.privacy import (
    check_attack_auc,
    check_clip_and_noise,
    check_exposure,
    check_threshold_attack,
)
from utils.privacy import (
    CANARY,
    canary_log2_probs,
    encode_with_targets,
    exposure_run,
    overfit_run,
    per_example_grads,
    sentence_losses,
    train_run,
)

torch.manual_seed(params.seed)
# The notebook's models, from the cache (trained here, in seconds, if missing).
planted = train_run(exposure_run(64))
control = train_run(exposure_run(0))
overfit = train_run(overfit_run())
print("the canary:", "the code is", " ".join(CANARY), ".")

# %% [markdown]
# ## Exercise 1: exposure by enumeration
#
# `log_probs[i]` is a model's log-probability of candidate $i$ (here: the
# code $i$ after "the code is"). Rank the candidates from the most likely
# (rank 1) down, and return the exposure of candidate `index` in bits:
# $\log_2 N - \log_2 \text{rank}$, where $N$ is the number of candidates.
# A candidate scored exactly like `index` is as likely to rank above it as
# below: count each such other candidate as half a rank, so rank = 1 + (the
# number scored higher) + (the number of others scored equally) / 2.


# %%
def exposure_of(log_probs, index: int) -> float:
    """Exposure in bits of candidate `index` among all candidates."""
    # BEGIN SOLUTION exposure
    scores = torch.as_tensor(log_probs, dtype=torch.float64)
    ties = int((scores == scores[index]).sum()) - 1  # other candidates scored the same
    rank = 1 + int((scores > scores[index]).sum()) + ties / 2
    return math.log2(len(scores)) - math.log2(rank)
    # END SOLUTION


check_exposure(exposure_of, seed=params.seed)

# %% [markdown]
# Now on the models: the canary planted 64 times, and the same code in a model
# that never saw it.

# %%
for name, run in (("planted 64 times", planted), ("never planted", control)):
    scores = canary_log2_probs(run.model, run.vocab)  # (100000,) log2 P(code)
    print(f"{name:16s}: exposure {exposure_of(scores, int(CANARY)):5.2f} bits "
          f"(maximum {math.log2(len(scores)):.2f})")

# %% [markdown]
# ## Exercise 2: the attack's AUC
#
# The attack calls a sentence a member when its loss is low. Its AUC is the
# probability that a random member has a lower loss than a random
# non-member, counting a tie as one half. Return it for the two loss arrays.


# %%
def attack_auc(member_losses, nonmember_losses) -> float:
    """P(member loss < non-member loss) + P(tie) / 2."""
    # BEGIN SOLUTION attack_auc
    m = torch.as_tensor(member_losses, dtype=torch.float64)[:, None]
    n = torch.as_tensor(nonmember_losses, dtype=torch.float64)[None, :]
    return float((m < n).double().mean() + 0.5 * (m == n).double().mean())
    # END SOLUTION


check_attack_auc(attack_auc, seed=params.seed)

# %% [markdown]
# ## Exercise 3: a threshold for a false-positive budget
#
# Choose the loss threshold $\tau$ on **calibration** non-members: the largest
# $\tau$ that calls at most a share `max_fpr` of them members ("member" means
# loss $\le \tau$). Then apply it to fresh members and non-members and return
# `(threshold, tpr, fpr)`, the rates measured on the fresh ones. Choosing
# $\tau$ on the sentences you report on would flatter the attack.


# %%
def threshold_attack(calibration_losses, member_losses, nonmember_losses, max_fpr: float):
    """(threshold, TPR, FPR): threshold from calibration non-members, rates on fresh data."""
    # BEGIN SOLUTION threshold_attack
    ordered = torch.sort(torch.as_tensor(calibration_losses, dtype=torch.float64)).values
    allowed = int(math.floor(max_fpr * len(ordered)))  # false positives we may accept
    threshold = float(ordered[allowed - 1]) if allowed > 0 else float(ordered[0]) - 1.0
    members = torch.as_tensor(member_losses, dtype=torch.float64)
    nonmembers = torch.as_tensor(nonmember_losses, dtype=torch.float64)
    return (threshold, float((members <= threshold).double().mean()),
            float((nonmembers <= threshold).double().mean()))
    # END SOLUTION


check_threshold_attack(threshold_attack, seed=params.seed)

# %% [markdown]
# The attack on the overfit model of the notebook: its training sentences
# against held-out ones, each split in half at random.

# %%
canary = overfit.train_text[overfit.corpus.canary_positions[0]]
members = sorted(list(s) for s in {tuple(s) for s in overfit.train_text} if list(s) != canary)
m_loss = sentence_losses(overfit.model, members, overfit.vocab)
n_loss = sentence_losses(overfit.model, overfit.corpus.test, overfit.vocab)
rng = np.random.default_rng(params.seed)
m_loss, n_loss = rng.permutation(m_loss), rng.permutation(n_loss)
half_m, half_n = len(m_loss) // 2, len(n_loss) // 2
threshold, tpr, fpr = threshold_attack(n_loss[:half_n], m_loss[half_m:], n_loss[half_n:],
                                       params.max_fpr)
print(f"AUC {attack_auc(m_loss[half_m:], n_loss[half_n:]):.3f}; at threshold {threshold:.2f} "
      f"nats: TPR {tpr:.3f}, FPR {fpr:.3f} (budget {params.max_fpr})")

# %% [markdown]
# ## Exercise 4: clip each example, add noise
#
# `grads` holds one flattened gradient per example, `(B, d)`. Clip each row to
# norm at most `max_grad_norm` $C$ (scale it by $\min(1, C / \lVert g_i\rVert)$),
# sum the rows, add Gaussian noise with standard deviation
# `noise_multiplier * max_grad_norm` to every coordinate (draw it with
# `torch.normal(..., generator=generator)`), and divide by the **expected**
# batch size $L$. Return the `(d,)` private gradient.


# %%
def clip_and_noise(grads: torch.Tensor, max_grad_norm: float, noise_multiplier: float,
                   expected_batch_size: float, generator: torch.Generator) -> torch.Tensor:
    """The DP-SGD gradient (d,) from per-example gradients (B, d)."""
    # BEGIN SOLUTION clip_and_noise
    norms = grads.norm(dim=1, keepdim=True)  # (B, 1)
    clipped = grads * (max_grad_norm / norms).clamp(max=1.0)  # (B, d)
    summed = clipped.sum(dim=0)  # (d,)
    noise = torch.normal(0.0, noise_multiplier * max_grad_norm, summed.shape,
                         generator=generator, dtype=summed.dtype)
    return (summed + noise) / expected_batch_size
    # END SOLUTION


check_clip_and_noise(clip_and_noise, seed=params.seed)

# %% [markdown]
# One private gradient of the planted model on 32 training sentences: the
# noise dwarfs the signal of any single sentence, which is the point.

# %%
inputs, targets = encode_with_targets(planted.train_text[:32], planted.vocab)
grads = per_example_grads(planted.model, inputs, targets)  # {name: (32, *shape)}
flat = torch.cat([g.reshape(32, -1) for g in grads.values()], dim=1)  # (32, d)
private = clip_and_noise(flat, 1.0, params.noise_multiplier, 32.0,
                         torch.Generator().manual_seed(params.seed))
clean = clip_and_noise(flat, 1.0, 0.0, 32.0, torch.Generator())
print(f"{flat.shape[1]:,} parameters; norm of the clipped mean {float(clean.norm()):.3f}, "
      f"of the private gradient {float(private.norm()):.3f}")
