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
# # A scaling law in miniature, and the energy bill
#
# [Chapter 10](../book/10_outlook.md) says that the loss of a language model falls
# predictably as the model grows and as it reads more text, towards a floor
# that no model can pass. This notebook trains the course's LSTM at five sizes
# on four amounts of text, fits the law of [Hoffmann et al. (2022)](../book/references.md) to
# the twenty losses, and checks the fitted floor against the one number no
# real corpus can give: the exact entropy rate of the synthetic language. Then
# it drops the floor from the law and watches the fit go wrong, splits a
# compute budget between size and data, and adds up what the course's training
# costs in energy and CO2.
#
# The one computation written out in full is the law itself and the split of
# a compute budget it implies, a few lines checked against `utils.outlook`.
# Everything else is measured: twenty small training runs, kept in the model
# cache, so the notebook trains them once and reads them afterwards.

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
# The small grid (20 runs) is trained once and cached afterwards; the cell
# that runs it prints how long the training took, measured on this machine.
# The full grid (45 runs, nine sizes, up to 1.6 million tokens each) contains
# it and takes several minutes more. The last three parameters are the energy
# bill's assumptions: change them to your own machine and grid.

# %% tags=["parameters"]
seed: int = 0  # seed of every training run (an integer, at least 0)
grid: str = "small"  # which grid of runs to train: small or full
budget_flops: float = 1e12  # a training budget in FLOPs to split between size and data (1e9 to 1e26)
pue: float = 1.58  # power usage effectiveness of the machine room (1 for a laptop, 1 to 3)
grid_kg_per_kwh: float = 0.433  # carbon intensity of the electricity in kg CO2e per kWh (0 to 1.5)
watts_per_core: float = 10.0  # assumed CPU power per busy core in watts when no counter is readable (1 to 100)

# %% tags=["hide-cell"]
from utils.notebook import Integer, OneOf, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    grid=OneOf(grid, ["small", "full"]),
    budget_flops=Real(budget_flops, min=1e9, max=1e26),
    pue=Real(pue, min=1.0, max=3.0),
    grid_kg_per_kwh=Real(grid_kg_per_kwh, min=0.0, max=1.5),
    watts_per_core=Real(watts_per_core, min=1.0, max=100.0),
)

# %% [markdown]
# ## The law and the floor
#
# Hoffmann et al. model the loss reached by a model of $N$ parameters after
# $D$ training tokens as
#
# $$
# L(N, D) = E + \frac{A}{N^{\alpha}} + \frac{B}{D^{\beta}} .
# $$
#
# $E$ is the [irreducible loss](../book/glossary.md): a perfect model's cross-entropy, the
# entropy rate of the text's source ([Chapter 3](../book/03_maximum_likelihood.md)).
# The other two terms are what a finite model and finite data add. For real
# text nobody knows $E$; for the course's language it is a sum over the
# grammar. `entropy_floor` computes it, and also the true model's loss on the
# very test sentences the runs are scored on.

# %%
import dataclasses
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from utils.notebook import use_course_style
from utils.notebook.text import counted
from utils.outlook import FULL_GRID, ScalingGridConfig, entropy_floor, grid_data

use_course_style()
base = FULL_GRID if params.grid == "full" else ScalingGridConfig()
config = dataclasses.replace(base, seed=params.seed)
corpus, vocab, train_stream, test_stream = grid_data(config)
entropy, on_test = entropy_floor(config, corpus)
print(f"training tokens available {train_stream.numel():,}; test tokens {test_stream.numel():,}")
print(f"entropy rate of the language: {entropy:.4f} nats per token (<eos> counted)")
print(f"the true model's loss on these test sentences: {on_test:.4f} nats per token")

# %% [markdown]
# ## Train the grid
#
# Each run trains an LSTM of one hidden size on the first $D$ tokens of the
# training text, reading each token once, and scores the whole test text.
# The step size is cut to a fifth and then a twenty-fifth for the last 40 % of
# each run: a constant step leaves a noise floor in the loss that a fit would
# take for the language's. $N$ counts every parameter, the embedding included.

# %%
from utils.outlook import run_scaling_grid

