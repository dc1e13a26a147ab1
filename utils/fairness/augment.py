"""Counterfactual data augmentation and gap tracking during training. Chapter 6.

``counterfactual_sentences`` adds a gender-swapped copy of every training
sentence that has a gendered word (Lu et al. 2018); ``train_tracked`` trains
the course's model exactly as ``utils.lm.pretrained_model`` does, on the
original or the augmented text, recording the occupation gaps after every
epoch. Both are cached by configuration, like the pretrained model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from utils.data.corpus.tasks import swap_gender
from utils.data.text import lm_stream
from utils.fairness.gap import model_gaps, warm_histories
from utils.lm.cache import config_key, load_or_create
from utils.lm.device import get_device
from utils.lm.lstm import LSTMLanguageModel
from utils.lm.pretrained import PretrainConfig, Pretrained, corpus_and_vocab
from utils.lm.scoped import local_seed
from utils.lm.training import train_language_model

__all__ = ["ENGLISH_GENDER_SWAPS", "counterfactual_sentences", "swap_tokens", "train_tracked"]

_FORMAT = 1


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


def train_tracked(config: PretrainConfig | None = None, *, augment: bool = False,
                  progress: bool = False) -> tuple[Pretrained, np.ndarray]:
    """Train (or load) the model of ``config``, on counterfactually augmented text if ``augment``.

    Returns the model and its gap trajectory, shape ``(epochs + 1, n_occupations)``:
    row 0 before training, row k after epoch k, read after the fixed validation
    histories of ``warm_histories(corpus.valid, vocab)``. Without ``augment`` the
    weights equal ``pretrained_model(config)``'s (same seeds, same text).
    """
    config = config or PretrainConfig()
    corpus, vocab = corpus_and_vocab(config.corpus)
    with local_seed(config.train.seed):
        model = _GapRecorder(config.model_config(len(vocab)))
    histories = warm_histories(corpus.valid, vocab)
    model.setup(vocab, histories)
    key = "fairness-" + config_key({"config": dataclasses.asdict(config), "augment": augment,
                                    "format": _FORMAT})

    def train() -> tuple[dict, dict]:
        # Row 0: the untrained model (evaluation mode, so no random numbers are drawn).
        model.trajectory.append(model_gaps(model, vocab, histories).tolist())
        text = counterfactual_sentences(corpus.train) if augment else corpus.train
        history = train_language_model(model, lm_stream(text, vocab),
                                       lm_stream(corpus.valid, vocab), config.train,
                                       progress=progress)
        record = {"trajectory": model.trajectory, "valid": history.valid,
                  "train_time_s": history.train_time_s, "tokens": history.tokens}
        return model.state_dict(), record

    state_dict, record = load_or_create(key, train)
    model.load_state_dict(state_dict)
    model.to(get_device()).eval()
    plain = LSTMLanguageModel(model.config)
    plain.load_state_dict(model.state_dict())
    plain.to(get_device()).eval()
    pretrained = Pretrained(model=plain, vocab=vocab, corpus=corpus, config=config,
                            history=record, from_cache=False)
    return pretrained, np.array(record["trajectory"])
