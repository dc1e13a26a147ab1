"""Train a language model sentence by sentence, with or without DP-SGD. Explained in chapter 8.

Differential privacy protects a unit of data; here the unit is one sentence.
So the model trains on sentences (each read after ``<eos>``, padded to the
longest in its batch) rather than on the long stream of chapter 4, and each
DP-SGD batch is drawn by Poisson sampling: every sentence joins with
probability q, independently, which is what the accountant assumes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from utils.data.padding import PAD, encode_with_targets
from utils.data.text import Vocab
from utils.privacy.dpsgd import gaussian_noise, private_gradient

__all__ = ["PrivateTrainConfig", "train_sentences"]


@dataclass(frozen=True)
class PrivateTrainConfig:
    """How to train on sentences; ``noise_multiplier=None`` means ordinary training. Chapter 8.

    Without DP, each epoch shuffles the sentences into batches of ``batch_size``.
    With DP (a ``noise_multiplier``, 0 allowed: clipping only), each step draws a
    Poisson batch with rate q = batch_size / N, clips each sentence's gradient to
    ``max_grad_norm`` and adds noise; an epoch is N / batch_size such steps.
    """

    epochs: int = 20
    batch_size: int = 32
    lr: float = 5e-3
    seed: int = 0
    noise_multiplier: float | None = None
    max_grad_norm: float = 1.0

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if not self.lr > 0 or not self.max_grad_norm > 0:
            raise ValueError("lr and max_grad_norm must be > 0")
        if self.noise_multiplier is not None and self.noise_multiplier < 0:
            raise ValueError("noise_multiplier must be >= 0 or None; "
                             f"got {self.noise_multiplier!r}")


def _trim(inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop columns that are padding in every row of the batch (less work per step)."""
    if len(targets) == 0:
        return inputs, targets
    used = int((targets != PAD).any(dim=0).nonzero().max()) + 1
    return inputs[:, :used], targets[:, :used]


def _batches(n: int, config: PrivateTrainConfig, generator: torch.Generator):
    """Index tensors of one epoch's batches: shuffled (ordinary) or Poisson (DP)."""
    if config.noise_multiplier is None:
        order = torch.randperm(n, generator=generator)
        return list(order.split(config.batch_size))
    q = config.batch_size / n
    steps = max(1, round(n / config.batch_size))
    return [(torch.rand(n, generator=generator) < q).nonzero().flatten() for _ in range(steps)]


def train_sentences(model: nn.Module, sentences: Sequence[Sequence[str]], vocab: Vocab,
                    config: PrivateTrainConfig,
                    on_epoch: Callable[[int, nn.Module], None] | None = None) -> dict:
    """Train ``model`` on ``sentences`` with Adam, privately if asked. Explained in chapter 8.

    Seeded by ``config.seed`` through its own generator (global RNGs are left
    alone). ``on_epoch(epoch, model)`` runs after every epoch. Returns a record:
    steps, sample rate, tokens, seconds and tokens per second of training.
    """
    generator = torch.Generator().manual_seed(config.seed)
    inputs, targets = encode_with_targets(sentences, vocab)  # (n, width) each
    n = len(inputs)
    private = config.noise_multiplier is not None
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    model.train()
    steps, tokens, seconds = 0, 0, 0.0
    for epoch in range(1, config.epochs + 1):
        for index in _batches(n, config, generator):
            start = time.perf_counter()
            x, y = _trim(inputs[index], targets[index])
            optimizer.zero_grad(set_to_none=True)
            if private and len(x) == 0:  # an empty Poisson batch: the update is noise alone
                std = config.noise_multiplier * config.max_grad_norm
                noise = gaussian_noise(dict(model.named_parameters()), std, generator)
                for name, p in model.named_parameters():
                    p.grad = noise[name] / config.batch_size
            elif private:
                grads = private_gradient(
                    model, x, y, max_grad_norm=config.max_grad_norm,
                    noise_multiplier=config.noise_multiplier,
                    expected_batch_size=config.batch_size, generator=generator)
                for name, p in model.named_parameters():
                    p.grad = grads[name]
            else:
                logits, _ = model(x)  # (batch, width, vocab_size)
                # Mean over sentences of each sentence's summed loss, as DP-SGD averages.
                loss = F.cross_entropy(logits.transpose(1, 2), y, ignore_index=PAD,
                                       reduction="sum") / max(1, len(x))
                loss.backward()
            optimizer.step()
            seconds += time.perf_counter() - start
            tokens += int((y != PAD).sum())
            steps += 1
        if on_epoch is not None:
            on_epoch(epoch, model)
    model.eval()
    return {"steps": steps, "sample_rate": config.batch_size / n if private else math.nan,
            "tokens": tokens, "train_time_s": seconds,
            "tokens_per_s": tokens / seconds if seconds > 0 else 0.0}
