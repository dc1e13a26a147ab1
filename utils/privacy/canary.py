"""Plant a canary, train on it, and score every possible secret exactly. Used in chapter 8.

The corpus's canary is "the code is d d d d d ." with five digits, so there
are 10^5 candidate secrets. Scoring them one by one would run the model 10^5
times; instead the candidates are scored as a tree: the state after "the code
is" is computed once, then each digit level expands every state ten ways, so
the whole space costs about 111,111 single LSTM steps, run in large batches.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from utils.data.corpus import CANARY_DIGITS, CANARY_PREFIX, DIGITS, CorpusConfig
from utils.data.text import Vocab
from utils.privacy.exposure import exposure

__all__ = ["canary_log2_probs", "canary_exposure", "dedupe_sentences", "with_canary"]


def with_canary(config: CorpusConfig, insertions: int, canary: str = "48152") -> CorpusConfig:
    """``config`` with ``canary`` planted ``insertions`` times (0: the never-inserted control).

    Used in chapter 8. With 0 insertions the canary is still named, so the corpus
    generator removes any naturally drawn copy: the model never sees it.
    """
    return dataclasses.replace(config, canary=canary, canary_insertions=insertions)


def dedupe_sentences(sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """Keep the first copy of every sentence, in order: exact deduplication. Chapter 8."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for sentence in sentences:
        key = tuple(sentence)
        if key not in seen:
            seen.add(key)
            out.append(list(sentence))
    return out


def _step(model: nn.Module, tokens: torch.Tensor, state, columns: torch.Tensor):
    """Natural-log probabilities of the words ``columns`` after ``tokens`` (n, 1), and the state.

    Only the needed columns are normalised and kept: the full (n, vocab_size)
    log-softmax of 10^5 candidates would be most of the cost.
    """
    logits, state = model(tokens, state)  # (n, 1, vocab_size)
    logits = logits[:, -1]  # (n, vocab_size)
    log_z = torch.logsumexp(logits, dim=-1, keepdim=True)  # (n, 1)
    return (logits[:, columns] - log_z).double(), state  # (n, len(columns))


@torch.no_grad()
def canary_log2_probs(model: nn.Module, vocab: Vocab, *, chunk: int = 20_000,
                      with_period: bool = False) -> np.ndarray:
    """log2 P(d1 .. d5 | "<eos> the code is") for all 10^5 codes, in order "00000".."99999".

    Used in chapter 8. Exact: every candidate is scored, none sampled. The
    sentence is read after an ``<eos>``, as in training text. The shared prefix
    adds the same amount to every candidate, so it cannot change a rank.
    ``with_period=True`` also scores the closing "." (ten times the work, as it
    needs the state after all 10^5 codes). The model's training mode is restored.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    digit_ids = torch.tensor(vocab.encode(DIGITS), device=device)  # (10,)
    period = torch.tensor(vocab.encode(["."]), device=device)  # (1,)
    prefix = torch.tensor([[vocab.eos_id, *vocab.encode(CANARY_PREFIX)]], device=device)
    log_p, state = _step(model, prefix, None, digit_ids)  # (1, 10)
    total = torch.zeros(1, dtype=torch.float64, device=device)  # (1,)
    for level in range(CANARY_DIGITS):
        # Every current prefix extended by each of the ten digits, index = prefix*10 + digit.
        total = (total[:, None] + log_p).reshape(-1)  # (10^(level+1),)
        last = level == CANARY_DIGITS - 1
        if last and not with_period:
            break
        tokens = digit_ids.repeat(len(log_p))[:, None]  # (10^(level+1), 1)
        parents = torch.arange(len(log_p), device=device).repeat_interleave(len(digit_ids))
        outs, states_h, states_c = [], [], []
        for start in range(0, len(tokens), chunk):
            rows = parents[start:start + chunk]
            sub = (state[0][:, rows], state[1][:, rows])  # (layers, rows, hidden) each
            out, (h, c) = _step(model, tokens[start:start + chunk], sub,
                                period if last else digit_ids)
            outs.append(out)
            states_h.append(h)
            states_c.append(c)
        log_p = torch.cat(outs)  # (10^(level+1), 10), or (10^5, 1) for the final "."
        state = (torch.cat(states_h, dim=1), torch.cat(states_c, dim=1))
    if with_period:
        total = total + log_p[:, 0]
    model.train(was_training)
    return (total / math.log(2)).cpu().numpy()  # (10^5,) in bits


def canary_exposure(model: nn.Module, vocab: Vocab, canary: str = "48152") -> float:
    """Exposure (bits) of ``canary`` under ``model``, ranking all 10^5 codes. Chapter 8."""
    return exposure(canary_log2_probs(model, vocab), int(canary))
