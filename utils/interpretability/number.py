"""Where the language model keeps the subject's number: probes by position, units, ablation.

Explained in chapter 7. The agreement items of chapter 4 ("the keys near the
old barn ...") need the subject's number carried from the second word to the
verb. This module reads the LSTM's states on those items, probes them for the
number at each position (with a control task), ranks units by how well they
track the number, and measures agreement accuracy with units ablated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from utils.data.corpus import AgreementItem
from utils.data.text import EOS, Vocab
from utils.evaluate.agreement import agreement_accuracy, lstm_verb_margins
from utils.interpretability.ablation import ablate_units, lstm_states, unit_correlations
from utils.interpretability.probes import ProbeResult, probe_with_control
from utils.runtime.scoped import eval_mode

__all__ = ["SUBJECT_INDEX", "ablation_curve", "agreement_states", "number_labels",
           "probe_by_position", "rank_units", "states_at"]

SUBJECT_INDEX = 2  # in "<eos> the keys ...", the subject is the third token


def number_labels(items: Sequence[AgreementItem]) -> np.ndarray:
    """1 where the subject is plural (the right verb is "are"), else 0. Chapter 7."""
    return np.array([int(item.correct == "are") for item in items])


@torch.no_grad()
def agreement_states(model: nn.Module, vocab: Vocab, items: Sequence[AgreementItem]
                     ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per item, the top layer's ``(h, c)``, each ``(1 + len(prefix), hidden_size)``. Chapter 7.

    ``model`` is a ``LSTMLanguageModel``; each prefix is read after ``<eos>``.
    """
    out: list = [None] * len(items)
    by_length: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        by_length.setdefault(len(item.prefix), []).append(i)
    for indices in by_length.values():
        tokens = torch.tensor([vocab.encode([EOS, *items[i].prefix]) for i in indices],
                              device=model.embedding.weight.device)
        with eval_mode(model):  # no dropout; the model's own mode comes back afterwards
            h, c = lstm_states(model.lstm, model.embedding(tokens))  # (batch, seq, hidden)
        for row, i in enumerate(indices):
            out[i] = (h[row].cpu().numpy(), c[row].cpu().numpy())
    return out


def states_at(states: list[tuple[np.ndarray, np.ndarray]], position: int | str,
              which: str = "h") -> np.ndarray:
    """Each item's state at ``position`` ``(n_items, hidden_size)``. Chapter 7.

    ``position`` counts tokens after the subject (0 is the subject itself,
    -1 the "the" before it), or is ``"verb"``: the last prefix token, where the
    model predicts the verb.
    """
    k = 0 if which == "h" else 1
    if position == "verb":
        return np.stack([s[k][-1] for s in states])
    return np.stack([s[k][SUBJECT_INDEX + int(position)] for s in states])


def probe_by_position(states, items: Sequence[AgreementItem], positions: Sequence[int | str],
                      *, c: float = 1.0, seed: int = 0) -> dict[int | str, ProbeResult]:
    """A number probe and its control task (keyed on the subject noun) at each position."""
    labels = number_labels(items)
    subjects = [item.prefix[1] for item in items]
    return {p: probe_with_control(states_at(states, p), labels, subjects, c=c, seed=seed)
            for p in positions}


def rank_units(states, items: Sequence[AgreementItem], *, which: str = "c"
               ) -> tuple[np.ndarray, np.ndarray]:
    """Units ordered by |correlation| with the subject's number where the verb is predicted.

    Explained in chapter 7. Returns ``(order, correlations)``; ``order[0]`` is the
    unit whose ``which`` state ("c" or "h") tracks the number best.
    """
    corr = unit_correlations(states_at(states, "verb", which), number_labels(items))
    return np.argsort(-np.abs(corr), kind="stable"), corr


def ablation_curve(model: nn.Module, vocab: Vocab, items: Sequence[AgreementItem],
                   order: Sequence[int], counts: Sequence[int], *, n_random: int = 5,
                   seed: int = 0) -> dict[str, np.ndarray]:
    """Agreement accuracy with the top-``k`` units ablated, and with ``k`` random units.

    Explained in chapter 7. Returns ``{"counts", "top" (len(counts),),
    "random" (n_random, len(counts))}``; random sets are drawn with ``seed``.
    """
    rng = np.random.default_rng([seed, 9])
    hidden = model.lstm.hidden_size
    top = np.zeros(len(counts))
    random = np.zeros((n_random, len(counts)))
    for j, k in enumerate(counts):
        with ablate_units(model, list(order[:k])):
            top[j] = agreement_accuracy(lstm_verb_margins(model, vocab, items))
        for r in range(n_random):
            units = rng.choice(hidden, size=k, replace=False)
            with ablate_units(model, list(units)):
                random[r, j] = agreement_accuracy(lstm_verb_margins(model, vocab, items))
    return {"counts": np.asarray(counts), "top": top, "random": random}
