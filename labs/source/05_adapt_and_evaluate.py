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
# # Lab 05: adapt the pretrained model and evaluate it
#
# Chapter 5 put a classifier head on the pretrained language
# model and measured it with precision, recall, $F_1$ and the confusion
# matrix. In this lab you implement those metrics, attach a head, fine-tune
# it, and run your own label-budget experiment.
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
seed: int = 0  # seed of the labelled data, the models and the checks' random inputs (an integer, at least 0)
budget: int = 50  # labelled reviews of your label-budget experiment (integer, 10 to 1000)
steps: int = 60  # optimizer steps of each fine-tuning run (integer, 20 to 500)
lr: float = 3e-3  # Adam learning rate of the head (number, 1e-5 to 0.1)
encoder_lr: float = 5e-4  # Adam learning rate of the pretrained encoder (number, 1e-6 to 0.1)

# %% tags=["hide-cell"]
from utils.notebook import Integer, Real, validate

params = validate(
    seed=Integer(seed, min=0),
    budget=Integer(budget, min=10, max=1000),
    steps=Integer(steps, min=20, max=500),
    lr=Real(lr, min=1e-5, max=0.1),
    encoder_lr=Real(encoder_lr, min=1e-6, max=0.1),
)

# %%
from dataclasses import replace

import torch

from utils.adapt_and_evaluate import AdaptConfig, make_classifier
from utils.checks import not_implemented  # noqa: F401  (the student version's stubs call it)
from utils.checks.adapt_and_evaluate import (
    check_classify,
    check_confusion_matrix,
    check_fine_tune,
    check_precision_recall_f1,
)
from utils.data import sentiment_task
from utils.lm import pretrained_model

torch.manual_seed(params.seed)
pretrained = pretrained_model(progress=False)  # loads the cached model of chapter 4
train, test = sentiment_task(replace(pretrained.config.corpus, seed=params.seed), n_train=1000,
                             n_test=500)
print("a training review:", " ".join(train.texts[0]), "-> label", int(train.labels[0]))
print("a test review:    ", " ".join(test.texts[0]), "-> label", int(test.labels[0]))

# %% [markdown]
# ## Exercise 1: the confusion matrix
#
# Given true labels `y_true` and predicted labels `y_pred` (integer tensors of
# the same length) and the number of classes $K$, return the $K \times K$
# matrix whose entry `[i, j]` counts the examples of true class $i$ predicted
# as class $j$.