start = time.perf_counter()
runs = run_scaling_grid(config, progress=True)  # a DataFrame, one row per run
cached = int(runs["from_cache"].sum())
print(f"{len(runs)} runs ({cached} from the cache) in {time.perf_counter() - start:.1f} s; "
      f"training them took {runs['train_time_s'].sum():.0f} s")
grid_table = pd.DataFrame({"hidden": runs["hidden_size"], "N": runs["parameters"],
                           "D": runs["tokens"], "loss": runs["loss"],
                           "above floor": runs["loss"] - entropy,
                           "train (s)": runs["train_time_s"]})
grid_table.style.format({"N": "{:,}", "D": "{:,}", "loss": "{:.4f}", "above floor": "{:.4f}",
                         "train (s)": "{:.1f}"}).hide(axis="index")

# %%
n = runs["parameters"].to_numpy(dtype=float)
d = runs["tokens"].to_numpy(dtype=float)
loss = runs["loss"].to_numpy()

# %% [markdown]
# Read the table down each size: more tokens, lower loss, with diminishing
# returns; and across sizes at a fixed number of tokens: the smallest model
# stays furthest above the floor, because it cannot hold what the text has to
# teach.
# The largest models are not always best at the smallest budgets: with few
# tokens, a big model has too many parameters to set from the evidence. That
# interplay of $N$ and $D$ is what the law's two terms describe.
#
# ## Fit the law, with and without the floor
#
# `fit_scaling_law` fits in log space with a Huber loss, as Hoffmann et al.
# did. The second fit leaves $E$ out: it assumes that a large enough model on
# enough text reaches zero loss. `jackknife_floor` refits with each run left
# out in turn; the spread of those floors says how firmly this grid
# pins $E$ down.

# %%
from utils.outlook import fit_scaling_law, jackknife_floor

fit = fit_scaling_law(n, d, loss)
no_floor = fit_scaling_law(n, d, loss, with_floor=False)
floors, floor_se = jackknife_floor(n, d, loss)
pd.DataFrame({name: {"E": f.e, "A": f.a, "alpha": f.alpha, "B": f.b, "beta": f.beta,
                     "rms log error": f.rmse_log}
              for name, f in (("with the floor E", fit), ("without E", no_floor))}).T.style.format(
    {"E": "{:.4f}", "A": "{:.3g}", "alpha": "{:.3f}", "B": "{:.3g}", "beta": "{:.3f}",
     "rms log error": "{:.4f}"})

# %% [markdown]
# How close did the fitted floor come to the true one, and how firmly does the
# grid pin it down? (Nats per token.)

# %%
pd.Series({"true floor (entropy rate)": entropy, "fitted floor E": fit.e,
           "fitted minus true": fit.e - entropy, "jackknife standard error": floor_se,
           "jackknife lowest": floors.min(), "jackknife highest": floors.max(),
           "lowest loss of any run": loss.min(),
           "lowest loss minus floor": loss.min() - entropy}).to_frame("nats").round(4)

# %% [markdown]
# The jackknife refits the law twenty times, each time without one of the
# runs. If the fitted floor hardly moves, no single run decides it; if it
# jumps when one run is left out, the floor rests on that run. Its standard
# error is the honest width of the estimate, and the range of the refits
# shows the extremes. Compare both with the distance between the fitted and
# the true floor in the same table.
#
# Read the numbers above before the plots. The fit with $E$ puts the floor
# near the truth, but only as firmly as the jackknife error says: the runs
# stop a few hundredths of a nat above the floor, and several combinations of
# a floor and exponents bend through nearly the same points. The full grid
# (parameter `grid`) reaches closer to the floor. The fit without $E$ has no
# floor at all: to flatten out where the data flatten, it makes one exponent
# small, and far beyond the grid it predicts losses below the entropy rate,
# which no model can reach.

# %% [markdown]
# The exponents differ from Hoffmann et al.'s too. Theirs are small because
# real text always holds more to learn; a small finite grammar is learned
# like a classical statistical model, whose excess loss falls roughly as
# $1/D$ once the model is large enough to represent it.

# %%
pd.DataFrame({"alpha": [fit.alpha, 0.34], "beta": [fit.beta, 0.28]},
             index=["this grid", "Hoffmann et al."]).round(2)

