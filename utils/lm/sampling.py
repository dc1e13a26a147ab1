"""Generate text from a language model, one sampled token at a time.

Explained in chapter 4: divide the logits by a temperature (low: safe and
repetitive, high: varied and odd), optionally keep only the ``top_k`` most
likely tokens, then draw from the softmax. ``softmax_at_temperature`` is the
course's one definition of the temperature transform; calibration's
temperature scaling (chapter 3) and the next-word explorers use it too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import torch
from torch import nn

from utils.data.text import Vocab
from utils.runtime.scoped import eval_mode

__all__ = ["generate", "generate_causal", "sample_next", "softmax_at_temperature"]


def _check_temperature(temperature: float) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, Real) or not (
        0 <= temperature < math.inf
    ):
        raise ValueError(f"temperature must be a number >= 0 (0 means argmax); got {temperature!r}")


def _check_sampling(temperature: float, top_k: int | None) -> None:
    """Stop early, with a clear message, on a temperature or top_k that makes no sense."""
    _check_temperature(temperature)
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, Integral)
                              or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None; got {top_k!r}")


def softmax_at_temperature(logits: torch.Tensor, temperature: float, *,
                           log: bool = False) -> torch.Tensor:
    """The distribution at temperature T: softmax(logits / T) over the last axis. Chapter 4.

    Fed log-probabilities, it gives p^(1/T) renormalised, and a word of
    probability 0 (logit -inf) stays at 0. T = 1 leaves the distribution as it
    is, T < 1 sharpens it, T > 1 flattens it; T = 0 is the limit T -> 0, all
    mass on each row's largest logit. ``log=True`` returns log-probabilities.

    >>> probs = torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64)
    >>> [round(p, 4) for p in softmax_at_temperature(probs.log(), 0.5).tolist()]
    [0.6667, 0.1667, 0.1667]
    """
    _check_temperature(temperature)
    logits = torch.as_tensor(logits)
    if not logits.is_floating_point():
        logits = logits.double()
    if temperature == 0:
        top = torch.nn.functional.one_hot(logits.argmax(dim=-1), logits.shape[-1])
        probs = top.to(logits.dtype)  # (..., vocab_size)
        return probs.log() if log else probs
    scaled = logits / temperature  # (..., vocab_size)
    return torch.log_softmax(scaled, dim=-1) if log else torch.softmax(scaled, dim=-1)


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
    logits = logits.float()  # (..., vocab_size)
    if top_k is not None and top_k < logits.size(-1):
        # Dividing by T > 0 keeps the order, so the top k are chosen on the raw logits.
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # (..., 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = softmax_at_temperature(logits, temperature)  # (..., vocab_size)
    flat = probs.reshape(-1, probs.size(-1))  # (rows, vocab_size)
    ids = torch.multinomial(flat.cpu(), 1, generator=generator)  # (rows, 1)
    return ids.view(probs.shape[:-1]).to(logits.device)


def _check_length(max_new_tokens: int) -> None:
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, Integral) \
            or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an integer >= 0; got {max_new_tokens!r}")


@torch.no_grad()
def generate_causal(
    model: nn.Module,
    vocab: Vocab,
    prompt_tokens: Sequence[str],
    max_new_tokens: int = 30,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = 0,
    *,
    use_cache: bool = True,
) -> list[str]:
    """Continue ``prompt_tokens`` with a causal Transformer that reads the whole prefix. Chapter 4.

    ``use_cache=True`` keeps every layer's keys and values (``model.extend``) and
    computes one new position per token; ``use_cache=False`` runs the network
    over the whole text again for every token. Both give the same tokens for
    the same seed; the cache only saves the work. Prompt and new tokens
    together must fit in the model's ``max_len`` positions.
    """
    _check_length(max_new_tokens)
    _check_sampling(temperature, top_k)
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    prompt_ids = vocab.encode(prompt_tokens) or [vocab.eos_id]
    text = torch.tensor([prompt_ids], dtype=torch.long, device=device)  # (1, length so far)
    step, cache, new_ids = text, None, []
    with eval_mode(model):
        for _ in range(max_new_tokens):
            if use_cache:
                logits, cache = model.extend(step, cache)  # (1, new, vocab_size)
            else:
                logits, _ = model.extend(text)  # the whole text again
            next_id = sample_next(logits[0, -1], temperature, top_k, generator)  # ()
            new_ids.append(int(next_id))
            step = next_id.view(1, 1)
            text = torch.cat([text, step], dim=1)
    return vocab.decode(new_ids)


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
    _check_length(max_new_tokens)
    _check_sampling(temperature, top_k)  # before running the model, so a bad value fails fast
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    # An empty prompt starts the text as after a sentence end.
    prompt_ids = vocab.encode(prompt_tokens) or [vocab.eos_id]
    tokens = torch.tensor([prompt_ids], dtype=torch.long, device=device)  # (1, prompt_len)
    state = None
    new_ids: list[int] = []
    with eval_mode(model):
        for _ in range(max_new_tokens):
            logits, state = model(tokens, state)  # (1, seq_len, vocab_size)
            next_id = sample_next(logits[0, -1], temperature, top_k, generator)  # ()
            new_ids.append(int(next_id))
            tokens = next_id.view(1, 1)  # (1, 1): the state already holds the past
    return vocab.decode(new_ids)
