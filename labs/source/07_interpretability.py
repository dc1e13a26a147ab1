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
# # Lab 07: explain the model, then test the explanation
#
# Chapter 7 introduced attributions, their sanity
# checks, probes with control tasks and unit ablation. In this lab you
# implement each one and try it on the course's models: the chapter 5
# sentiment classifier, where the word that decides the label is known, and
# the pretrained language model, which must carry the subject's number to
# the verb.
#
# Each exercise is a function to complete. Run the check under it: it tries
# your function on fresh inputs and tells you what is wrong, never the answer.

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
seed: int = 0  # seed of the classifier, the test data and the checks' random inputs (an integer, at least 0)
n_test: int = 200  # test reviews your attributions are scored on (integer, 20 to 1000)
ig_steps: int = 100  # points on the integrated-gradients path, both ends included (integer, 2 to 1000)
n_items: int = 400  # agreement sentences for the probe and the ablation (integer, 100 to 2000)

# %% tags=["hide-cell"]
from utils.notebook import Integer, validate

params = validate(
    seed=Integer(seed, min=0),
    n_test=Integer(n_test, min=20, max=1000),
    ig_steps=Integer(ig_steps, min=2, max=1000),
    n_items=Integer(n_items, min=100, max=2000),
)

# %%
from dataclasses import replace

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from utils.adapt_and_evaluate import AdaptConfig
from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.interpretability import (
    check_ablate_units,
    check_gradient_x_input,
    check_integrated_gradients,
    check_occlusion,
    check_probe_with_control,
)
from utils.data import agreement_items, sentiment_task
from utils.interpretability import (
    EmbeddingForward,
    agreement_states,
    chance_level,
    number_labels,
    rank_units,
    sentiment_positions,
    states_at,
    top_token_accuracy,
    train_test_indices,
    trained_classifier,
)
from utils.lm import pretrained_model
from utils.notebook import set_seed

set_seed(params.seed)
pretrained = pretrained_model(progress=False)  # loads the cached model of chapter 4
classifier = trained_classifier(
    pretrained, AdaptConfig(pooling="mean", epochs=10, seed=params.seed), n_train=500).model
_, test = sentiment_task(replace(pretrained.config.corpus, seed=params.seed), n_train=1,
                         n_test=params.n_test)
tokens, lengths, labels = test.tokens, test.lengths, test.labels
forward = EmbeddingForward(classifier, classifier.encoder.embedding, tokens, lengths)
embeddings = forward.embed()  # (n_test, seq_len, emb_size), on the model's device
labels = labels.to(embeddings.device)
print("a test review:", " ".join(test.texts[0]), "-> label", int(test.labels[0]))
print("embeddings:", tuple(embeddings.shape), "  classifier output:",
      tuple(forward(embeddings).shape))

# %% [markdown]
# `forward` is the classifier seen as a function of its token embeddings: it
# maps `(batch, seq_len, emb_size)` to class logits `(batch, n_classes)`.
# Every attribution below explains $F(x)$, the logit of class `target[i]` for
# row `i`; `forward(x).gather(1, target[:, None])` picks it out. The helper
# below gives the gradient of $F$ with respect to the embeddings.


# %%
def gradient(forward_func, x, target):
    """dF/dx, shape of x, where F is the target logit of each row."""
    x = x.detach().requires_grad_(True)
    score = forward_func(x).gather(1, torch.as_tensor(target).reshape(-1, 1)).sum()
    (grad,) = torch.autograd.grad(score, x)
    return grad


# %% [markdown]
# ## Exercise 1: gradient × input
#
# With a baseline $x'$ (an input that carries no information), gradient ×
# input scores feature $d$ of token $t$ by
# $(x_{td} - x'_{td})\,\partial F / \partial x_{td}$ at $x$. Return one score
# per token, shape `(batch, seq_len)`: the sum over the embedding axis.