# %%
def confusion(y_true: torch.Tensor, y_pred: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    # BEGIN SOLUTION confusion_matrix
    matrix = torch.zeros(n_classes, n_classes, dtype=torch.long)
    for t, p in zip(y_true.tolist(), y_pred.tolist(), strict=True):
        matrix[t, p] += 1
    return matrix
    # END SOLUTION


check_confusion_matrix(confusion, seed=params.seed)

# %% [markdown]
# ## Exercise 2: precision, recall and $F_1$ per class
#
# From the confusion matrix, for each class $c$: precision is $TP / (TP + FP)$
# (of everything predicted $c$, the share that is $c$), recall is
# $TP / (TP + FN)$ (of everything that is $c$, the share found), and $F_1$ their
# harmonic mean (Chapter 5). When a denominator is 0, for example the
# precision of a class never predicted, report 0 as scikit-learn does.


# %%
def precision_recall_f1(y_true: torch.Tensor, y_pred: torch.Tensor, n_classes: int
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class precision, recall and F1, each of shape (n_classes,)."""
    # BEGIN SOLUTION precision_recall_f1
    matrix = confusion(y_true, y_pred, n_classes).double()
    tp = matrix.diag()
    predicted, actual = matrix.sum(dim=0), matrix.sum(dim=1)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), 0.0)
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), 0.0)
    total = precision + recall
    f1 = torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-12), 0.0)
    return precision, recall, f1
    # END SOLUTION


check_precision_recall_f1(precision_recall_f1, seed=params.seed)

# %% [markdown]
# ## Exercise 3: attach a classifier head
#
# The pretrained model's `features(tokens)` gives the top LSTM state at every
# position, `(batch, seq_len, hidden_size)`. Sentences have different lengths,
# so each row of `tokens` is padded at the end and `lengths` says how many
# positions are real. Pool each sentence to the state of its **last real
# token** and apply the linear `head`, returning the logits
# `(batch, n_classes)`, as Chapter 5 defines the head.


# %%
def classify(encoder: torch.nn.Module, head: torch.nn.Module, tokens: torch.Tensor,
             lengths: torch.Tensor) -> torch.Tensor:
    """Logits (batch, n_classes) of `head` on each sentence's last real hidden state."""
    # BEGIN SOLUTION classify
    hidden = encoder.features(tokens)  # (batch, seq_len, hidden_size)
    last = hidden[torch.arange(len(tokens)), lengths - 1]  # (batch, hidden_size)
    return head(last)  # (batch, n_classes)
    # END SOLUTION


check_classify(classify, seed=params.seed)

# %% [markdown]
# `utils.adapt_and_evaluate.SentimentClassifier` does the same; from here on we use it, so
# the models of the last exercises are the ones the chapter's notebook trains.
#
# ## Exercise 4: fine-tune
#
# Train `model` (a `SentimentClassifier`: `model.encoder` is a copy of the
# pretrained LSTM, `model.head` a new linear layer, `model(tokens, lengths)`
# gives the logits) for `steps` Adam steps on random batches of 16 labelled
# examples, minimising the cross-entropy. Use learning rate `lr` for the head
# and the smaller `encoder_lr` for the encoder (one optimizer, two parameter
# groups). Draw the batches with `generator` (so a run can be repeated), and
# return the list of the losses, one per step. The check compares your first
# steps with reference Adam steps on a copy of the model.


# %%
def fine_tune(model: torch.nn.Module, tokens: torch.Tensor, lengths: torch.Tensor,
              labels: torch.Tensor, steps: int, lr: float, encoder_lr: float,
              generator: torch.Generator) -> list[float]:
    """Train head and encoder with their own learning rates; return each step's loss."""
    # BEGIN SOLUTION fine_tune
    optimizer = torch.optim.Adam([
        {"params": model.head.parameters(), "lr": lr},
        {"params": model.encoder.parameters(), "lr": encoder_lr},
    ])
    model.train()
    losses = []
    for _ in range(steps):
        batch = torch.randint(0, len(labels), (16,), generator=generator)
        loss = torch.nn.functional.cross_entropy(model(tokens[batch], lengths[batch]),
                                                 labels[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses
    # END SOLUTION


tokens, lengths, labels = train.tokens, train.lengths, train.labels
test_tokens, test_lengths, test_labels = test.tokens, test.lengths, test.labels
check_fine_tune(fine_tune, seed=params.seed)

# %% [markdown]
# ## Your label-budget experiment
#
# Now train two classifiers on the first `budget` labelled reviews with your
# `fine_tune`: one on the pretrained encoder, one on a freshly initialised
# encoder of the same shape (training from scratch, where both learning rates
# are the head's). The test reviews use sentiment words the labelled reviews
# never show; only pretraining has seen them.

# %%
results = {}
for mode in ("finetune", "scratch"):
    torch.manual_seed(params.seed)
    model = make_classifier(pretrained, AdaptConfig(mode=mode, seed=params.seed))
    rate = params.encoder_lr if mode == "finetune" else params.lr
    fine_tune(model, tokens[: params.budget], lengths[: params.budget],
              labels[: params.budget], params.steps, params.lr, rate,
              torch.Generator().manual_seed(params.seed))
    with torch.no_grad():
        predicted = model(test_tokens, test_lengths).argmax(dim=-1)
    results[mode] = predicted
    print(f"{mode:>9} on {params.budget} labels: test accuracy "
          f"{float((predicted == test_labels).double().mean()):.1%}")

# %% [markdown]
# Your metrics, applied to both: the scratch model's confusion matrix shows
# what its accuracy hides, which class it leans towards.

# %%
for mode, predicted in results.items():
    precision, recall, f1 = precision_recall_f1(test_labels, predicted, 2)
    print(f"{mode}: confusion matrix (rows = truth negative, positive)\n"
          f"{confusion(test_labels, predicted, 2).numpy()}")
    print(f"  precision {precision.numpy().round(3)}  recall {recall.numpy().round(3)}  "
          f"F1 {f1.numpy().round(3)}")

# %% [markdown]
# Try a few values of `budget` and `seed` (or set them with papermill). How
# few labels does the pretrained model need? Does anything make the scratch
# model generalise to the unseen words?
