"""Each sentence's loss under a language model, scored alone. Used in chapters 8 and 9.

Membership inference (chapter 8) compares the losses of sentences that were in
the training set with those of sentences that were not; the model card
(chapter 9) reports perplexity per sentence family. Both need the same number:
a sentence's total next-token loss, read after ``<eos>`` as in pretraining.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.data.text import Vocab
from utils.lm.scoped import eval_mode

__all__ = ["sentence_losses"]


@torch.no_grad()
def sentence_losses(model: nn.Module, sentences: Sequence[Sequence[str]], vocab: Vocab,
                    batch_size: int = 256) -> np.ndarray:
    """Each sentence's total next-token loss in nats, read after ``<eos>``. Chapters 8 and 9.

    The sentence is scored word by word and then its closing ``<eos>``, as in
    training, so ``exp(sum / tokens)`` is chapter 4's perplexity with the
    separators counted. Dropout is off; the model's mode is restored.
    Returns ``(len(sentences),)``.
    """
    if not sentences:
        raise ValueError("no sentences to score")
    device = next(model.parameters()).device
    out = []
    with eval_mode(model):
        for start in range(0, len(sentences), batch_size):
            chunk = [[vocab.eos_id, *vocab.encode(s), vocab.eos_id]
                     for s in sentences[start:start + batch_size]]
            width = max(len(ids) for ids in chunk)
            ids = torch.full((len(chunk), width), vocab.eos_id, dtype=torch.long)
            targets = torch.full((len(chunk), width - 1), -100, dtype=torch.long)  # -100: unscored
            for row, seq in enumerate(chunk):
                ids[row, :len(seq)] = torch.tensor(seq)
                targets[row, :len(seq) - 1] = torch.tensor(seq[1:])
            logits, _ = model(ids[:, :-1].to(device))  # (batch, width - 1, vocab_size)
            nll = F.cross_entropy(logits.transpose(1, 2), targets.to(device), reduction="none")
            out.append(nll.sum(dim=1).double().cpu())  # (batch,); padding scores 0
    return torch.cat(out).numpy()
