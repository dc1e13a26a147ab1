"""Each sentence's loss under a language model, scored alone, and the perplexity from it.

Used in chapters 8 and 9. Membership inference (chapter 8) compares the losses
of sentences that were in the training set with those of sentences that were
not; the model card (chapter 9) reports perplexity per sentence family. Both
need the same number: a sentence's total next-token loss, read after ``<eos>``
as in pretraining, its closing ``<eos>`` scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.data.padding import PAD, encode_with_targets
from utils.data.text import Vocab
from utils.runtime.scoped import eval_mode

__all__ = ["perplexity", "scored_tokens", "sentence_losses"]


@torch.no_grad()
def sentence_losses(model: nn.Module, sentences: Sequence[Sequence[str]], vocab: Vocab,
                    batch_size: int = 256) -> np.ndarray:
    """Each sentence's total next-token loss in nats, read after ``<eos>``. Chapters 8 and 9.

    The sentence is scored word by word and then its closing ``<eos>``, as in
    training (``encode_with_targets``). Dropout is off; the model's mode is
    restored. Returns ``(len(sentences),)``.
    """
    if not sentences:
        raise ValueError("no sentences to score")
    device = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for start in range(0, len(sentences), batch_size):
            inputs, targets = encode_with_targets(sentences[start:start + batch_size], vocab)
            logits, _ = model(inputs.to(device))  # (batch, width, vocab_size)
            nll = F.cross_entropy(logits.transpose(1, 2), targets.to(device),
                                  ignore_index=PAD, reduction="none")
            out.append(nll.sum(dim=1).double().cpu())  # (batch,); padding scores 0
    return torch.cat(out).numpy()


def scored_tokens(sentences: Sequence[Sequence[str]]) -> int:
    """How many tokens ``sentence_losses`` scores: every word and each closing ``<eos>``."""
    return sum(len(s) + 1 for s in sentences)


def perplexity(model: nn.Module, sentences: Sequence[Sequence[str]], vocab: Vocab) -> float:
    """exp(mean loss per scored token) over ``sentences``, each scored alone. Chapters 8, 9.

    Chapter 4's perplexity, for sentences read one at a time after ``<eos>``
    rather than as one stream: the closing ``<eos>`` of each counts as a token.
    """
    return math.exp(float(sentence_losses(model, sentences, vocab).sum())
                    / scored_tokens(sentences))