# %% mystnb={"figure": {"caption": "Test loss against training tokens for each model size (points), the law fitted with a floor (solid) and without one (dotted), and the language's entropy rate (dashed).", "name": "fig-scaling-fit"}}
fig, ax = plt.subplots(figsize=(7.5, 4.2))
d_line = np.geomspace(d.min() / 2, d.max() * 30, 200)
for size in sorted(set(n)):
    mask = n == size
    (points,) = ax.plot(d[mask], loss[mask], "o", label=f"N = {int(size):,}")
    ax.plot(d_line, fit.predict(size, d_line), "-", color=points.get_color())
    ax.plot(d_line, no_floor.predict(size, d_line), ":", color=points.get_color())
ax.axhline(entropy, color="black", linestyle="--", label=f"entropy rate {entropy:.3f}")
ax.set_xscale("log")
ax.set_xlabel("training tokens D")
ax.set_ylabel("test loss (nats per token)")
ax.set_ylim(entropy - 0.08, min(loss.max() + 0.05, entropy + 0.45))
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
plt.show()

# %% [markdown]
# Far beyond the grid the two laws part ways. With both terms gone (huge $N$
# and $D$), the law with a floor tends to $E$ and the law without one tends to
# zero:

# %%
scales = np.array([1e2, 1e4, 1e6])
big_n, big_d = n.max() * scales, d.max() * scales
pd.DataFrame({"N": big_n, "D": big_d, "with E": fit.predict(big_n, big_d),
              "without E": no_floor.predict(big_n, big_d), "floor": entropy}).style.format(
    {"N": "{:.2e}", "D": "{:.2e}", "with E": "{:.4f}", "without E": "{:.4f}",
     "floor": "{:.4f}"}).hide(axis="index")

# %% [markdown]
# The difference matters for forecasting. A law without a floor promises that
# enough scale drives the loss to zero; a law with one says how much of the
# remaining loss is out of reach for any model, and so how much there is left
# to gain. For real text that floor is unknown and must be fitted, which is
# why its uncertainty, measured above by the jackknife, is the number to
# report beside any extrapolation.
#
# ## Splitting a compute budget
#
# Training costs about $C = 6ND$ floating-point operations ([Chapter 1](../book/01_foundation_models.md)). For a fixed $C$, a bigger model must read
# fewer tokens. Minimising the fitted law along $D = C / 6N$ gives the
# [compute-optimal](../book/glossary.md) split, $N_{opt} \propto C^{\beta/(\alpha+\beta)}$ and
# $D_{opt} \propto C^{\alpha/(\alpha+\beta)}$. Hoffmann et al.'s own fit has
# $\alpha \approx 0.34$ and $\beta \approx 0.28$, nearly even exponents, which
# is why they advise growing the data as fast as the model. The default
# budget here is about that of the grid's largest run.
#
# ### The law and the split, written out
#
# Along the budget line $D = C / 6N$ the loss is
# $E + A N^{-\alpha} + B (6N / C)^{\beta}$. Its derivative in $N$ vanishes
# where the two terms' slopes balance, $\alpha A N^{-\alpha} = \beta B D^{-\beta}$,
# which solves to $N_{opt} = G (C/6)^{\beta/(\alpha+\beta)}$ with
# $G = (\alpha A / \beta B)^{1/(\alpha+\beta)}$. The floor $E$ does not move the
# optimum. Below: the law and the split in a few lines, checked against the
# library's fitted law, and the split checked once more by brute force, as the
# best of 10,001 model sizes on the budget line.

# %%
def law_by_hand(N, D, E, A, alpha, B, beta):
    """Hoffmann et al.'s loss: the floor plus what a finite model and finite data add."""
    return E + A / N**alpha + B / D**beta


def compute_optimal_by_hand(C, A, alpha, B, beta):
    """The N and D on the budget line 6 N D = C where alpha A N^-alpha = beta B D^-beta."""
    G = (alpha * A / (beta * B)) ** (1 / (alpha + beta))
    N = G * (C / 6) ** (beta / (alpha + beta))
    return N, C / (6 * N)


law = dict(E=fit.e, A=fit.a, alpha=fit.alpha, B=fit.b, beta=fit.beta)
C = params.budget_flops
assert np.allclose(law_by_hand(n, d, **law), fit.predict(n, d))
n_opt, d_opt = compute_optimal_by_hand(C, fit.a, fit.alpha, fit.b, fit.beta)
assert np.allclose((n_opt, d_opt), fit.compute_optimal(C))
sizes = np.geomspace(n_opt / 100, n_opt * 100, 10_001)
assert np.isclose(sizes[np.argmin(law_by_hand(sizes, C / (6 * sizes), **law))], n_opt, rtol=1e-3)

