"""Generate text from a language model, one sampled token at a time.

Explained in chapter 4: divide the logits by a temperature (low: safe and
repetitive, high: varied and odd), optionally keep only the ``top_k`` most
likely tokens, then draw from the softmax.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from utils.data.text import Vocab

__all__ = ["generate", "sample_next"]


def _check_sampling(temperature: float, top_k: int | None) -> None:
    """Stop early, with a clear message, on a temperature or top_k that makes no sense."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not (
        temperature >= 0
    ):
        raise ValueError(f"temperature must be a number >= 0 (0 means argmax); got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None; got {top_k!r}")


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row of ``logits`` ``(..., vocab_size)``; returns ``(...)`` ids.

    Explained in chapter 4. ``temperature=0`` means always the most likely token.
    """
    _check_sampling(temperature, top_k)
    if temperature == 0:
        return logits.argmax(dim=-1)
    scaled = logits.float() / temperature  # (..., vocab_size)
    if top_k is not None and top_k < scaled.size(-1):
        kth = torch.topk(scaled, top_k, dim=-1).values[..., -1:]  # (..., 1)
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    probs = torch.softmax(scaled, dim=-1)
    flat = probs.reshape(-1, probs.size(-1))  # (rows, vocab_size)
    ids = torch.multinomial(flat.cpu(), 1, generator=generator)  # (rows, 1)
    return ids.view(probs.shape[:-1]).to(logits.device)


@torch.no_grad()
def generate(
    model: nn.Module,
    vocab: Vocab,
    prompt_tokens: Sequence[str],
    max_new_tokens: int = 30,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
) -> list[str]:
    """Continue ``prompt_tokens`` by ``max_new_tokens`` sampled tokens; returns the new tokens.

    Explained in chapter 4. The same seed gives the same text; the model's
    training mode is restored afterwards.
    """
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0; got {max_new_tokens}")
    _check_sampling(temperature, top_k)  # before running the model, so a bad value fails fast
    generator = torch.Generator().manual_seed(seed)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    # An empty prompt starts the text as after a sentence end.
    prompt_ids = vocab.encode(prompt_tokens) or [vocab.eos_id]
    tokens = torch.tensor([prompt_ids], dtype=torch.long, device=device)  # (1, prompt_len)
    state = None
    new_ids: list[int] = []
    for _ in range(max_new_tokens):
        logits, state = model(tokens, state)  # (1, seq_len, vocab_size)
        next_id = sample_next(logits[0, -1], temperature, top_k, generator)  # ()
        new_ids.append(int(next_id))
        tokens = next_id.view(1, 1)  # (1, 1): the state already holds the past
    model.train(was_training)
    return vocab.decode(new_ids)
