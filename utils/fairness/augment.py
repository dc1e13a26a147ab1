"""Counterfactual data augmentation and gap tracking during training. Chapter 6.

``counterfactual_sentences`` adds a gender-swapped copy of every training
sentence that has a gendered word (Lu et al. 2018); ``train_tracked`` trains
the course's model exactly as ``utils.lm.pretrained_model`` does, on the
original or the augmented text, recording the occupation gaps after every
epoch, as one ``utils.runtime.cached_run`` (``gap_trajectory`` reads them back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from utils.data.corpus.tasks import swap_gender
from utils.data.text import lm_stream
from utils.fairness.gap import model_gaps, warm_histories
from utils.lm.lstm import LSTMLanguageModel
from utils.lm.pretrained import PretrainConfig, corpus_and_vocab
from utils.lm.training import train_language_model
from utils.runtime import Run, TrainingRecord, cached_run, get_device

__all__ = ["ENGLISH_GENDER_SWAPS", "TrackedConfig", "counterfactual_sentences", "gap_trajectory",
           "swap_tokens", "train_tracked"]


def counterfactual_sentences(sentences: Sequence[Sequence[str]]) -> list[list[str]]:
    """The sentences, then a gender-swapped copy of each one that a swap changes.

    Sentences without a gendered word are not copied: their copy would be the
    same sentence, which only reweights the text.
    """
    swapped = [swap_gender(s) for s in sentences]
    return [list(s) for s in sentences] + [t for s, t in zip(sentences, swapped, strict=True)
                                           if t != list(s)]


# Gendered English words and their counterparts (lowercase). "her" is "his" or
# "him" depending on its role; a table must pick one, and picks "his" as the corpus does.
ENGLISH_GENDER_SWAPS = {
    "he": "she", "she": "he", "him": "her", "his": "her", "her": "his", "hers": "his",
    "himself": "herself", "herself": "himself", "man": "woman", "woman": "man",
    "men": "women", "women": "men", "boy": "girl", "girl": "boy",
    "father": "mother", "mother": "father", "son": "daughter", "daughter": "son"}


def swap_tokens(tokens: Sequence[str], table: dict[str, str]) -> list[str]:
    """Swap whole tokens by a lowercase ``table``, keeping capitals and a possessive 's.

    For real text, where the corpus's lowercase ``swap_gender`` is not enough:
    "He" becomes "She", "HIM" becomes "HER", "man's" becomes "woman's"; a word
    that only contains a gendered word ("manager") is left alone.
    """
    out = []
    for token in tokens:
        possessive = token.lower().endswith("'s")
        stem, suffix = (token[:-2], token[-2:]) if possessive else (token, "")
        new = table.get(stem.lower())
        if new is None:
            out.append(token)
        elif stem.isupper() and len(stem) > 1:
            out.append(new.upper() + suffix)
        else:
            out.append((new.capitalize() if stem[:1].isupper() else new) + suffix)
    return out


class _GapRecorder(LSTMLanguageModel):
    """The course's LSTM, which records the occupation gaps at each validation.

    Training calls ``decoder_input``; validation then calls ``forward`` in
    evaluation mode. The first such call after training steps records the gaps,
    which uses no random numbers, so the weights are the same as without it.
    """

    def setup(self, vocab, histories: list[list[int]]) -> None:
        self._probe = (vocab, histories)
        self.trajectory: list[list[float]] = []
        self._pending = False

    def decoder_input(self, tokens, state=None):
        self._pending = True
        return super().decoder_input(tokens, state)

    def forward(self, tokens, state=None):
        if not self.training and getattr(self, "_pending", False):
            self._pending = False
            vocab, histories = self._probe
            self.trajectory.append(model_gaps(self, vocab, histories).tolist())
        return super().forward(tokens, state)


@dataclass(frozen=True)
class TrackedConfig:
    """The course's model (``pretrain``), on the original or the augmented text. Chapter 6."""

    # Bump when the recipe or the recording changes what a config produces.
    version: ClassVar[int] = 2

    pretrain: PretrainConfig
    augment: bool = False

    @property
    def seed(self) -> int:
        """The pretrained model's seed: the same initial weights and batches."""
        return self.pretrain.seed


def train_tracked(config: PretrainConfig | None = None, *, augment: bool = False,
                  progress: bool = False) -> Run[TrackedConfig, LSTMLanguageModel]:
    """Train (or load) the model of ``config``, on counterfactually augmented text if ``augment``.

    Chapter 6. The run's record keeps the gap trajectory (``gap_trajectory``):
    row 0 before training, row k after epoch k, read after the fixed validation
    histories of ``warm_histories(corpus.valid, vocab)``. Without ``augment`` the
    weights equal ``pretrained_model(config)``'s (same seeds, same text).
    """
    run_config = TrackedConfig(config or PretrainConfig(), augment)
    recipe = run_config.pretrain
    corpus, vocab = corpus_and_vocab(recipe.corpus)
    histories = warm_histories(corpus.valid, vocab)
    text = counterfactual_sentences(corpus.train) if augment else corpus.train

    def build(c: TrackedConfig) -> _GapRecorder:
        model = _GapRecorder(c.pretrain.model_config(len(vocab)))
        model.setup(vocab, histories)
        return model.to(get_device())

    def train(model: _GapRecorder, c: TrackedConfig) -> TrainingRecord:
        # Row 0: the untrained model (evaluation mode, so no random numbers are drawn).
        model.trajectory.append(model_gaps(model, vocab, histories).tolist())
        history = train_language_model(model, lm_stream(text, vocab),
                                       lm_stream(corpus.valid, vocab), c.pretrain.train,
                                       progress=progress)
        return history.to_record(trajectory=model.trajectory)

    run = cached_run("fairness", run_config, build, train, vocab=vocab, corpus=corpus,
                     train_text=text)
    plain = LSTMLanguageModel(run.model.config)  # the course's LSTM, without the recorder
    plain.load_state_dict(run.model.state_dict())
    return Run(run.config, plain.to(get_device()).eval(), run.record, run.from_cache,
               vocab=vocab, corpus=corpus, train_text=text)


def gap_trajectory(run: Run) -> np.ndarray:
    """The gaps ``train_tracked`` recorded, ``(epochs + 1, n_occupations)``. Chapter 6."""
    return np.array(run.record.measured["trajectory"])