# %% [markdown]
# The split this grid's law recommends for the budget `budget_flops`, beside
# the one Hoffmann et al.'s law recommends for the same budget. The two laws
# were fitted to very different text, so their recommendations need not
# agree; what carries over is the shape: both grow the model and the data
# together (compare the last column of the two rows).

# %%
from utils.outlook import compute_optimal

ch_n, ch_d = compute_optimal(C, 406.4, 0.34, 410.7, 0.28)
pd.DataFrame({"N_opt (parameters)": [n_opt, ch_n], "D_opt (tokens)": [d_opt, ch_d],
              "tokens per parameter": [d_opt / n_opt, ch_d / ch_n],
              "N_opt grows as C to the": [fit.beta / (fit.alpha + fit.beta), 0.28 / 0.62]},
             index=["this grid's law", "Hoffmann et al.'s"]).style.format(
    "{:.3g}").format("{:.2f}", subset="N_opt grows as C to the")

# %% [markdown]
# The figure draws the trade-off behind the split. Along one budget, a small
# model reads many tokens but cannot use them; a large one could use them but
# reads few; the loss is lowest in between, at the marker. Ten times the
# budget moves the best size to the right and the whole curve down, towards
# the fitted floor, by less each time.

# %% mystnb={"figure": {"caption": "Predicted loss along a fixed compute budget (6ND = C) as the model size varies, for three budgets; the marker is the compute-optimal size.", "name": "fig-scaling-isoflop"}}
fig, ax = plt.subplots(figsize=(7, 3.6))
for c in params.budget_flops * np.array([0.1, 1.0, 10.0]):
    sizes = np.geomspace(1e2, c / 6 / 1e3, 200)
    (line,) = ax.plot(sizes, fit.predict(sizes, c / (6 * sizes)), label=f"C = {c:.0e}")
    best_n, best_d = fit.compute_optimal(c)
    ax.plot(best_n, fit.predict(best_n, best_d), "o", color=line.get_color())
ax.axhline(fit.e, color="black", linestyle="--", label="fitted floor E")
ax.set_xscale("log")
ax.set_xlabel("parameters N (tokens D = C / 6N)")
ax.set_ylabel("predicted loss (nats per token)")
ax.set_ylim(fit.e - 0.01, fit.e + 0.25)
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## The energy bill
#
# The language models the course trains through its model cache record how
# long their training took (runs that record no time, such as chapter 5's
# small classifiers, are left out of the bill). Energy is time times power times the machine room's
# overhead (its [power usage effectiveness](../book/glossary.md)), and emissions are energy
# times the grid's [carbon intensity](../book/glossary.md):
#
# $$
# \text{kWh} = \text{hours} \times \text{watts} \times \text{PUE} / 1000,
# \qquad \text{kg CO}_2\text{e} = \text{kWh} \times \text{kg CO}_2\text{e per kWh}.
# $$
#
# The watts are the weak link. `measure_power` reads the CPU's RAPL energy
# counter while a workload runs, where the machine exposes one; otherwise it
# falls back to the stated assumption (a share of a processor's rated power
# per busy core, plus memory). Times are wall-clock: on a machine shared with
# other work they over-state a run's own share.

# %%
from utils.lm import evaluate_language_model, pretrained_model
from utils.outlook import (
    PUBLISHED_FOOTPRINTS,
    EnergyEstimate,
    PowerDraw,
    course_energy,
    measure_power,
    pretrained_energy,
    recorded_runs,
)
from utils.outlook.energy import DRAM_WATTS_PER_GB

pre = pretrained_model(progress=False)
# A short workload to measure: the tiny model scoring part of the test text.
probe = measure_power(lambda: evaluate_language_model(pre.model, test_stream[:20_000]))
if probe.source.startswith("assumed"):
    # No readable counter: this notebook's assumption (one core per run, 2 GB of memory).
    probe = PowerDraw(params.watts_per_core + 2 * DRAM_WATTS_PER_GB,
                      f"assumed: 1 core x {params.watts_per_core:g} W + 2 GB x "
                      f"{DRAM_WATTS_PER_GB} W/GB")