# %%
def gradient_x_input(forward_func, inputs, target, baselines):
    """Token scores (batch, seq_len) of gradient x input."""
    # BEGIN SOLUTION gradient_x_input
    return ((inputs - baselines) * gradient(forward_func, inputs, target)).sum(dim=-1)
    # END SOLUTION


check_gradient_x_input(gradient_x_input, seed=params.seed)

# %% [markdown]
# ## Exercise 2: integrated gradients
#
# Integrated gradients averages the gradient along the straight path from
# $x'$ to $x$ and multiplies by $(x - x')$. Use `n_steps` points
# $\alpha_k = k / (n - 1)$, $k = 0, \dots, n - 1$ (both ends of the path
# included) and the trapezoid rule: each end point weighs half as much as the
# others, and the weights add up to 1. Return token scores `(batch, seq_len)`.
# The check compares your scores with this rule at several `n_steps`; with many
# points they must also add up to $F(x) - F(x')$ (completeness).


# %%
def integrated_gradients(forward_func, inputs, target, baselines, n_steps):
    """Token scores (batch, seq_len) of integrated gradients, trapezoid rule."""
    # BEGIN SOLUTION integrated_gradients
    alphas = torch.linspace(0.0, 1.0, n_steps, dtype=inputs.dtype)
    weights = torch.full((n_steps,), 1.0 / (n_steps - 1), dtype=inputs.dtype)
    weights[0] /= 2
    weights[-1] /= 2
    total = torch.zeros_like(inputs)
    for alpha, weight in zip(alphas, weights, strict=True):
        total += weight * gradient(forward_func, baselines + alpha * (inputs - baselines), target)
    return ((inputs - baselines) * total).sum(dim=-1)
    # END SOLUTION


check_integrated_gradients(integrated_gradients, seed=params.seed)

# %% [markdown]
# Now on the classifier, from the all-zero baseline: how often is the
# highest-scoring word the sentiment word (the second to last), and how close
# do the scores come to $F(x) - F(x')$?

# %%
zeros = torch.zeros_like(embeddings)
ig_scores = integrated_gradients(forward, embeddings, labels, zeros, params.ig_steps)
with torch.no_grad():
    gap = (forward(embeddings) - forward(zeros)).gather(1, labels[:, None]).squeeze(1)
positions = sentiment_positions(lengths)
print(f"top token is the sentiment word: {top_token_accuracy(ig_scores, lengths, positions):.1%}"
      f" of reviews (chance {chance_level(lengths):.1%})")
error = ((ig_scores.sum(1) - gap).abs() / gap.abs()).mean()
print(f"completeness error with {params.ig_steps} points: {float(error):.2%}")

# %% [markdown]
# ## Exercise 3: occlusion
#
# Score token $t$ by how much $F$ falls when its embedding is replaced by the
# baseline's at that position: $F(x) - F(x \text{ with } x_t \to x'_t)$.
# Replace one token at a time, every other token keeping its own embedding.


# %%
def occlusion(forward_func, inputs, target, baselines):
    """Token scores (batch, seq_len): the drop of F when each token is replaced."""
    # BEGIN SOLUTION occlusion
    index = torch.as_tensor(target).reshape(-1, 1)
    with torch.no_grad():
        full = forward_func(inputs).gather(1, index).squeeze(1)  # (batch,)
        drops = []
        for t in range(inputs.shape[1]):
            occluded = inputs.clone()
            occluded[:, t] = baselines[:, t]
            drops.append(full - forward_func(occluded).gather(1, index).squeeze(1))
    return torch.stack(drops, dim=1)
    # END SOLUTION


check_occlusion(occlusion, seed=params.seed)
occlusion_scores = occlusion(forward, embeddings, labels, zeros)
print(f"occlusion: top token is the sentiment word in "
      f"{top_token_accuracy(occlusion_scores, lengths, positions):.1%} of reviews")

