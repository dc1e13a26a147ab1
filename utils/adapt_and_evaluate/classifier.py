"""Adapt the pretrained language model to classify sentences. Explained in chapter 5.

A ``SentimentClassifier`` is an encoder (the LSTM of ``LSTMLanguageModel``,
whose ``features`` give one hidden state per token) and a new linear *head*
on a pooled summary of those states, equation ``eq-head`` of chapter 5. Three
ways to get and train the encoder:

- ``"scratch"``: a freshly initialised encoder, trained with the head;
- ``"frozen"``: the pretrained encoder, fixed; only the head is trained;
- ``"finetune"``: the pretrained encoder trained too, with a smaller learning
  rate (``encoder_lr``) than the head's (``lr``).

``utils.adapt_and_evaluate.experiment.label_budget_experiment`` trains every mode on growing
numbers of labelled examples, over several seeds: the learning curve of chapter 5.

None of these functions touches the caller's random streams: each takes a seed
and draws inside ``utils.runtime.scoped.local_seed``.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

from utils.lm.lstm import LSTMLanguageModel
from utils.lm.pretrained import Pretrained
from utils.runtime.device import get_device
from utils.runtime.scoped import eval_mode, local_seed, one_cpu_thread

__all__ = [
    "MODES",
    "POOLINGS",
    "AdaptConfig",
    "SentimentClassifier",
    "make_classifier",
    "predict_proba",
    "train_classifier",
]

# The name the lab's checks import; the context manager lives in utils.runtime.scoped.
_one_cpu_thread = one_cpu_thread

MODES = ("scratch", "frozen", "finetune")
POOLINGS = ("last", "mean")


@dataclass(frozen=True)
class AdaptConfig:
    """How to adapt and train a classifier. Explained in chapter 5.

    Training runs ``epochs`` passes over the labelled examples but at least
    ``min_steps`` optimizer steps, so that a tiny label budget still gets a
    fair number of updates.
    """

    mode: str = "finetune"
    pooling: str = "last"
    epochs: int = 5
    min_steps: int = 50
    batch_size: int = 16
    lr: float = 3e-3  # the head's (and a scratch encoder's) Adam step size
    encoder_lr: float = 5e-4  # the pretrained encoder's step size when fine-tuning
    seed: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {self.mode!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {self.pooling!r}")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not isinstance(self.min_steps, int) or self.min_steps < 0:
            raise ValueError(f"min_steps must be an integer >= 0; got {self.min_steps!r}")
        for name in ("lr", "encoder_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0; got {getattr(self, name)!r}")


class SentimentClassifier(nn.Module):
    """Encoder features -> pool over the sentence -> linear head -> class logits. Chapter 5."""

    def __init__(self, encoder: LSTMLanguageModel, n_classes: int = 2, *,
                 pooling: str = "last") -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}; got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.head = nn.Linear(encoder.config.hidden_size, n_classes)

    def pool(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """One vector per sentence ``(batch, hidden_size)`` from the encoder's states."""
        hidden = self.encoder.features(tokens)  # (batch, seq_len, hidden_size)
        if self.pooling == "last":
            rows = torch.arange(len(tokens), device=tokens.device)
            return hidden[rows, lengths - 1]  # (batch, hidden_size), the last real token
        mask = (torch.arange(tokens.shape[1], device=tokens.device)[None, :]
                < lengths[:, None]).unsqueeze(-1)  # (batch, seq_len, 1)
        return (hidden * mask).sum(dim=1) / lengths[:, None]  # (batch, hidden_size)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Class logits ``(batch, n_classes)`` for padded ``tokens`` ``(batch, seq_len)``."""
        return self.head(self.pool(tokens, lengths))  # (batch, n_classes)


def make_classifier(pretrained: Pretrained, config: AdaptConfig | None = None,
                    n_classes: int = 2) -> SentimentClassifier:
    """A classifier whose encoder is a copy of the pretrained LSTM, or a fresh one. Chapter 5.

    ``config`` (default ``AdaptConfig()``) says how: its ``mode`` picks the
    encoder, its ``pooling`` the summary the head reads, and its ``seed``
    initialises the head (and a scratch encoder) without touching the caller's
    random streams. The pretrained model itself is never changed.
    """
    config = config or AdaptConfig()
    mode = config.mode
    with local_seed(config.seed):
        if mode == "scratch":
            encoder = LSTMLanguageModel(pretrained.model.config)
        else:
            encoder = copy.deepcopy(pretrained.model)
        model = SentimentClassifier(encoder, n_classes, pooling=config.pooling).to(get_device())
    if mode == "frozen":
        for parameter in model.encoder.parameters():
            parameter.requires_grad_(False)
    return model


def _optimizer(model: SentimentClassifier, config: AdaptConfig) -> torch.optim.Optimizer:
    groups = [{"params": list(model.head.parameters()), "lr": config.lr}]
    if config.mode == "scratch":
        groups.append({"params": list(model.encoder.parameters()), "lr": config.lr})
    elif config.mode == "finetune":
        groups.append({"params": list(model.encoder.parameters()), "lr": config.encoder_lr})
    return torch.optim.Adam(groups)


def train_classifier(model: SentimentClassifier, tokens: torch.Tensor, lengths: torch.Tensor,
                     labels: torch.Tensor, config: AdaptConfig) -> list[float]:
    """Train by minimising the cross-entropy of the labels; return the loss of each step.

    Explained in chapter 5. Seeded by ``config.seed`` (batch order and dropout
    masks; the caller's random streams are left alone): the same inputs give the
    same model. A frozen encoder stays in evaluation mode (no dropout), so its
    features are exactly the pretrained ones. The model is left in evaluation mode.
    """
    n = len(labels)
    if n == 0 or len(tokens) != n or len(lengths) != n:
        raise ValueError(f"tokens, lengths and labels must have the same positive length; got "
                         f"{len(tokens)}, {len(lengths)} and {n}")
    device = get_device()
    tokens, lengths, labels = tokens.to(device), lengths.to(device), labels.to(device)
    generator = torch.Generator().manual_seed(config.seed)  # batch order
    optimizer = _optimizer(model, config)
    steps = max(config.epochs * math.ceil(n / config.batch_size), config.min_steps)
    model.train()
    if config.mode == "frozen":
        model.encoder.eval()
    losses: list[float] = []
    order = torch.randperm(n, generator=generator)
    position = 0
    with one_cpu_thread(), local_seed(config.seed):  # local_seed: the dropout masks
        for _ in range(steps):
            if position >= n:  # a new epoch: reshuffle
                order, position = torch.randperm(n, generator=generator), 0
            batch = order[position: position + config.batch_size].to(device)
            position += config.batch_size
            logits = model(tokens[batch], lengths[batch])  # (batch, n_classes)
            loss = nn.functional.cross_entropy(logits, labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def predict_proba(model: SentimentClassifier, tokens: torch.Tensor, lengths: torch.Tensor,
                  batch_size: int = 1024) -> torch.Tensor:
    """Class probabilities ``(n, n_classes)`` in evaluation mode. Chapter 5.

    The model's training mode is restored afterwards (``utils.runtime.scoped.eval_mode``).
    """
    device = get_device()
    with one_cpu_thread(), eval_mode(model):
        out = [torch.softmax(model(tokens[i: i + batch_size].to(device),
                                   lengths[i: i + batch_size].to(device)), dim=-1).cpu()
               for i in range(0, len(tokens), batch_size)]
    if not out:
        raise ValueError("nothing to score: tokens is empty")
    return torch.cat(out)  # (n, n_classes)
