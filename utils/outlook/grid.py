"""A grid of LSTM language models over size N and training tokens D, for a scaling law. Chapter 10.

Each run trains the course's LSTM (chapter 4) of one hidden size on the first
``D`` tokens of a long synthetic text, once through (no token is seen twice,
as in the large pretraining runs the law describes), and records its
cross-entropy on a fixed test text. The step size is cut twice near the end of
each run (to 1/5, then 1/25): a constant step size leaves a noise floor of its
own in the loss, which a scaling fit would mistake for the language's floor.
Runs are cached one by one (``utils.runtime.cached_run``), so a second pass, or a
larger grid that contains a smaller one, trains only what is new.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pandas as pd
import torch

from utils.data.corpus import Corpus, CorpusConfig, SyntheticLanguage, generate_corpus
from utils.data.text import Vocab, lm_stream
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.training import (
    TrainConfig,
    evaluate_language_model,
    init_output_bias,
    train_language_model,
)
from utils.runtime import TrainingRecord, cached_run, config_columns, train_side_by_side

__all__ = ["FULL_GRID", "ScalingGridConfig", "ScalingRunConfig", "grid_data", "run_scaling_grid",
           "entropy_floor"]


def _grid_corpus() -> CorpusConfig:
    # The default language (every chapter's), with enough sentences for 1.6M training tokens.
    return dataclasses.replace(CorpusConfig(), n_sentences=200_000)


@dataclass(frozen=True)
class ScalingGridConfig:
    """Which runs make the grid and how each is trained. Chapter 10.

    ``schedule`` splits each run's tokens into phases of (share of tokens, step
    size as a multiple of ``lr``).
    """

    hidden_sizes: tuple[int, ...] = (8, 16, 32, 64, 128)
    # A subset of FULL_GRID, so the two share their cached runs.
    token_budgets: tuple[int, ...] = (100_000, 200_000, 400_000, 800_000)
    corpus: CorpusConfig = field(default_factory=_grid_corpus)
    lr: float = 3e-2
    batch_size: int = 16
    seq_len: int = 35
    clip: float = 0.5
    seed: int = 0
    schedule: tuple[tuple[float, float], ...] = ((0.6, 1.0), (0.25, 0.2), (0.15, 0.04))

    def __post_init__(self) -> None:
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive integers; got {self.hidden_sizes}")
        if not self.token_budgets or any(d < 10 * self.batch_size * self.seq_len
                                         for d in self.token_budgets):
            raise ValueError("every token budget must allow at least 10 optimizer steps "
                             f"({10 * self.batch_size * self.seq_len} tokens); "
                             f"got {self.token_budgets}")
        if not math.isclose(sum(share for share, _ in self.schedule), 1.0):
            raise ValueError(f"the schedule's shares must sum to 1; got {self.schedule}")


FULL_GRID = ScalingGridConfig(hidden_sizes=(8, 12, 16, 24, 32, 48, 64, 96, 128),
                              token_budgets=(100_000, 200_000, 400_000, 800_000, 1_600_000))


@dataclass(frozen=True)
class ScalingRunConfig:
    """One run of the grid: an LSTM of ``hidden_size`` trained on the first ``tokens``. Chapter 10.

    The rest is the grid's ``ScalingGridConfig`` without the list of runs, so
    grids that overlap share their cached runs.
    """

    # Bump when a change to this file changes what a cached run holds.
    version: ClassVar[int] = 2

    hidden_size: int
    tokens: int
    corpus: CorpusConfig
    lr: float
    batch_size: int
    seq_len: int
    clip: float
    seed: int
    schedule: tuple[tuple[float, float], ...]


def grid_data(config: ScalingGridConfig) -> tuple[Corpus, Vocab, torch.Tensor, torch.Tensor]:
    """The grid's corpus, vocabulary, training stream and test stream (token ids)."""
    corpus = generate_corpus(config.corpus)
    vocab = Vocab.from_dict({"tokens": SyntheticLanguage(config.corpus).vocab})
    train = lm_stream(corpus.train, vocab)  # (n_train_tokens,)
    if train.numel() < max(config.token_budgets):
        raise ValueError(f"the corpus has {train.numel()} training tokens, fewer than the "
                         f"largest budget {max(config.token_budgets)}; raise n_sentences")
    return corpus, vocab, train, lm_stream(corpus.test, vocab)