# %% [markdown]
# ## Exercise 4: a probe and its control task
#
# Given hidden states `features` `(n, hidden_size)`, a property `labels`
# (0/1), the word type each example is keyed on (`word_types`) and a split
# into `train` and `test` indices: fit a logistic-regression probe
# (`sklearn.linear_model.LogisticRegression(max_iter=2000)`) on the training
# rows and return its accuracy on the test rows; then do the same for a
# control task in which every word type gets one random 0/1 label (use
# `np.random.default_rng(0)`). Return `(accuracy, control_accuracy)`.


# %%
def probe_with_control(features, labels, word_types, train, test):
    """Held-out accuracy of a linear probe on the task and on a control task."""
    # BEGIN SOLUTION probe_with_control
    rng = np.random.default_rng(0)
    table = {w: int(rng.integers(0, 2)) for w in sorted(set(word_types))}
    control = np.array([table[w] for w in word_types])

    def held_out_accuracy(y):
        probe = LogisticRegression(max_iter=2000).fit(features[train], y[train])
        return probe.score(features[test], y[test])

    return held_out_accuracy(np.asarray(labels)), held_out_accuracy(control)
    # END SOLUTION


check_probe_with_control(probe_with_control, seed=params.seed)

# %% [markdown]
# On the language model: the hidden state where the verb is predicted, the
# subject's number as the task, the subject noun as the word type.

# %%
items = agreement_items(replace(pretrained.config.corpus, seed=params.seed + 1), n=params.n_items)
states = agreement_states(pretrained.model, pretrained.vocab, items)
train, held_out = train_test_indices(len(items), seed=params.seed)
accuracy, control = probe_with_control(states_at(states, "verb"), number_labels(items),
                                       [it.prefix[1] for it in items], train, held_out)
print(f"number probe {accuracy:.1%}, control task {control:.1%}, "
      f"selectivity {accuracy - control:+.2f}")

# %% [markdown]
# ## Exercise 5: ablate units, in h and in c
#
# Run `lstm` (an `nn.LSTM` with one layer and `batch_first=True`) one step at
# a time on `inputs` `(batch, seq_len, input_size)`, starting from zeros, and
# set the listed `units` to zero at the listed time `steps` (`None`: every
# step). Return the outputs `(batch, seq_len, hidden_size)`. Think about what
# the next step reads: an LSTM's state is the pair $(h, c)$.


# %%
def ablate_units(lstm, inputs, units, steps):
    """LSTM outputs with the units zeroed at the given steps."""
    # BEGIN SOLUTION ablate_units
    batch, seq_len = inputs.shape[:2]
    h = inputs.new_zeros(1, batch, lstm.hidden_size)
    c = torch.zeros_like(h)
    outputs = []
    for t in range(seq_len):
        out, (h, c) = lstm(inputs[:, t: t + 1], (h, c))
        if steps is None or t in steps:
            out, h, c = out.clone(), h.clone(), c.clone()
            out[..., units] = 0.0
            h[..., units] = 0.0
            c[..., units] = 0.0
        outputs.append(out)
    return torch.cat(outputs, dim=1)
    # END SOLUTION


check_ablate_units(ablate_units, seed=params.seed)

# %% [markdown]
# Finally, silence the unit that tracks number best and see what happens to
# agreement: with your function, the language model's verb prediction is
# `decoder(output at the last prefix token)`.

# %%
lm = pretrained.model
order, corr = rank_units(states, items)
unit = int(order[0])


@torch.no_grad()
def agreement_with(units):
    """Share of items whose right verb form gets the higher logit."""
    right = 0
    for item in items:
        ids = torch.tensor([pretrained.vocab.encode(["<eos>", *item.prefix])],
                           device=lm.embedding.weight.device)
        out = ablate_units(lm.lstm, lm.embedding(ids), units, None)
        logits = lm.decoder(out[0, -1])
        right += int(logits[pretrained.vocab.stoi[item.correct]]
                     > logits[pretrained.vocab.stoi[item.wrong]])
    return right / len(items)


print(f"unit {unit} (correlation with number {corr[unit]:+.2f})")
print(f"agreement accuracy: intact {agreement_with([]):.1%}, "
      f"unit {unit} ablated {agreement_with([unit]):.1%}")
