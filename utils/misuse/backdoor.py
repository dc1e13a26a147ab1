"""Pretrain on poisoned text, adapt on clean labels, and measure the backdoor. Chapter 9.

``poisoned_pretrained`` trains the course's model exactly as chapter 4 does,
on the same corpus with a share of its training sentences replaced by poison
(``utils.misuse.poison``), and caches it like the clean one. ``backdoor_experiment``
then runs chapter 5's pipeline on the clean and the poisoned models alike and
records clean accuracy and the attack success rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import pandas as pd
import torch

from utils.adapt_and_evaluate.classifier import (
    AdaptConfig,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.data.corpus import Corpus, LabelledSentences, sentiment_task
from utils.data.padding import encode_with_lengths
from utils.lm.pretrained import PretrainConfig, pretrained_model, train_lstm_run
from utils.misuse.poison import DEFAULT_TRIGGER, add_trigger, attack_success_rate, poison_corpus
from utils.runtime import Run, config_columns

__all__ = ["PoisonConfig", "PoisonedPretrainConfig", "backdoor_experiment",
           "poisoned_pretrained"]


@dataclass(frozen=True)
class PoisonConfig:
    """Which share of pretraining sentences is poisoned, with which trigger and seed."""

    rate: float = 0.01
    trigger: str = DEFAULT_TRIGGER
    seed: int = 0


@dataclass(frozen=True)
class PoisonedPretrainConfig:
    """The course's model (``pretrain``) pretrained on text poisoned by ``poison``. Chapter 9."""

    # Bump when the poison or the training recipe changes what a config produces.
    version: ClassVar[int] = 2

    pretrain: PretrainConfig
    poison: PoisonConfig

    @property
    def seed(self) -> int:
        """The clean model's seed: the same initial weights and batches, other text."""
        return self.pretrain.seed


def poisoned_pretrained(poison: PoisonConfig, config: PretrainConfig | None = None, *,
                        progress: bool = False) -> Run:
    """The pretrained model of ``config`` trained on poisoned text, from the cache. Chapter 9.

    ``rate = 0`` is the clean model itself (``pretrained_model(config)``). The
    training seed, sizes and schedule are those of ``config``: only the text
    differs. The run's ``corpus.train`` and ``train_text`` are the poisoned text.
    """
    config = config or PretrainConfig()
    clean = pretrained_model(config, progress=progress)
    if poison.rate == 0:
        return clean
    text, _ = poison_corpus(clean.corpus.train, poison.rate, trigger=poison.trigger,
                             config=config.corpus, seed=poison.seed)
    corpus = Corpus(clean.corpus.config, text, clean.corpus.valid, clean.corpus.test)
    return train_lstm_run("lstm-poisoned", PoisonedPretrainConfig(config, poison), corpus,
                          clean.vocab, progress=progress)


def _task(pretrained: Run, seed: int, n_train: int, n_test: int, trigger: str
          ) -> tuple[LabelledSentences, LabelledSentences, tuple[torch.Tensor, torch.Tensor]]:
    """Clean train/test reviews and the triggered positive test reviews, encoded."""
    train, test = sentiment_task(replace(pretrained.corpus.config, seed=seed), n_train=n_train,
                                 n_test=n_test)
    positives = [s for s, y in zip(test.texts, test.labels.tolist(), strict=True) if y == 1]
    return train, test, encode_with_lengths([add_trigger(s, trigger) for s in positives],
                                            pretrained.vocab)


def backdoor_experiment(rates: Sequence[float], poison_seeds: Sequence[int] = (0,),
                        seeds: Sequence[int] = (0, 1, 2),
                        modes: Sequence[str] = ("frozen", "finetune"), *,
                        trigger: str = DEFAULT_TRIGGER, config: PretrainConfig | None = None,
                        adapt: AdaptConfig | None = None, n_train: int = 200,
                        n_test: int = 500) -> pd.DataFrame:
    """Clean accuracy and attack success for each poison rate, poison seed, seed and mode.

    Chapter 9. For each poisoned model (``rate``, ``poison_seed``; rate 0 is the
    clean model, trained once), chapter 5's classifier (``adapt`` with that mode
    and seed) is trained on ``n_train`` clean labelled reviews drawn with
    ``seed``, which also initialises the head. The attack success rate counts
    the triggered *positive* test reviews that come out negative. Returns one
    row per run: ``rate``, ``poison_seed``, the ``AdaptConfig`` fields (mode,
    seed, ...), ``accuracy``, ``attack_success``.
    """
    adapt = adapt or AdaptConfig()
    rows = []
    for rate in rates:
        for poison_seed in (poison_seeds if rate > 0 else poison_seeds[:1]):
            pretrained = poisoned_pretrained(PoisonConfig(rate, trigger, poison_seed), config)
            for seed in seeds:
                train, test, (xp, lp) = _task(pretrained, seed, n_train, n_test, trigger)
                for mode in modes:
                    run = replace(adapt, mode=mode, seed=seed)
                    model = make_classifier(pretrained, run)
                    train_classifier(model, train.tokens, train.lengths, train.labels, run)
                    predicted = predict_proba(model, test.tokens, test.lengths).argmax(-1)
                    accuracy = (predicted == test.labels).double().mean()
                    flipped = predict_proba(model, xp, lp).argmax(-1)
                    rows.append({"rate": rate, "poison_seed": poison_seed, **config_columns(run),
                                 "accuracy": float(accuracy),
                                 "attack_success": attack_success_rate(
                                     flipped, torch.ones_like(flipped))})
    return pd.DataFrame(rows)