def entropy_floor(config: ScalingGridConfig, corpus: Corpus) -> tuple[float, float]:
    """The language's entropy rate and the true model's loss on this test text (nats/token).

    Both count the ``<eos>`` after each sentence as a token, as the LSTM's stream
    does. The second is what a perfect model would score on these very
    sentences; it differs from the first only by sampling noise.
    """
    language = SyntheticLanguage(config.corpus)
    nll = -sum(language.log_prob(s) for s in corpus.test)
    return language.entropy_rate(eos=True), nll / sum(len(s) + 1 for s in corpus.test)


_RUN_NAME = "scaling"  # the grid's runs in the model cache
# The grid's vocabulary and token streams, set once in each process that trains its runs.
_DATA: dict[str, Any] = {}


def _share_data(vocab: Vocab, train: torch.Tensor, test: torch.Tensor) -> None:
    _DATA.update(vocab=vocab, train=train, test=test)


def _train_one(run: ScalingRunConfig) -> dict:
    """Train (or load) one run of the grid; its row of ``run_scaling_grid``'s table."""
    vocab, train, test = _DATA["vocab"], _DATA["train"], _DATA["test"]

    def build(c: ScalingRunConfig) -> LSTMLanguageModel:
        return LSTMLanguageModel(ModelConfig(vocab_size=len(vocab), emb_size=c.hidden_size,
                                             hidden_size=c.hidden_size, num_layers=1,
                                             dropout=0.0))

    def fit(model: LSTMLanguageModel, c: ScalingRunConfig) -> TrainingRecord:
        init_output_bias(model, train[:c.tokens])
        start, seconds, steps = 0, 0.0, 0
        for i, (share, factor) in enumerate(c.schedule):
            stop = c.tokens if i == len(c.schedule) - 1 else start + int(share * c.tokens)
            phase = TrainConfig(lr=c.lr * factor, batch_size=c.batch_size, seq_len=c.seq_len,
                                clip=c.clip, seed=c.seed + i)
            # A short validation text: train_language_model validates once per phase.
            history = train_language_model(model, train[start:stop], test[:2_000], phase,
                                           progress=False)
            seconds += history.train_time_s
            steps += len(history.train_loss)
            start = stop
        loss = evaluate_language_model(model, test, batch_size=64, seq_len=c.seq_len)["loss"]
        # tokens: the budget D, as the scaling law counts it.
        return TrainingRecord(steps=steps, tokens=c.tokens, train_time_s=seconds,
                              measured={"loss": loss, "parameters": model.num_parameters()})

    result = cached_run(_RUN_NAME, run, build, fit)
    return {**config_columns(run), "parameters": result.model.num_parameters(),
            "loss": result.record.measured["loss"], "train_time_s": result.record.train_time_s,
            "from_cache": result.from_cache}


def run_scaling_grid(config: ScalingGridConfig | None = None, *,
                     progress: bool = True) -> pd.DataFrame:
    """Train (or load) every run of the grid, smallest first. Chapter 10.

    One row per run: the ``ScalingRunConfig`` fields (``hidden_size``, ``tokens``
    = D, ...), ``parameters`` (N, every trainable weight), ``loss`` (nats per
    token on the test text), ``train_time_s`` and ``from_cache``.
    """
    config = config or ScalingGridConfig()
    _, vocab, train, test = grid_data(config)
    how = {k: v for k, v in dataclasses.asdict(config).items()
           if k not in ("hidden_sizes", "token_budgets")}
    how["corpus"] = config.corpus
    runs = [ScalingRunConfig(hidden_size=h, tokens=d, **how)
            for h in sorted(config.hidden_sizes) for d in sorted(config.token_budgets)]
    # Each small run keeps one core busy, so the runs to train go side by side, one per core.
    rows = train_side_by_side(_train_one, runs, run_name=_RUN_NAME, initializer=_share_data,
                              initargs=(vocab, train, test),
                              desc="scaling grid" if progress else None)
    return pd.DataFrame(rows)
