"""Masked-word pretraining, BERT's objective, for the bidirectional Transformer. Chapter 4.

Hide a share of the tokens behind a ``<mask>`` id and train the model to
predict the hidden words from both sides: the loss is the cross-entropy at the
masked positions only. The mask id is one past the course's vocabulary, so the
model's vocabulary is ``len(vocab) + 1``.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from utils.data.text import batchify, lm_batches
from utils.lm.training import History, TrainConfig
from utils.runtime.device import get_device
from utils.runtime.scoped import eval_mode, local_seed

__all__ = ["evaluate_masked_language_model", "mask_tokens",
           "train_masked_language_model"]

IGNORE = -100  # cross_entropy's ignore_index: positions that were not masked


def mask_tokens(tokens: torch.Tensor, mask_id: int, rate: float, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs with a ``rate`` share of positions replaced by ``mask_id``, and the targets.

    Targets hold the original id at masked positions and ``-100`` elsewhere.
    """
    if not 0.0 < rate < 1.0:
        raise ValueError(f"rate must be in (0, 1); got {rate!r}")
    chosen = torch.rand(tokens.shape, generator=generator) < rate  # (batch, seq)
    chosen = chosen.to(tokens.device)
    inputs = tokens.masked_fill(chosen, mask_id)
    targets = tokens.masked_fill(~chosen, IGNORE)
    return inputs, targets


def _masked_loss(model: nn.Module, tokens: torch.Tensor, mask_id: int, rate: float,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    inputs, targets = mask_tokens(tokens, mask_id, rate, generator)
    logits = model.decoder(model.features(inputs))  # (batch, seq, vocab_size + 1)
    flat = logits.reshape(-1, logits.shape[-1])
    return F.cross_entropy(flat, targets.reshape(-1), ignore_index=IGNORE), flat, targets


def train_masked_language_model(model: nn.Module, train_stream: torch.Tensor, config: TrainConfig,
                                *, mask_id: int, rate: float = 0.15, progress: bool = True
                                ) -> History:
    """Pretrain a bidirectional model by masked-word prediction on a token stream. Chapter 4.

    Windows of ``config.seq_len`` tokens, ``config.epochs`` passes, Adam; seeded
    by ``config.seed`` without touching the caller's random streams.
    """
    device = get_device()
    model.to(device).train()
    data = batchify(train_stream, config.batch_size).to(device)  # (batch_size, n)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    history = History()  # no validation: ``valid`` stays empty
    steps = config.epochs * math.ceil((data.size(1) - 1) / config.seq_len)
    with local_seed(config.seed), tqdm(total=steps, disable=not progress, desc="masked LM") as bar:
        generator = torch.Generator().manual_seed(config.seed)
        for _ in range(config.epochs):
            for window, _next in lm_batches(data, config.seq_len):
                start = time.perf_counter()
                loss, _, _ = _masked_loss(model, window, mask_id, rate, generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if config.clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip)
                optimizer.step()
                history.train_loss.append(loss.item())
                history.train_time_s += time.perf_counter() - start
                history.tokens += window.numel()
                bar.update(1)
    model.eval()
    return history


@torch.no_grad()
def evaluate_masked_language_model(model: nn.Module, stream: torch.Tensor, *, mask_id: int,
                                   rate: float = 0.15, seq_len: int = 35, batch_size: int = 64,
                                   seed: int = 0) -> dict[str, float]:
    """Cross-entropy and top-1 accuracy at masked positions of ``stream``."""
    data = batchify(stream, batch_size).to(next(model.parameters()).device)
    generator = torch.Generator().manual_seed(seed)
    total, correct, count = 0.0, 0, 0
    with eval_mode(model):
        for window, _next in lm_batches(data, seq_len):
            _, flat, targets = _masked_loss(model, window, mask_id, rate, generator)
            scored = targets.reshape(-1) != IGNORE
            total += F.cross_entropy(flat[scored], targets.reshape(-1)[scored],
                                     reduction="sum").item()
            correct += (flat[scored].argmax(-1) == targets.reshape(-1)[scored]).sum().item()
            count += int(scored.sum())
    if count == 0:
        raise ValueError("nothing was masked: the stream is too short")
    return {"loss": total / count, "accuracy": correct / count}
