"""Adapt the pretrained language model to classify sentences. Explained in chapter 5.

A ``SentimentClassifier`` is an encoder (the LSTM of ``LSTMLanguageModel``,
whose ``features`` give one hidden state per token) and a new linear *head*
on a pooled summary of those states, equation ``eq-head`` of chapter 5. Three
ways to get and train the encoder:

- ``"scratch"``: a freshly initialised encoder, trained with the head;
- ``"frozen"``: the pretrained encoder, fixed; only the head is trained;
- ``"finetune"``: the pretrained encoder trained too, with a smaller learning
  rate (``encoder_lr``) than the head's (``lr``).

``label_budget_experiment`` trains every mode on growing numbers of labelled
examples, over several seeds, and reports test accuracy: the learning curve of
chapter 5.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from utils.data.corpus import CorpusConfig, sentiment_task
from utils.data.text import Vocab
from utils.lm.device import get_device
from utils.lm.lstm import LSTMLanguageModel
from utils.lm.pretrained import Pretrained, pretrained_model

__all__ = [
    "MODES",
    "POOLINGS",
    "AdaptConfig",
    "SentimentClassifier",
    "encode_sentences",
    "label_budget_experiment",
    "make_classifier",
    "predict_proba",
    "summarise",
    "train_classifier",
]

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


def make_classifier(mode: str, pretrained: Pretrained, n_classes: int = 2, *,
                    pooling: str = "last", seed: int = 0) -> SentimentClassifier:
    """A classifier whose encoder is a copy of the pretrained LSTM, or a fresh one. Chapter 5.

    The pretrained model itself is never changed. The head (and a scratch
    encoder) are initialised from ``seed``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    torch.manual_seed(seed)
    if mode == "scratch":
        encoder = LSTMLanguageModel(pretrained.model.config)
    else:
        encoder = copy.deepcopy(pretrained.model)
    model = SentimentClassifier(encoder, n_classes, pooling=pooling).to(get_device())
    if mode == "frozen":
        for parameter in model.encoder.parameters():
            parameter.requires_grad_(False)
    model.mode = mode
    return model


def encode_sentences(sentences: Iterable[Sequence[str]], vocab: Vocab
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(n, max_len)`` and lengths ``(n,)`` of sentences, each after ``<eos>``.

    Explained in chapter 5. The pretrained model always saw a sentence start
    after ``<eos>``, so each sentence is read the same way here; shorter
    sentences are padded at the end with ``<eos>``, which a left-to-right LSTM
    only reads after the positions that are pooled.
    """
    ids = [[vocab.eos_id, *vocab.encode(s)] for s in sentences]
    if not ids:
        raise ValueError("no sentences to encode")
    lengths = torch.tensor([len(x) for x in ids])
    tokens = torch.full((len(ids), int(lengths.max())), vocab.eos_id, dtype=torch.long)
    for i, x in enumerate(ids):
        tokens[i, : len(x)] = torch.tensor(x)
    return tokens, lengths  # (n, max_len), (n,)


@contextlib.contextmanager
def _one_cpu_thread() -> Iterator[None]:
    """Run on one CPU thread, then restore the setting.

    Batches of a dozen short sentences are too small to split between threads:
    on a busy 2-core machine two threads ran a training step up to 100 times
    slower than one (measured while writing chapter 5).
    """
    if get_device().type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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

    Explained in chapter 5. Seeded by ``config.seed``: the same inputs give the
    same model. A frozen encoder stays in evaluation mode (no dropout), so its
    features are exactly the pretrained ones.
    """
    device = get_device()
    tokens, lengths, labels = tokens.to(device), lengths.to(device), labels.to(device)
    n = len(labels)
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # dropout masks
    optimizer = _optimizer(model, config)
    steps_per_epoch = math.ceil(n / config.batch_size)
    steps = max(config.epochs * steps_per_epoch, config.min_steps)
    model.train()
    if config.mode == "frozen":
        model.encoder.eval()
    losses: list[float] = []
    order = torch.randperm(n, generator=generator)
    position = 0
    with _one_cpu_thread():
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
    """Class probabilities ``(n, n_classes)`` in evaluation mode. Chapter 5."""
    model.eval()
    device = get_device()
    with _one_cpu_thread():
        out = [torch.softmax(model(tokens[i: i + batch_size].to(device),
                                   lengths[i: i + batch_size].to(device)), dim=-1).cpu()
               for i in range(0, len(tokens), batch_size)]
    return torch.cat(out)  # (n, n_classes)


def label_budget_experiment(budgets: Sequence[int], modes: Sequence[str] = MODES,
                            seeds: Sequence[int] = (0, 1, 2), *,
                            config: AdaptConfig | None = None,
                            pretrained: Pretrained | None = None,
                            n_test: int = 500, label_noise: float = 0.0,
                            progress: bool = True) -> list[dict]:
    """Test accuracy of each mode trained on each number of labels, for each seed. Chapter 5.

    For each seed, one labelled training set of ``max(budgets)`` reviews and one
    test set are drawn (``utils.corpus.sentiment_task``); budget b trains on the
    first b, so budgets are nested. Returns one row per (mode, budget, seed):
    ``{"mode", "budget", "seed", "accuracy", "train_s"}``.
    """
    config = config or AdaptConfig()
    pretrained = pretrained or pretrained_model(progress=False)
    for b in budgets:
        if not isinstance(b, int) or b < 2:
            raise ValueError(f"every budget must be an integer >= 2; got {b!r}")
    runs = [(seed, mode, b) for seed in seeds for mode in modes for b in budgets]
    if progress:
        from tqdm.auto import tqdm
        runs = tqdm(runs, desc="training classifiers")
    data: dict[int, tuple] = {}
    rows = []
    for seed, mode, budget in runs:
        if seed not in data:
            corpus_config = replace(pretrained.config.corpus or CorpusConfig(),
                                    label_noise=label_noise)
            train, test = sentiment_task(corpus_config, n_train=max(budgets), n_test=n_test,
                                         seed=seed)
            data[seed] = (encode_sentences([s for s, _ in train], pretrained.vocab),
                          torch.tensor([y for _, y in train]),
                          encode_sentences([s for s, _ in test], pretrained.vocab),
                          torch.tensor([y for _, y in test]))
        (tokens, lengths), labels, (test_tokens, test_lengths), test_labels = data[seed]
        run_config = replace(config, mode=mode, seed=seed)
        start = time.perf_counter()
        model = make_classifier(mode, pretrained, pooling=config.pooling, seed=seed)
        train_classifier(model, tokens[:budget], lengths[:budget], labels[:budget], run_config)
        seconds = time.perf_counter() - start
        predicted = predict_proba(model, test_tokens, test_lengths).argmax(dim=-1)
        rows.append({"mode": mode, "budget": budget, "seed": seed,
                     "accuracy": float((predicted == test_labels).double().mean()),
                     "train_s": seconds})
    return rows


def summarise(rows: Sequence[dict], key: str = "accuracy") -> dict[tuple[str, int], dict]:
    """Mean, standard deviation, min and max of ``key`` over seeds, per (mode, budget)."""
    groups: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        groups.setdefault((row["mode"], row["budget"]), []).append(row[key])
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "min": float(np.min(v)),
                "max": float(np.max(v)), "n": len(v)} for k, v in groups.items()}
