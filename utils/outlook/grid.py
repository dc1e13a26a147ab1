"""A grid of LSTM language models over size N and training tokens D, for a scaling law. Chapter 10.

Each run trains the course's LSTM (chapter 4) of one hidden size on the first
``D`` tokens of a long synthetic text, once through (no token is seen twice,
as in the large pretraining runs the law describes), and records its
cross-entropy on a fixed test text. The step size is cut twice near the end of
each run (to 1/5, then 1/25): a constant step size leaves a noise floor of its
own in the loss, which a scaling fit would mistake for the language's floor.
Runs are cached one by one (``utils.lm.load_or_create``), so a second pass, or a
larger grid that contains a smaller one, trains only what is new.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from utils.data.corpus import Corpus, CorpusConfig, SyntheticLanguage, generate_corpus
from utils.data.text import Vocab, lm_stream
from utils.lm.cache import config_key, load_or_create
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.scoped import local_seed
from utils.lm.training import (
    TrainConfig,
    evaluate_language_model,
    init_output_bias,
    train_language_model,
)

__all__ = ["FULL_GRID", "ScalingGridConfig", "ScalingRun", "grid_data", "run_scaling_grid",
           "entropy_floor"]

FORMAT_VERSION = 1  # bump when a change to this file changes what a cached run holds


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
class ScalingRun:
    """One trained model: its size N, its tokens D, its test loss (nats per token)."""

    hidden_size: int
    parameters: int
    tokens: int
    loss: float
    train_time_s: float
    from_cache: bool


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


def _train_one(hidden_size: int, tokens: int, config: ScalingGridConfig, vocab: Vocab,
               train: torch.Tensor, test: torch.Tensor) -> ScalingRun:
    """Train (or load) one run of the grid."""
    with local_seed(config.seed):
        model = LSTMLanguageModel(ModelConfig(vocab_size=len(vocab), emb_size=hidden_size,
                                              hidden_size=hidden_size, num_layers=1,
                                              dropout=0.0))
    # The key leaves out which other runs share the grid, so grids that overlap share runs.
    how = {k: v for k, v in dataclasses.asdict(config).items()
           if k not in ("hidden_sizes", "token_budgets")}
    key = "scaling-" + config_key({"how": how, "hidden_size": hidden_size, "tokens": tokens,
                                   "format": FORMAT_VERSION})
    trained_now = False

    def create() -> tuple[dict, dict]:
        nonlocal trained_now
        trained_now = True
        init_output_bias(model, train[:tokens])
        start, seconds = 0, 0.0
        for i, (share, factor) in enumerate(config.schedule):
            stop = tokens if i == len(config.schedule) - 1 else start + int(share * tokens)
            phase = TrainConfig(lr=config.lr * factor, batch_size=config.batch_size,
                                seq_len=config.seq_len, clip=config.clip, seed=config.seed + i)
            # A short validation text: train_language_model validates once per phase.
            history = train_language_model(model, train[start:stop], test[:2_000], phase,
                                           progress=False)
            seconds += history.train_time_s
            start = stop
        loss = evaluate_language_model(model, test, batch_size=64, seq_len=config.seq_len)["loss"]
        return model.state_dict(), {"loss": loss, "train_time_s": seconds, "tokens": tokens,
                                    "parameters": model.num_parameters()}

    _, record = load_or_create(key, create)
    return ScalingRun(hidden_size=hidden_size, parameters=model.num_parameters(), tokens=tokens,
                      loss=record["loss"], train_time_s=record["train_time_s"],
                      from_cache=not trained_now)


def run_scaling_grid(config: ScalingGridConfig | None = None, *,
                     progress: bool = True) -> list[ScalingRun]:
    """Train (or load) every run of the grid, smallest first. Chapter 10."""
    config = config or ScalingGridConfig()
    _, vocab, train, test = grid_data(config)
    pairs = [(h, d) for h in sorted(config.hidden_sizes) for d in sorted(config.token_budgets)]
    runs = []
    for h, d in tqdm(pairs, disable=not progress, desc="scaling grid", unit="run"):
        runs.append(_train_one(h, d, config, vocab, train, test))
    return runs
