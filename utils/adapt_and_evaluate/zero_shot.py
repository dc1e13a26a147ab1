"""Zero-shot classification with a pretrained language model: no labels at all. Chapter 5.

A foundation model can be used without adapting it (chapter 2's prompting):
write the start of a continuation that the pretraining text makes depend on
the label, and compare the model's probabilities of the words that would
follow for each label (a *verbaliser*; Schick & Schütze, 2021). In the
course's language a review "the film was superb" goes on "and i smiled" or
"and i sighed", so the review followed by the prompt "and i" is scored by

    margin = log Σ_{r positive} P(r | review, and, i) - log Σ_{r negative} P(r | review, and, i)

and called positive when the margin is above zero. A next-word model (LSTM,
GPT-like) reads the prompt left to right and predicts the word after it; the
masked-word model (BERT-like) gets "review and i <mask> ." and predicts the
hidden word. No labelled review is used, so the point sits at 0 labels on
chapter 5's learning curve.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
import torch

from utils.adapt_and_evaluate.experiment import DEFAULT_LABEL_NOISE, DEFAULT_TEST_OVERLAP
from utils.data.corpus import sentiment_task
from utils.data.corpus.grammar import REACTIONS
from utils.data.text import EOS, Vocab
from utils.runtime import Run, eval_mode

__all__ = ["PROMPT", "zero_shot_experiment", "zero_shot_margins"]

PROMPT = ("and", "i")


def _review_prefix(sentence: Sequence[str]) -> list[str]:
    """The review without its closing full stop, then the prompt."""
    words = list(sentence[:-1]) if sentence and sentence[-1] == "." else list(sentence)
    return [EOS, *words, *PROMPT]


@torch.no_grad()
def zero_shot_margins(model: torch.nn.Module, vocab: Vocab, sentences: Sequence[Sequence[str]],
                      *, mask_id: int | None = None) -> np.ndarray:
    """The verbaliser margin of each review, ``(n,)``; positive means "positive". Chapter 5.

    ``mask_id`` given: the model is a masked-word model, scored at a ``<mask>``
    after the prompt; otherwise a next-word model, scored after the prompt.
    Reviews of one length are scored as one batch.
    """
    if not sentences:
        raise ValueError("no sentences to score")
    device = next(model.parameters()).device
    positive = torch.tensor(vocab.encode(list(REACTIONS[1])), device=device)
    negative = torch.tensor(vocab.encode(list(REACTIONS[0])), device=device)
    margins = np.zeros(len(sentences))
    by_length: dict[int, list[int]] = {}
    for i, sentence in enumerate(sentences):
        by_length.setdefault(len(_review_prefix(sentence)), []).append(i)
    with eval_mode(model):
        for indices in by_length.values():
            ids = torch.tensor([vocab.encode(_review_prefix(sentences[i])) for i in indices],
                               device=device)  # (batch, length)
            if mask_id is None:
                logits = model(ids)[0][:, -1]  # (batch, vocab): the word after the prompt
            else:
                tail = torch.tensor([mask_id, vocab.stoi["."]], device=device)
                ids = torch.cat([ids, tail.expand(len(ids), 2)], dim=1)
                logits = model.decoder(model.features(ids))[:, -2]  # at the <mask>
            log_probs = torch.log_softmax(logits.double(), dim=-1)
            margin = (torch.logsumexp(log_probs[:, positive], dim=-1)
                      - torch.logsumexp(log_probs[:, negative], dim=-1))  # (batch,)
            margins[indices] = margin.cpu().numpy()
    return margins


def _mask_id(pretrained: Run) -> int | None:
    """``<mask>``'s id for a masked-word model (one past the vocabulary), else None."""
    causal = getattr(pretrained.model.config, "causal", True)  # an LSTM has no such field
    return None if causal else len(pretrained.vocab)


def zero_shot_experiment(pretrained: Run, seeds: Sequence[int] = (0, 1, 2), *,
                         n_test: int = 500, max_budget: int = 64,
                         label_noise: float = DEFAULT_LABEL_NOISE,
                         test_overlap: float = DEFAULT_TEST_OVERLAP) -> pd.DataFrame:
    """Zero-shot test accuracy on the test reviews of ``label_budget_experiment``. Chapter 5.

    ``max_budget`` is the largest budget of the curve it joins: the labelled
    draw comes first in the task's random stream, so drawing it again gives the
    same test reviews; no label is looked at. One row per seed: ``mode``
    ("zero-shot"), ``seed``, ``budget`` (0), ``accuracy`` and ``confidence``
    (the mean of sigmoid(|margin|), the verbaliser's probability of its answer
    between the two label words' sets).
    """
    rows = []
    for seed in seeds:
        corpus = replace(pretrained.config.corpus, seed=seed, label_noise=label_noise)
        _, test = sentiment_task(corpus, n_train=max_budget, n_test=n_test,
                                 test_overlap=test_overlap)
        margins = zero_shot_margins(pretrained.model, pretrained.vocab, test.texts,
                                    mask_id=_mask_id(pretrained))
        labels = test.labels.numpy()
        rows.append({"mode": "zero-shot", "seed": seed, "budget": 0,
                     "accuracy": float(((margins > 0) == (labels == 1)).mean()),
                     "confidence": float((1 / (1 + np.exp(-np.abs(margins)))).mean())})
    return pd.DataFrame(rows)
