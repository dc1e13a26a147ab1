"""Long-range subject-verb agreement: does a model prefer "is" or "are" after a distractor?

Explained in chapter 4. Each ``utils.data.corpus.AgreementItem`` is a sentence
start such as "the keys near the old barn", whose verb must agree with the
subject (the second word), not with the nearer distractor noun. A model gets
an item right when it gives the correct verb form a higher probability than
the wrong one. Every item puts the subject at least four words before the
verb, outside a 4-gram's window, so an n-gram can only guess there; an LSTM
can carry the subject's number in its state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from utils.data.corpus import AgreementItem
from utils.data.text import EOS, Vocab
from utils.runtime.scoped import eval_mode

__all__ = ["accuracy_by_distance", "agreement_accuracy", "lstm_verb_margins",
           "ngram_verb_margins"]


@torch.no_grad()
def lstm_verb_margins(model: nn.Module, vocab: Vocab,
                      items: Sequence[AgreementItem]) -> np.ndarray:
    """log P(correct verb) - log P(wrong verb) after each item's prefix, under a neural LM.

    Explained in chapter 4. Each prefix is read after ``<eos>``, as at the
    start of a sentence in the training stream. Prefixes of equal length run
    as one batch.
    """
    if not items:
        raise ValueError("no agreement items to score")
    device = next(model.parameters()).device
    margins = np.zeros(len(items))
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        by_length[len(item.prefix)].append(i)
    with eval_mode(model):
        for indices in by_length.values():
            ids = [vocab.encode([EOS, *items[i].prefix]) for i in indices]
            tokens = torch.tensor(ids, dtype=torch.long, device=device)  # (batch, 1 + prefix)
            logits, _ = model(tokens)  # (batch, 1 + prefix_len, vocab_size)
            log_probs = torch.log_softmax(logits[:, -1].double(), dim=-1)  # (batch, vocab)
            correct = torch.tensor([vocab.stoi[items[i].correct] for i in indices],
                                   device=device)
            wrong = torch.tensor([vocab.stoi[items[i].wrong] for i in indices], device=device)
            rows = torch.arange(len(indices), device=device)
            margin = log_probs[rows, correct] - log_probs[rows, wrong]  # (batch,)
            margins[indices] = margin.cpu().numpy()
    return margins


def ngram_verb_margins(model, items: Sequence[AgreementItem]) -> np.ndarray:
    """log P(correct verb) - log P(wrong verb) under a ``utils.lm.ngram`` model. Chapter 4."""
    if not items:
        raise ValueError("no agreement items to score")
    margins = []
    for item in items:
        p_correct = model.prob(item.correct, list(item.prefix))
        p_wrong = model.prob(item.wrong, list(item.prefix))
        margins.append(np.log(p_correct) - np.log(p_wrong))
    return np.array(margins)


def agreement_accuracy(margins: Sequence[float] | np.ndarray) -> float:
    """Share of items where the correct form is more likely; a tie counts as half. Chapter 4."""
    margins = np.asarray(margins, dtype=float)
    if margins.size == 0:
        raise ValueError("agreement_accuracy needs at least one item")
    return float(np.mean((margins > 0) + 0.5 * (margins == 0)))


def accuracy_by_distance(items: Sequence[AgreementItem],
                         margins: Sequence[float] | np.ndarray) -> dict[int, tuple[float, int]]:
    """``{distance: (accuracy, number of items)}``, distances in increasing order. Chapter 4."""
    margins = np.asarray(margins, dtype=float)
    if len(margins) != len(items):
        raise ValueError(f"got {len(margins)} margins for {len(items)} items")
    groups: dict[int, list[float]] = defaultdict(list)
    for item, margin in zip(items, margins, strict=True):
        groups[item.distance].append(margin)
    return {d: (agreement_accuracy(groups[d]), len(groups[d])) for d in sorted(groups)}
