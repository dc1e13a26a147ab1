"""Detect machine text without a watermark: likelihood, GLTR ranks, the optimal test. Chapter 9.

Three scores for a text of token ids, higher meaning "more likely written by
the model":

- the model's mean log-likelihood per token (machine text sits where the
  model puts its mass);
- GLTR's view (Gehrmann et al., 2019): the rank of each token among the
  model's predictions, summarised by a histogram or by minus the mean log-rank;
- the log-likelihood ratio log q(x) - log p(x) between the sampler q (the model
  at its sampling temperature) and the true language p. By the Neyman-Pearson
  lemma no score separates the two sources better; real detectors cannot
  compute it because nobody knows p for real text, but the course's synthetic
  language gives p exactly.

``roc_curve`` and ``auroc`` turn scores into the detector's trade-off.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from utils.evaluate.roc import auroc, roc_curve  # noqa: F401  (re-exported for chapter 9)

__all__ = [
    "auroc", "gltr_score", "rank_histogram", "roc_curve", "score_tokens",
]


@torch.no_grad()
def score_tokens(model: nn.Module, ids: torch.Tensor, *, start_id: int,
                 temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-prob and rank (1 = the model's top choice) of each token of ``ids`` ``(n, T)``.

    Each text is read after ``start_id``; the logits are divided by
    ``temperature`` first (1 gives the model itself). Returns two ``(n, T)``
    tensors. Chapter 9.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature!r}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = ids.to(device)
    start = torch.full((ids.size(0), 1), start_id, dtype=torch.long, device=device)
    inputs = torch.cat([start, ids[:, :-1]], dim=1)  # (n, T): each token's left context
    logits, _ = model(inputs)  # (n, T, V)
    log_probs = torch.log_softmax(logits.float() / temperature, dim=-1)  # (n, T, V)
    chosen = log_probs.gather(2, ids[..., None])  # (n, T, 1)
    ranks = 1 + (log_probs > chosen).sum(dim=-1)  # (n, T): how many tokens scored higher
    model.train(was_training)
    return chosen[..., 0].cpu(), ranks.cpu()


def rank_histogram(ranks: torch.Tensor, edges: Sequence[int] = (1, 3, 10)) -> np.ndarray:
    """Share of each text's tokens with rank <= edges[0], <= edges[1], ..., and above. GLTR.

    ``ranks`` ``(n, T)`` -> ``(n, len(edges) + 1)``; each row sums to 1. Chapter 9.
    """
    r = ranks.numpy()
    bounds = [0, *edges, math.inf]
    return np.stack([((r > lo) & (r <= hi)).mean(axis=1)
                     for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)], axis=1)


def gltr_score(ranks: torch.Tensor) -> np.ndarray:
    """Minus the mean log-rank of each text ``(n,)``: high when tokens are the model's top picks."""
    return -np.log(ranks.double().numpy()).mean(axis=1)

