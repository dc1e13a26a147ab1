"""Pretrain on poisoned text, adapt on clean labels, and measure the backdoor. Chapter 9.

``poisoned_pretrained`` trains the course's model exactly as chapter 4 does,
on the same corpus with a share of its training sentences replaced by poison
(``utils.misuse.poison``), and caches it like the clean one. ``backdoor_experiment``
then runs chapter 5's pipeline on the clean and the poisoned models alike and
records clean accuracy and the attack success rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from utils.adapt_and_evaluate.classifier import (
    AdaptConfig,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.data.corpus import Corpus, sentiment_task
from utils.data.padding import encode_with_lengths
from utils.data.text import lm_stream
from utils.lm.cache import config_key, load_or_create
from utils.lm.device import get_device, set_seed
from utils.lm.lstm import LSTMLanguageModel
from utils.lm.pretrained import PretrainConfig, Pretrained, pretrained_model
from utils.lm.training import train_language_model
from utils.misuse.poison import DEFAULT_TRIGGER, add_trigger, attack_success_rate, poison_corpus

__all__ = ["PoisonConfig", "backdoor_experiment", "poisoned_pretrained"]

_FORMAT = 1  # bump when the poison or the training recipe changes what a config produces


@dataclass(frozen=True)
class PoisonConfig:
    """Which share of pretraining sentences is poisoned, with which trigger and seed."""

    rate: float = 0.01
    trigger: str = DEFAULT_TRIGGER
    seed: int = 0


def poisoned_pretrained(poison: PoisonConfig, config: PretrainConfig | None = None, *,
                        progress: bool = False) -> Pretrained:
    """The pretrained model of ``config`` trained on poisoned text, from the cache. Chapter 9.

    ``rate = 0`` is the clean model itself (``pretrained_model(config)``). The
    training seed, sizes and schedule are those of ``config``: only the text differs.
    """
    config = config or PretrainConfig()
    clean = pretrained_model(config, progress=progress)
    if poison.rate == 0:
        return clean
    text, _ = poison_corpus(clean.corpus.train, poison.rate, trigger=poison.trigger,
                             config=config.corpus, seed=poison.seed)
    corpus = Corpus(clean.corpus.config, text, clean.corpus.valid, clean.corpus.test)
    set_seed(config.train.seed)  # the same initial weights as the clean model
    model = LSTMLanguageModel(config.model_config(len(clean.vocab)))
    key = "lstm-poisoned-" + config_key({"config": dataclasses.asdict(config),
                                         "poison": dataclasses.asdict(poison),
                                         "format": _FORMAT})
    trained_now = False

    def train() -> tuple[dict, dict]:
        nonlocal trained_now
        trained_now = True
        history = train_language_model(model, lm_stream(text, clean.vocab),
                                       lm_stream(corpus.valid, clean.vocab), config.train,
                                       progress=progress)
        return model.state_dict(), {"valid": history.valid,
                                    "train_time_s": history.train_time_s}

    state_dict, history = load_or_create(key, train)
    if not trained_now:
        model.load_state_dict(state_dict)
    model.to(get_device()).eval()
    return Pretrained(model=model, vocab=clean.vocab, corpus=corpus, config=config,
                      history=history, from_cache=not trained_now)


def _task(pretrained: Pretrained, seed: int, n_train: int, n_test: int, trigger: str):
    """Clean train/test reviews and the triggered positive test reviews, encoded."""
    train, test = sentiment_task(pretrained.config.corpus, n_train=n_train, n_test=n_test,
                                 seed=seed)
    vocab = pretrained.vocab
    positives = [s for s, y in test if y == 1]
    return (encode_with_lengths([s for s, _ in train], vocab), torch.tensor([y for _, y in train]),
            encode_with_lengths([s for s, _ in test], vocab), torch.tensor([y for _, y in test]),
            encode_with_lengths([add_trigger(s, trigger) for s in positives], vocab))


def backdoor_experiment(rates: Sequence[float], poison_seeds: Sequence[int] = (0,),
                        seeds: Sequence[int] = (0, 1, 2),
                        modes: Sequence[str] = ("frozen", "finetune"), *,
                        trigger: str = DEFAULT_TRIGGER, config: PretrainConfig | None = None,
                        adapt: AdaptConfig | None = None, n_train: int = 200,
                        n_test: int = 500) -> list[dict]:
    """Clean accuracy and attack success for each poison rate, poison seed, seed and mode.

    Chapter 9. For each poisoned model (``rate``, ``poison_seed``; rate 0 is the
    clean model, trained once), chapter 5's classifier is trained on ``n_train``
    clean labelled reviews drawn with ``seed``, which also initialises the head.
    The attack success rate counts the triggered *positive* test reviews that
    come out negative. Returns one dict per run with keys rate, poison_seed,
    seed, mode, accuracy, attack_success.
    """
    adapt = adapt or AdaptConfig()
    rows = []
    for rate in rates:
        for poison_seed in (poison_seeds if rate > 0 else poison_seeds[:1]):
            pretrained = poisoned_pretrained(PoisonConfig(rate, trigger, poison_seed), config)
            for seed in seeds:
                (x, lx), y, (xt, lt), yt, (xp, lp) = _task(pretrained, seed, n_train, n_test,
                                                           trigger)
                for mode in modes:
                    model = make_classifier(mode, pretrained, pooling=adapt.pooling, seed=seed)
                    train_classifier(model, x, lx, y, dataclasses.replace(adapt, mode=mode,
                                                                          seed=seed))
                    accuracy = (predict_proba(model, xt, lt).argmax(-1) == yt).double().mean()
                    flipped = predict_proba(model, xp, lp).argmax(-1)
                    rows.append({"rate": rate, "poison_seed": poison_seed, "seed": seed,
                                 "mode": mode, "accuracy": float(accuracy),
                                 "attack_success": attack_success_rate(
                                     flipped, torch.ones_like(flipped))})
    return rows
