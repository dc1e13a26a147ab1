"""Draw a corpus from the synthetic language, with a planted canary if asked.

Used in chapters 3-10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.language import SyntheticLanguage
from utils.data.corpus.tasks import canary_sentence

__all__ = ["Corpus", "generate_corpus"]


# ---------------------------------------------------------------- the corpus
@dataclass(frozen=True)
class Corpus:
    """Train / valid / test sentences drawn from a ``SyntheticLanguage``. Used in chapters 3-6.

    ``canary_positions`` are the indices in ``train`` where the canary sentence
    was planted (empty without a canary).
    """

    config: CorpusConfig
    train: list[list[str]]
    valid: list[list[str]]
    test: list[list[str]]
    canary_positions: tuple[int, ...] = ()

    def n_tokens(self, split: str = "train") -> int:
        """Number of tokens in a split (the ``"."`` of each sentence included)."""
        return sum(len(s) for s in getattr(self, split))


def generate_corpus(config: CorpusConfig | None = None) -> Corpus:
    """Draw ``config.n_sentences`` sentences and split them; the same config gives the same corpus.

    Used in chapters 3-6. Sentences are drawn independently, so the splits are
    i.i.d.; ``valid`` and ``test`` take ``round(fraction * n_sentences)`` each.
    When ``config.canary`` is set, drawn code sentences equal to the canary are
    redrawn (so it occurs exactly ``canary_insertions`` times, all in ``train``),
    and the canary is then inserted at random positions of ``train``.
    """
    config = config if config is not None else CorpusConfig()
    lang = SyntheticLanguage(config)
    rng = np.random.default_rng(config.seed)
    canary = canary_sentence(config.canary) if config.canary is not None else None
    sentences = []
    while len(sentences) < config.n_sentences:
        sentence = lang.sample_sentence(rng)
        if sentence != canary:
            sentences.append(sentence)
    n_valid = round(config.valid_fraction * config.n_sentences)
    n_test = round(config.test_fraction * config.n_sentences)
    n_train = config.n_sentences - n_valid - n_test
    train = sentences[:n_train]
    valid = sentences[n_train : n_train + n_valid]
    test = sentences[n_train + n_valid :]
    positions: list[int] = []
    if canary is not None and config.canary_insertions > 0:
        # Insert one at a time at uniform positions, then read off where they ended up.
        marked: list[list[str] | None] = list(train)
        for _ in range(config.canary_insertions):
            marked.insert(int(rng.integers(0, len(marked) + 1)), None)
        positions = [i for i, s in enumerate(marked) if s is None]
        train = [list(canary) if s is None else s for s in marked]
    return Corpus(config, train, valid, test, tuple(positions))

