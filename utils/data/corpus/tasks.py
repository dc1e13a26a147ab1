"""Task data drawn from single sentence families: agreement, sentiment, gender swaps, canaries.

Used in chapters 4-9.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.grammar import (
    CANARY_DIGITS,
    CANARY_PREFIX,
    FAMILIES,
    GENDER_SWAPS,
    SENTIMENT_CLUSTERS,
)
from utils.data.corpus.language import SyntheticLanguage
from utils.data.padding import encode_with_lengths
from utils.data.text import Vocab

__all__ = [
    "AgreementItem", "LabelledSentences", "agreement_items", "canary_candidates", "canary_sentence",
    "sentiment_split", "sentiment_task", "shared_test_words", "swap_gender",
]


# ---------------------------------------------------------------- chapter 4: agreement
@dataclass(frozen=True)
class AgreementItem:
    """A subject-verb agreement test: which verb form does a model prefer after ``prefix``?

    ``distance`` is the number of tokens from the subject to the verb;
    ``attractor_mismatch`` says whether the noun just before the verb has the
    other number than the subject (the case that fools a short window).
    """

    prefix: tuple[str, ...]
    correct: str
    wrong: str
    distance: int
    attractor_mismatch: bool


def _only(config: CorpusConfig, family: str) -> SyntheticLanguage:
    weights = {f"{f}_weight": float(f == family) for f in FAMILIES}
    return SyntheticLanguage(replace(config, **weights))


def agreement_items(config: CorpusConfig | None = None, n: int = 1000) -> list[AgreementItem]:
    """Draw ``n`` agreement items from the agreement family. Used in chapter 4.

    The subject is always the second token; the verb ("is"/"are") is at least
    four tokens later, outside a 4-gram's window. Drawn from ``config.seed``
    on a random stream of its own, separate from the corpus's.
    """
    config = config if config is not None else CorpusConfig()
    lang = _only(config, "agreement")
    rng = np.random.default_rng([config.seed, 4])
    items = []
    for _ in range(n):
        sentence = lang.sample_sentence(rng)
        v = next(i for i, w in enumerate(sentence) if w in ("is", "are"))
        correct = sentence[v]
        plural_subject = correct == "are"
        plural_attractor = sentence[v - 1].endswith("s")
        items.append(AgreementItem(
            prefix=tuple(sentence[:v]),
            correct=correct,
            wrong="is" if plural_subject else "are",
            distance=v - 1,
            attractor_mismatch=plural_attractor != plural_subject,
        ))
    return items


# ---------------------------------------------------------------- chapter 5: sentiment
def sentiment_split() -> tuple[frozenset[str], frozenset[str]]:
    """Sentiment words for the labelled train split and for the test split. Used in chapter 5.

    Within each cluster of ``SENTIMENT_CLUSTERS`` the words at even positions
    (1st, 3rd, 5th) go to train and those at odd positions to test, so every
    cluster is represented on both sides by different words.
    """
    train = {w for _, _, words in SENTIMENT_CLUSTERS for w in words[0::2]}
    test = {w for _, _, words in SENTIMENT_CLUSTERS for w in words[1::2]}
    return frozenset(train), frozenset(test)


def shared_test_words(overlap: float) -> frozenset[str]:
    """The test words that labelled training reviews may use too, at ``overlap``. Chapter 5.

    ``overlap`` is the share of the test words of ``sentiment_split()`` that
    also occur in labelled training data: ``round(overlap * n)`` of the ``n``
    test words, taken in a fixed order that visits every cluster before any
    cluster gets a second word, so the shared words are spread over the clusters.
    """
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"overlap must be in [0, 1]; got {overlap!r}")
    _, test = sentiment_split()
    ordered = [w for i in range(1, 6, 2) for _, _, words in SENTIMENT_CLUSTERS
               for w in words[i:i + 1] if w in test]  # cluster by cluster, round by round
    return frozenset(ordered[: round(overlap * len(ordered))])


@dataclass(frozen=True)
class LabelledSentences:
    """Labelled sentences, as words and as the padded token ids a classifier reads. Chapter 5.

    ``tokens`` ``(n, max_len)`` and ``lengths`` ``(n,)`` are
    ``utils.data.padding.encode_with_lengths`` of ``texts`` with the language's
    vocabulary; ``labels`` ``(n,)`` are 1 (positive) or 0. ``task[:b]`` is the
    first ``b`` examples, with the same padded width.
    """

    texts: list[list[str]]
    tokens: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, rows: slice) -> LabelledSentences:
        if not isinstance(rows, slice):
            raise TypeError("index LabelledSentences with a slice, e.g. task[:100]")
        return LabelledSentences(self.texts[rows], self.tokens[rows], self.lengths[rows],
                                 self.labels[rows])


def _labelled(pairs: list[tuple[list[str], int]], vocab: Vocab) -> LabelledSentences:
    texts = [s for s, _ in pairs]
    labels = torch.tensor([y for _, y in pairs], dtype=torch.long)
    if not texts:  # an empty split: no rows, width 1 (the leading <eos>)
        return LabelledSentences(texts, torch.empty(0, 1, dtype=torch.long),
                                 torch.empty(0, dtype=torch.long), labels)
    tokens, lengths = encode_with_lengths(texts, vocab)
    return LabelledSentences(texts, tokens, lengths, labels)


def sentiment_task(config: CorpusConfig | None = None, n_train: int = 200, n_test: int = 1000,
                   *, test_overlap: float = 0.0
                   ) -> tuple[LabelledSentences, LabelledSentences]:
    """A labelled review task: train and test ``LabelledSentences``, label 1 positive. Chapter 5.

    Sentences are reviews of the form "the film was [very] superb ." drawn from
    the language (conditioned on having no reaction after the sentiment word, so
    only the sentiment word tells the label). Test sentences use only the test
    words of ``sentiment_split()``. Train sentences use the train words and,
    with ``test_overlap`` > 0, that share of the test words too
    (``shared_test_words``); at the default 0 a test word never occurs in
    labelled training data. ``config.label_noise`` flips each training label
    with that probability; test labels stay clean. Drawn from ``config.seed``
    on a random stream of its own; the token ids use the language's vocabulary,
    the pretrained model's.
    """
    config = config if config is not None else CorpusConfig()
    noise = config.label_noise
    if not 0.0 <= noise <= 0.5:
        raise ValueError(f"label_noise must be in [0, 0.5]; got {noise!r}")
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"{name} must be an integer >= 0; got {n!r}")
    lang = _only(config, "review")
    polarity = {w: pol for _, pol, words in SENTIMENT_CLUSTERS for w in words}
    train_words, test_words = sentiment_split()
    train_words = train_words | shared_test_words(test_overlap)
    rng = np.random.default_rng([config.seed, 5])

    def draw(n: int, allowed: frozenset[str], noise: float) -> list[tuple[list[str], int]]:
        out = []
        while len(out) < n:
            sentence = lang.sample_sentence(rng)
            # Keep "the <item> was [intensifier] <word> ." only (rejection sampling).
            if sentence[0] != "the" or sentence[-2] not in allowed:
                continue
            label = polarity[sentence[-2]]
            if noise > 0 and rng.random() < noise:
                label = 1 - label
            out.append((sentence, label))
        return out

    train = draw(n_train, train_words, noise)
    test = draw(n_test, test_words, 0.0)
    vocab = Vocab.from_dict({"tokens": SyntheticLanguage(config).vocab})
    return _labelled(train, vocab), _labelled(test, vocab)


# ---------------------------------------------------------------- chapter 6: fairness
def swap_gender(sentence: Sequence[str]) -> list[str]:
    """Swap every gendered word with its counterpart in ``GENDER_SWAPS``. Used in chapter 6."""
    table = {a: b for pair in GENDER_SWAPS for a, b in (pair, pair[::-1])}
    return [table.get(w, w) for w in sentence]


# ---------------------------------------------------------------- chapter 8: privacy
def canary_sentence(digits: str) -> list[str]:
    """The planted sentence for a code: "48152" -> the code is 4 8 1 5 2 . Used in chapter 8."""
    if len(digits) != CANARY_DIGITS or not digits.isdigit():
        raise ValueError(f"digits must be a string of {CANARY_DIGITS} digits; got {digits!r}")
    return [*CANARY_PREFIX, *digits, "."]


def canary_candidates() -> list[str]:
    """Every possible canary code, "00000" to "99999" in order. Used in chapter 8."""
    return [f"{i:0{CANARY_DIGITS}d}" for i in range(10**CANARY_DIGITS)]

