"""Sentences of different lengths as one padded tensor, in the two shapes the course needs.

Used in chapters 5-9. Both read a sentence after ``<eos>``, as the language
model saw every sentence start in pretraining, and pad with ``<eos>``:

- ``encode_with_lengths`` -> ``(tokens, lengths)``: what a classifier reads
  (chapters 5, 7, 9); it pools the state at ``lengths - 1``;
- ``encode_with_targets`` -> ``(inputs, targets)``: what a language model is
  trained and scored on, one sentence a row (chapters 8, 9); ``targets`` are
  the inputs shifted by one, ending with the sentence's closing ``<eos>``, and
  ``PAD`` past the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from utils.data.text import Vocab

__all__ = ["PAD", "encode_with_lengths", "encode_with_targets"]

PAD = -100  # a target id the loss ignores (the default ignore_index of F.cross_entropy)


def encode_with_lengths(sentences: Iterable[Sequence[str]], vocab: Vocab
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(n, max_len)`` and lengths ``(n,)`` of sentences, each after ``<eos>``.

    Explained in chapter 5. Shorter sentences are padded at the end with
    ``<eos>``, which a left-to-right LSTM only reads after the positions that
    are pooled; ``lengths`` counts the leading ``<eos>``.
    """
    ids = [[vocab.eos_id, *vocab.encode(s)] for s in sentences]
    if not ids:
        raise ValueError("no sentences to encode")
    lengths = torch.tensor([len(x) for x in ids])
    tokens = torch.full((len(ids), int(lengths.max())), vocab.eos_id, dtype=torch.long)
    for i, x in enumerate(ids):
        tokens[i, : len(x)] = torch.tensor(x)
    return tokens, lengths  # (n, max_len), (n,)


def encode_with_targets(sentences: Iterable[Sequence[str]], vocab: Vocab
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets), each ``(n, width)``: "<eos> w1 .. wk" predicts "w1 .. wk <eos>".

    Explained in chapter 8. Targets past a sentence's end are ``PAD``, which
    the loss ignores, so a row's summed loss is its sentence's alone.
    """
    seqs = [[vocab.eos_id, *vocab.encode(s), vocab.eos_id] for s in sentences]
    if not seqs:
        raise ValueError("no sentences to encode")
    width = max(len(s) for s in seqs) - 1
    inputs = torch.full((len(seqs), width), vocab.eos_id, dtype=torch.long)
    targets = torch.full((len(seqs), width), PAD, dtype=torch.long)
    for row, seq in enumerate(seqs):
        inputs[row, :len(seq) - 1] = torch.tensor(seq[:-1])
        targets[row, :len(seq) - 1] = torch.tensor(seq[1:])
    return inputs, targets  # (n, width) each
