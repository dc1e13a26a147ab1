"""Answering: greedy or sampled answers to a batch of prompts, read in lockstep. Chapter 5.

Prompts are left-padded with ``<eos>`` (``utils.assistant.chat``), so every
row reaches ``<assistant>`` at the same column and one LSTM step extends all
answers at once. An answer stops at ``<end>`` (or ``<eos>``) or after ``max_new`` tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from utils.assistant.chat import END, prompt_ids
from utils.data.text import Vocab
from utils.runtime import eval_mode

__all__ = ["answer", "generate_ids"]


@torch.no_grad()
def generate_ids(model: nn.Module, prompts: Sequence[Sequence[int]], vocab: Vocab, *,
                 max_new: int = 10, temperature: float = 0.0,
                 generator: torch.Generator | None = None,
                 stop_at_eos: bool = True) -> list[list[int]]:
    """Answer ids for each prompt; greedy when ``temperature`` is 0.

    An answer stops at ``<end>``, or (``stop_at_eos``) at ``<eos>``, the end of
    text a base model learned in pretraining; neither is part of the answer.
    Reinforcement learning turns ``stop_at_eos`` off, so that every answer it
    trains on is exactly what was sampled, closed by a sampled ``<end>``.
    """
    stops = torch.tensor([vocab.stoi[END]] + [vocab.eos_id] * stop_at_eos)
    width = max(map(len, prompts))
    device = next(model.parameters()).device
    rows = torch.tensor([[vocab.eos_id] * (width - len(p)) + list(p) for p in prompts],
                        device=device)  # (batch, width)
    answers: list[list[int]] = [[] for _ in prompts]
    done = torch.zeros(len(prompts), dtype=torch.bool, device=device)
    with eval_mode(model):
        logits, state = model(rows)  # (batch, width, vocab_size)
        logits = logits[:, -1]
        for _ in range(max_new):
            if temperature == 0:
                nxt = logits.argmax(-1)  # (batch,)
            else:
                probs = torch.softmax(logits.double() / temperature, -1)
                nxt = torch.multinomial(probs, 1, generator=generator)[:, 0]
            stop = torch.isin(nxt, stops.to(device))
            for i in torch.nonzero(~done & ~stop).flatten().tolist():
                answers[i].append(int(nxt[i]))
            done |= stop
            if bool(done.all()):
                break
            logits, state = model(nxt[:, None], state)
            logits = logits[:, -1]
    return answers


def answer(model: nn.Module, prompts: Sequence[Sequence[str]], vocab: Vocab, *,
           max_new: int = 10, temperature: float = 0.0,
           generator: torch.Generator | None = None, batch_size: int = 256
           ) -> list[list[str]]:
    """The model's answers, as words, to prompts given as words (chat format added here)."""
    out: list[list[str]] = []
    for start in range(0, len(prompts), batch_size):
        ids = [prompt_ids(p, vocab) for p in prompts[start:start + batch_size]]
        for a in generate_ids(model, ids, vocab, max_new=max_new, temperature=temperature,
                              generator=generator):
            out.append(vocab.decode(a))
    return out
