"""What the true language says about a text: its probability, its families, its grammar. Chapter 9.

The course's synthetic language gives the exact probability of any text, so
chapter 9 can score detectors against the best possible one, measure how much
watermarked text stops being grammatical, and compare sentence families whose
entropies are known exactly.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import lru_cache

import numpy as np
import torch

from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.grammar import FAMILIES
from utils.data.corpus.language import SyntheticLanguage
from utils.data.text import EOS, Vocab

__all__ = [
    "family_entropy_rates", "grammatical_share", "sample_true_texts", "token_families",
    "true_log_prob",
]


def true_log_prob(ids: torch.Tensor, vocab: Vocab, language: SyntheticLanguage) -> np.ndarray:
    """Exact log-probability (nats) of each text ``(n, T)`` under the true language.

    A text is read as sentences, each followed by ``<eos>`` and starting after
    one; the last sentence may be unfinished (its prefix probability counts).
    A text the language cannot produce gets ``-inf``. Chapter 9.
    """
    out = np.empty(len(ids))
    for row, text in enumerate(ids.tolist()):
        total, sentence = 0.0, []
        for token in vocab.decode(text):
            if token != vocab.itos[vocab.eos_id]:
                sentence.append(token)
                continue
            # <eos> follows "." with probability 1 and may come nowhere else.
            if not sentence or sentence[-1] != ".":
                total = -math.inf
                break
            total += language.log_prob(sentence)
            sentence = []
        if sentence and total > -math.inf:
            total += language.log_prob(sentence)
        out[row] = total
    return out


def sample_true_texts(language: SyntheticLanguage, vocab: Vocab, n_texts: int, n_tokens: int,
                      rng: np.random.Generator) -> torch.Tensor:
    """``n_texts`` stretches of ``n_tokens`` ids of true-language text, each after ``<eos>``.

    What the model saw in pretraining: sentences each followed by ``<eos>``,
    cut at ``n_tokens``. Chapter 9.
    """
    texts = []
    for _ in range(n_texts):
        ids: list[int] = []
        while len(ids) < n_tokens:
            ids += vocab.encode(language.sample_sentence(rng)) + [vocab.eos_id]
        texts.append(ids[:n_tokens])
    return torch.tensor(texts, dtype=torch.long)  # (n_texts, n_tokens)


@lru_cache(maxsize=4)
def _family_languages(config: CorpusConfig) -> dict[str, SyntheticLanguage]:
    """Each family alone, as its own language (the other families' weights set to 0)."""
    return {f: SyntheticLanguage(replace(config, **{f"{g}_weight": float(g == f)
                                                    for g in FAMILIES}))
            for f in FAMILIES}


def family_entropy_rates(config: CorpusConfig) -> dict[str, float]:
    """Exact entropy per token (nats, ``<eos>`` counted) of each family alone. Chapter 9."""
    return {f: lang.entropy_rate(eos=True) for f, lang in _family_languages(config).items()}


def token_families(ids: torch.Tensor, vocab: Vocab, config: CorpusConfig) -> list[list[str | None]]:
    """The sentence family of each token of each text ``(n, T)``, or None. Chapter 9.

    A complete sentence belongs to the family whose language can produce it
    (the families start differently, so at most one can); its ``<eos>`` goes
    with it. Tokens of unfinished or impossible sentences get None.
    """
    languages = _family_languages(config)
    out = []
    for text in ids.tolist():
        labels: list[str | None] = [None] * len(text)
        start, tokens = 0, vocab.decode(text)
        for i, token in enumerate(tokens):
            if token != EOS:
                continue
            sentence = tokens[start:i]
            family = next((f for f, lang in languages.items()
                           if sentence and sentence[-1] == "."
                           and lang.log_prob(sentence) > -math.inf), None)
            labels[start: i + 1] = [family] * (i + 1 - start)
            start = i + 1
        out.append(labels)
    return out


def grammatical_share(ids: torch.Tensor, vocab: Vocab, config: CorpusConfig) -> float:
    """Share of the complete sentences in ``ids`` ``(n, T)`` that the true language can produce.

    A sentence is complete when an ``<eos>`` follows it; the unfinished tail of
    each text is not counted. Chapter 9.
    """
    good = total = 0
    for labels, text in zip(token_families(ids, vocab, config), ids.tolist(), strict=True):
        ends = [i for i, t in enumerate(text) if t == vocab.eos_id]
        total += len(ends)
        good += sum(labels[i] is not None for i in ends)
    if total == 0:
        raise ValueError("no complete sentence (none is followed by <eos>)")
    return good / total
