"""Fine-tuning through a prompt: read a review where pretraining needed its polarity. Chapter 5.

Chapter 5's head reads one pooled state. Which state holds a review's polarity
depends on what the model had to predict there: the LSTM carries it to the
end of the review, but a Transformer looks back only where the next word
needs it, which in the course's language is after "and i" (a reaction such
as "smiled" or "sighed" follows). Appending that prompt and pooling its last
position gives every architecture the state its pretraining shaped
(prompt-based fine-tuning: Schick & Schütze, 2021; Gao et al., 2021): a
next-word model reads "review and i", a masked-word model "review and i
<mask>" and is pooled at the ``<mask>``.

``prompted_budget_experiment`` is ``label_budget_experiment`` with that input:
the same draws, budgets and seeds, one row per run with the ``AdaptConfig``'s
fields as columns plus ``budget``, ``accuracy``, ``confidence``, ``train_s``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, replace

import pandas as pd
import torch

from utils.adapt_and_evaluate.classifier import (
    AdaptConfig,
    encode_sentences,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.adapt_and_evaluate.experiment import DEFAULT_LABEL_NOISE, DEFAULT_TEST_OVERLAP
from utils.adapt_and_evaluate.zero_shot import PROMPT
from utils.data.corpus import sentiment_task
from utils.lm.pretrained import Pretrained

__all__ = ["encode_prompted", "prompted_budget_experiment"]


def encode_prompted(sentences: Sequence[Sequence[str]], pretrained: Pretrained
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``(n, max_len)`` and lengths of "<eos> review and i [<mask>]". Chapter 5.

    The review's closing full stop is dropped; ``<mask>`` (one past the
    vocabulary) is appended for a masked-word model, so the last real token is
    the position whose prediction is the reaction.
    """
    texts = [[*(s[:-1] if s and s[-1] == "." else s), *PROMPT] for s in sentences]
    tokens, lengths = encode_sentences(texts, pretrained.vocab)
    if getattr(pretrained.model.config, "causal", True):
        return tokens, lengths
    padded = torch.cat([tokens, torch.full((len(tokens), 1), pretrained.vocab.eos_id)], dim=1)
    padded[torch.arange(len(tokens)), lengths] = len(pretrained.vocab)  # <mask>
    return padded, lengths + 1


def prompted_budget_experiment(budgets: Sequence[int], seeds: Sequence[int] = (0, 1, 2), *,
                               config: AdaptConfig | None = None,
                               pretrained: Pretrained, n_test: int = 500,
                               label_noise: float = DEFAULT_LABEL_NOISE,
                               test_overlap: float = DEFAULT_TEST_OVERLAP) -> pd.DataFrame:
    """Test accuracy of prompt-pooled fine-tuning per budget and seed. Chapter 5.

    Reviews are drawn as in ``label_budget_experiment`` (nested budgets, one test
    set per seed); the classifier pools the prompt's last position (``pooling``
    is set to "last").
    """
    config = replace(config or AdaptConfig(), pooling="last")
    if not budgets or not seeds:
        raise ValueError("prompted_budget_experiment needs at least one budget and one seed")
    rows = []
    for seed in seeds:
        train, test = sentiment_task(pretrained.config.corpus, n_train=max(budgets),
                                     n_test=n_test, seed=seed, test_overlap=test_overlap,
                                     label_noise=label_noise)
        tokens, lengths = encode_prompted([s for s, _ in train], pretrained)
        labels = torch.tensor([y for _, y in train])
        test_tokens, test_lengths = encode_prompted([s for s, _ in test], pretrained)
        test_labels = torch.tensor([y for _, y in test])
        for budget in budgets:
            run = replace(config, seed=seed)
            start = time.perf_counter()
            model = make_classifier(run.mode, pretrained, pooling="last", seed=seed)
            train_classifier(model, tokens[:budget], lengths[:budget], labels[:budget], run)
            seconds = time.perf_counter() - start
            confidence, predicted = predict_proba(model, test_tokens, test_lengths).max(-1)
            rows.append({**asdict(run), "budget": budget,
                         "accuracy": float((predicted == test_labels).double().mean()),
                         "confidence": float(confidence.double().mean()), "train_s": seconds})
    return pd.DataFrame(rows)
