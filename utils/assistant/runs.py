"""The chapter's trained assistants as cached runs: SFT, then DPO or RL from it. Chapter 5.

Every model is a ``utils.runtime.cached_run``. An ``SFTConfig`` names its base
model's configuration (``base``: chapter 4's ``PretrainConfig``, or any
frozen configuration of a course language model) so the cache key covers it;
the caller passes the loaded base ``Run`` itself. A ``DPOConfig`` or
``RLConfig`` holds the ``SFTConfig`` it starts from, and that SFT model is
also its frozen reference.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from utils.assistant.chat import add_tokens, chat_vocab
from utils.assistant.generate import answer
from utils.assistant.instructions import Example, instruction_set, is_correct
from utils.assistant.safety import safety_training_pairs
from utils.assistant.training import frozen_copy, train_dpo, train_rl, train_sft
from utils.data.corpus import CorpusConfig, SyntheticLanguage
from utils.lm.pretrained import PretrainConfig
from utils.runtime import Run, TrainingRecord, cached_run

__all__ = ["REWARDS", "DPOConfig", "RLConfig", "SFTConfig", "dpo_run", "rl_run", "sft_run",
           "preference_pairs", "task_data"]

REWARDS = ("verifier", "length")


@dataclass(frozen=True)
class SFTConfig:
    """Supervised fine-tuning of a base model on the instruction set. Chapter 5."""

    version: ClassVar[int] = 2

    base: Any = field(default_factory=PretrainConfig)
    answer_only: bool = True  # loss on the answer tokens only, or on prompt and answer
    safety: bool = False  # add refusals of secret and harmful requests (and look-alikes)
    n_train: int = 300  # training requests per trained type
    n_eval: int = 50  # evaluation requests per type, kept out of training
    steps: int = 150
    batch_size: int = 32
    lr: float = 5e-3
    seed: int = 0


@dataclass(frozen=True)
class DPOConfig:
    """DPO from an SFT model on pairs the verifier ranks. Chapter 5."""

    version: ClassVar[int] = 1

    sft: SFTConfig = field(default_factory=SFTConfig)
    beta: float = 0.1
    samples: int = 4  # answers sampled per training prompt to find a right and a wrong one
    steps: int = 60
    batch_size: int = 32
    lr: float = 1e-3

    @property
    def seed(self) -> int:
        """The SFT run's seed: one seed decides the whole pipeline."""
        return self.sft.seed


@dataclass(frozen=True)
class RLConfig:
    """Group-relative REINFORCE from an SFT model, with a KL penalty to it. Chapter 5."""

    version: ClassVar[int] = 2

    sft: SFTConfig = field(default_factory=SFTConfig)
    reward: str = "verifier"  # or "length": a proxy that pays for long answers
    kl_coef: float = 0.05
    steps: int = 40
    prompts_per_step: int = 8
    group_size: int = 4
    lr: float = 1e-3
    max_new: int = 10

    def __post_init__(self) -> None:
        if self.reward not in REWARDS:
            raise ValueError(f"reward must be one of {REWARDS}; got {self.reward!r}")

    @property
    def seed(self) -> int:
        """The SFT run's seed: one seed decides the whole pipeline."""
        return self.sft.seed


def task_data(config: SFTConfig, corpus: CorpusConfig | None = None
              ) -> tuple[list[Example], dict[str, list[Example]]]:
    """The training requests and evaluation suites an SFT run uses (``instruction_set``).

    Drawn once per (sizes, seed, corpus) and shared: every run and evaluation of
    a seed reads the same lists, so treat them as read-only.
    """
    return _task_data(config.n_train, config.n_eval, config.seed, corpus)


@functools.lru_cache(maxsize=16)
def _task_data(n_train: int, n_eval: int, seed: int, corpus: CorpusConfig | None):
    return instruction_set(n_train, n_eval, seed=seed, config=corpus)


def _generator(seed: int, stream: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1000 + stream)


