"""Unlearning: remove sentences' influence from a model, exactly or approximately. Chapter 8.

Exact unlearning trains again from scratch on the training text without the
sentences to forget (``without``): the result is a model that never saw them,
at the cost of a whole training run. SISA training (Bourtoule et al., 2021)
makes that retraining cheaper by splitting the data into shards, each with
its own model, so a deletion retrains one shard; the result is still exact.
Approximate unlearning changes the trained model instead; the simplest
method, ``gradient_ascent``, climbs the loss of the sentences to forget for a
few steps. It is cheap, and it promises nothing: how much of a sentence is
left, and what the rest of the model lost, have to be measured.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from utils.data.padding import PAD, encode_with_targets
from utils.data.text import Vocab

__all__ = ["gradient_ascent", "without"]


def without(sentences: Sequence[Sequence[str]], forget: Sequence[Sequence[str]]
            ) -> list[list[str]]:
    """``sentences`` with every copy of every sentence in ``forget`` removed, in order. Chapter 8.

    The text that exact unlearning trains on again.

    >>> without([["a", "."], ["b", "."], ["a", "."]], [["a", "."]])
    [['b', '.']]
    """
    drop = {tuple(s) for s in forget}
    return [list(s) for s in sentences if tuple(s) not in drop]


def _mean_sentence_loss(model: nn.Module, inputs: torch.Tensor,
                        targets: torch.Tensor) -> torch.Tensor:
    logits, _ = model(inputs)  # (batch, width, vocab_size)
    # Each sentence's summed loss, averaged over sentences, as training does.
    return F.cross_entropy(logits.transpose(1, 2), targets, ignore_index=PAD,
                           reduction="sum") / len(inputs)


def gradient_ascent(model: nn.Module, forget: Sequence[Sequence[str]], vocab: Vocab, *,
                    steps: int, lr: float = 1e-3) -> nn.Module:
    """A copy of ``model`` after ``steps`` Adam steps that raise ``forget``'s loss. Chapter 8.

    Every step uses all of ``forget`` at once (no sampling, so no seed is
    needed); ``model`` itself is left unchanged. Returns the copy in
    evaluation mode.
    """
    if steps < 0 or not isinstance(steps, int):
        raise ValueError(f"steps must be an integer >= 0; got {steps!r}")
    if not forget:
        raise ValueError("forget is empty: there is nothing to unlearn")
    unlearned = copy.deepcopy(model)
    unlearned.train()
    inputs, targets = encode_with_targets(forget, vocab)  # (n, width) each
    optimizer = torch.optim.Adam(unlearned.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        (-_mean_sentence_loss(unlearned, inputs, targets)).backward()
        optimizer.step()
    return unlearned.eval()