print(f"power per run: {probe.watts:.1f} W ({probe.source})")

# %% [markdown]
# Which power figure was used matters more than anything else in the bill: a
# measured RAPL reading covers the processor package (and, on some machines,
# memory), while the assumption counts a share of a rated power. Neither
# counts the rest of the machine, its cooling (that is what the PUE factor
# stands in for) or the energy it took to build it.
#
# The tiny foundation model of [Chapter 4](../book/04_lstm_language_model.md) first, the figure its
# model card reports; then this grid; then every run the cache has recorded
# on this machine (which depends on the notebooks run here so far).

# %%
grid_time = float(runs["train_time_s"].sum())
tiny = pretrained_energy(power=probe, pue=params.pue, grid_kg_per_kwh=params.grid_kg_per_kwh)
this_grid = EnergyEstimate(grid_time, probe, params.pue, params.grid_kg_per_kwh)
recorded = recorded_runs()
everything = course_energy(recorded, probe, pue=params.pue, grid_kg_per_kwh=params.grid_kg_per_kwh)
print(textwrap.fill(f"assumptions: {everything.describe()}", width=88))
pd.DataFrame({name: {"seconds": est.seconds, "Wh": est.kwh * 1e3, "g CO2e": est.kg_co2e * 1e3}
              for name, est in (("tiny foundation model (chapter 4)", tiny),
                                ("this scaling grid", this_grid),
                                (f"all {counted(len(recorded), 'recorded run')}", everything))}
             ).T.style.format({"seconds": "{:.0f}", "Wh": "{:.3f}", "g CO2e": "{:.3f}"})

# %% [markdown]
# Each row multiplies a time by the same power, PUE and carbon intensity, so
# the rows compare like with like: if one of the three assumptions is off by
# a factor, every row is off by the same factor.
#
# Beside published estimates, the course's whole bill is a rounding error.
# The figures below are the papers' own estimates, with their own
# assumptions; the GPT-3 one is Patterson et al.'s.

# %%
course_tonnes = everything.kg_co2e / 1000
pd.DataFrame({"MWh": [f.mwh for f in PUBLISHED_FOOTPRINTS],
              "t CO2e": [f.tonnes_co2e for f in PUBLISHED_FOOTPRINTS],
              "times the course": [f.tonnes_co2e / max(course_tonnes, 1e-12)
                                   for f in PUBLISHED_FOOTPRINTS]},
             index=[f.name for f in PUBLISHED_FOOTPRINTS]).style.format(
    {"MWh": "{:,.0f}", "t CO2e": "{:,.1f}", "times the course": "{:.1e}"}, na_rep="")

# %% [markdown]
# The multiples are large because the course's bill is small, not because the
# published figures are: the point is the order of magnitude, and each
# published row carries its own paper's assumptions about power and grid.
#
# The 6ND rule puts compute on the same footing. The tiny model's record
# holds its tokens; GPT-3's figures are those of [Chapter 1](../book/01_foundation_models.md).

# %%
from utils.data import GPT3_REPORTED_TRAINING_FLOPS, published_model, training_flops

tiny_flops = training_flops(pre.model.num_parameters(), pre.record.tokens)
gpt3 = published_model("GPT-3")
pd.DataFrame({"6ND (FLOPs)": [tiny_flops, training_flops(gpt3.parameters, gpt3.training_tokens)],
              "reported (FLOPs)": [np.nan, GPT3_REPORTED_TRAINING_FLOPS],
              "times the tiny model": [1.0, GPT3_REPORTED_TRAINING_FLOPS / tiny_flops],
              "FLOP/s on this machine": [tiny_flops / tiny.seconds, np.nan]},
             index=["tiny model", "GPT-3"]).style.format("{:.2e}", na_rep="")

# %% [markdown]
# The ratio of compute, many orders of magnitude, is the scale of the
# distance between this course's model and a frontier one; the same rule,
# $6ND$, measures both.
#
# Two lessons carry over to real models. A scaling law is an extrapolation,
# and its floor is the least certain part of it: here we could check it, and
# even a clean synthetic language pins it only to the jackknife's error. And
# the energy bill is a product of four numbers, each of which can be measured
# or must be assumed: say which.