def sft_run(config: SFTConfig, base: Run) -> Run:
    """Load or train the SFT model of ``config`` on ``base``, whose config is ``config.base``."""
    if base.config != config.base:
        raise ValueError("base.config must equal config.base: the cache key is the config's")
    vocab = chat_vocab(base.vocab)
    train, _ = task_data(config, base.corpus.config)
    pairs = [(e.prompt, e.reference) for e in train]
    if config.safety:
        pairs += safety_training_pairs(len(pairs) // 4, seed=config.seed)

    def build(_: SFTConfig):
        return add_tokens(base.model, len(vocab))

    def fit(model, c: SFTConfig) -> TrainingRecord:
        return train_sft(model, pairs, vocab, steps=c.steps, batch_size=c.batch_size, lr=c.lr,
                         answer_only=c.answer_only, generator=_generator(c.seed, 1))

    return cached_run("assistant-sft", config, build, fit, vocab=vocab, corpus=base.corpus,
                      train_text=pairs)


def preference_pairs(sft: Run, examples: list[Example], samples: int, seed: int,
                     language: SyntheticLanguage) -> tuple[list, list]:
    """Chosen and rejected answers to ``examples``, from the SFT model's samples and the verifier.

    For each prompt, ``samples`` answers are drawn at temperature 1; a prompt
    with no wrong sample is skipped (nothing to prefer against); the chosen
    answer is a right sample, or the reference answer when none was right.
    """
    prompts = [e.prompt for e in examples for _ in range(samples)]
    drawn = answer(sft.model, prompts, sft.vocab, temperature=1.0,
                   generator=_generator(seed, 2))
    chosen, rejected = [], []
    for i, e in enumerate(examples):
        mine = drawn[i * samples:(i + 1) * samples]
        right = [a for a in mine if is_correct(e, a, language)]
        wrong = [a for a in mine if not is_correct(e, a, language)]
        if wrong:
            chosen.append((e.prompt, right[0] if right else e.reference))
            rejected.append((e.prompt, wrong[0]))
    return chosen, rejected


def dpo_run(config: DPOConfig, base: Run) -> Run:
    """Load or train DPO from the SFT model ``config.sft``, which is also the frozen reference."""
    sft = sft_run(config.sft, base)
    train, _ = task_data(config.sft, base.corpus.config)
    language = SyntheticLanguage(base.corpus.config)

    def fit(model, c: DPOConfig) -> TrainingRecord:
        chosen, rejected = preference_pairs(sft, train, c.samples, c.seed, language)
        record = train_dpo(model, frozen_copy(sft.model), chosen, rejected, sft.vocab,
                           steps=c.steps, batch_size=c.batch_size, lr=c.lr, beta=c.beta,
                           generator=_generator(c.seed, 3))
        return dataclasses.replace(record, measured={**record.measured, "pairs": len(chosen)})

    return cached_run("assistant-dpo", config, lambda _: add_tokens(sft.model, len(sft.vocab)),
                      fit, vocab=sft.vocab, corpus=base.corpus)


def rl_run(config: RLConfig, base: Run) -> Run:
    """Load or train RL from the SFT model ``config.sft``, rewarded by the verifier or a proxy."""
    sft = sft_run(config.sft, base)
    train, _ = task_data(config.sft, base.corpus.config)
    language = SyntheticLanguage(base.corpus.config)

    def reward(i: int, words) -> float:
        if config.reward == "length":
            return min(len(words), config.max_new) / config.max_new
        return float(is_correct(train[i], words, language))

    def fit(model, c: RLConfig) -> TrainingRecord:
        return train_rl(model, frozen_copy(sft.model), [e.prompt for e in train], reward,
                        sft.vocab, steps=c.steps, prompts_per_step=c.prompts_per_step,
                        group_size=c.group_size, lr=c.lr, kl_coef=c.kl_coef,
                        max_new=c.max_new, generator=_generator(c.seed, 4))

    return cached_run("assistant-rl", config, lambda _: add_tokens(sft.model, len(sft.vocab)),
                      fit, vocab=sft.vocab, corpus=base.corpus)

