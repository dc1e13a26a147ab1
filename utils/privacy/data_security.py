"""Data security beyond training: scrubbing a secret's format, and unlearning it. Chapter 8.

One small experiment serves both. A person's five-digit code is planted in
the training text in the four formats of ``SECRET_FORMATS``, each a different
code, ``insertions`` times each. Three models are trained on the same corpus
and seed: one on the text as it is, one on the text after the regular
expression scrubber (``scrub_sentences``), and one never shown any of the
codes, the control whose exposures are the floor. The last is also exact
unlearning: the planted text without the person's sentences is, sentence for
sentence, the control's text, so retraining on it is the control's training.
Approximate unlearning (``gradient_ascent``) starts from the first model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from utils.data.corpus import Corpus, CorpusConfig, SyntheticLanguage, generate_corpus
from utils.data.text import Vocab
from utils.evaluate.sentence_loss import perplexity
from utils.privacy.dpsgd import DPLanguageModel
from utils.privacy.experiments import CANARY
from utils.privacy.exposure import exposure
from utils.privacy.scrubbing import (
    CODE_PATTERN,
    MASK,
    SECRET_FORMATS,
    format_log2_probs,
    scrub_sentences,
)
from utils.privacy.training import PrivateTrainConfig, train_sentences
from utils.privacy.unlearning import gradient_ascent, without
from utils.runtime import Run, TrainingRecord, cached_run

__all__ = [
    "CONDITIONS", "SECRETS", "SECRETS_CORPUS", "SecretsRun", "caught_by_scrubber",
    "exact_unlearning", "scrubbing_rows", "unlearning_comparison",
    "forget_set", "secrets_exposures", "secrets_run", "secrets_vocab", "summary_of",
    "train_secrets", "unlearning_rows",
]

# One code per format, so each format's exposure measures that format alone.
SECRETS = {"exact": CANARY, "spelled out": "27406", "dashes": "61093", "split": "85327"}
# Smaller than the exposure experiment's corpus, so three seeds of three models stay quick;
# canary=CANARY with no insertions keeps the exact canary out of the natural code sentences.
SECRETS_CORPUS = CorpusConfig(n_sentences=2000, code_weight=0.05, valid_fraction=0.1,
                              test_fraction=0.1, canary=CANARY, canary_insertions=0)
# The three models of each seed: the control, the text as it is, the text scrubbed.
CONDITIONS = ("never planted", "planted", "planted, scrubbed")


@dataclass(frozen=True)
class SecretsRun:
    """One model of the scrubbing and unlearning experiment. Explained in chapter 8.

    ``insertions`` copies of every secret of ``SECRETS`` (0: the control) are
    planted in the corpus's training text; ``scrub`` runs the scrubber over
    the whole text before training.
    """

    # Bump when the formats, the secrets or the recipe change what a run produces.
    version: ClassVar[int] = 1

    corpus: CorpusConfig = SECRETS_CORPUS
    hidden_size: int = 64
    train: PrivateTrainConfig = field(default_factory=lambda: PrivateTrainConfig(epochs=5))
    insertions: int = 16
    scrub: bool = False

    @property
    def seed(self) -> int:
        """The run's seed: the training seed, which also draws the initial weights."""
        return self.train.seed


def secrets_run(condition: str, *, seed: int = 0, insertions: int = 16, epochs: int = 5
                ) -> SecretsRun:
    """The run for ``condition``: "never planted", "planted" or "planted, scrubbed". Chapter 8."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition must be one of {CONDITIONS}; got {condition!r}")
    return SecretsRun(corpus=dataclasses.replace(SECRETS_CORPUS, seed=seed),
                      train=PrivateTrainConfig(epochs=epochs, seed=seed),
                      insertions=0 if condition == "never planted" else insertions,
                      scrub=condition.endswith("scrubbed"))


def forget_set() -> list[list[str]]:
    """The person's sentences: every secret of ``SECRETS`` in its format, once. Chapter 8."""
    return [s for name, code in SECRETS.items() for s in SECRET_FORMATS[name].render(code)]


def secrets_vocab(config: CorpusConfig) -> Vocab:
    """The language's vocabulary, then the formats' extra words and ``MASK``, in a fixed order.

    Every condition shares it, so the three models have the same shape and
    the same initial weights.
    """
    language = SyntheticLanguage(config).vocab
    extra = set().union(*(f.words for f in SECRET_FORMATS.values())) - set(language)
    return Vocab.from_dict({"tokens": [*language, *sorted(extra), MASK]})


def _training_text(run: SecretsRun, corpus: Corpus) -> list[list[str]]:
    """The corpus's training text with the secrets planted at random places, scrubbed if asked."""
    text = [list(s) for s in corpus.train]
    planted = forget_set() * run.insertions
    rng = np.random.default_rng([run.corpus.seed, 8, 2])
    for sentence in planted:  # each copy at an independent random position
        text.insert(int(rng.integers(len(text) + 1)), list(sentence))
    return scrub_sentences(text) if run.scrub else text


def train_secrets(run: SecretsRun) -> Run[SecretsRun, DPLanguageModel]:
    """Load ``run``'s model from the model cache, or train and cache it. Chapter 8."""
    corpus = generate_corpus(run.corpus)
    vocab = secrets_vocab(run.corpus)
    text = _training_text(run, corpus)

    def build(c: SecretsRun) -> DPLanguageModel:
        return DPLanguageModel(len(vocab), c.hidden_size,
                               generator=torch.Generator().manual_seed(c.train.seed))

    def train(model: DPLanguageModel, c: SecretsRun) -> TrainingRecord:
        stats = train_sentences(model, text, vocab, c.train)
        return TrainingRecord(steps=stats["steps"], tokens=stats["tokens"],
                              train_time_s=stats["train_time_s"])

    return cached_run("privacy-secrets", run, build, train, vocab=vocab, corpus=corpus,
                      train_text=text)


def exact_unlearning(planted: Run[SecretsRun, DPLanguageModel]) -> Run:
    """Exact unlearning of ``forget_set()`` from ``planted``: a model trained without it. Chapter 8.

    The retained text, ``without(planted.train_text, forget_set())``, is the
    control's training text sentence for sentence, so the retrained model is
    the control's (trained, or loaded from the cache); a retained text that
    differed would raise rather than pass another model off as the retrain.
    """
    retained = without(planted.train_text, forget_set())
    retrain = train_secrets(dataclasses.replace(planted.config, insertions=0, scrub=False))
    if planted.config.scrub or retrain.train_text != retained:
        raise ValueError("exact unlearning needs the unscrubbed planted run, whose text without "
                         "the forgotten sentences is the control's")
    return retrain


def secrets_exposures(model: torch.nn.Module, vocab: Vocab) -> dict[str, float]:
    """Each secret's exposure (bits) in its own format, ranked among all 10^5 codes. Chapter 8."""
    return {name: exposure(format_log2_probs(model, vocab, SECRET_FORMATS[name]), int(code))
            for name, code in SECRETS.items()}


def caught_by_scrubber() -> dict[str, bool]:
    """Whether the scrubber finds each secret in every one of its sentences. Chapter 8."""
    return {name: all(CODE_PATTERN.search(" ".join(s))
                      for s in SECRET_FORMATS[name].render(code))
            for name, code in SECRETS.items()}


def unlearning_rows(planted: Run, steps: tuple[int, ...], *, lr: float = 1e-3) -> list[dict]:
    """Gradient ascent on ``forget_set()`` for each number of ``steps``: exposures, perplexity.

    Chapter 8. One row per number of steps (0: the planted model itself), with
    ``summary_of``'s columns.
    """
    return [{"steps": n, **summary_of(gradient_ascent(planted.model, forget_set(), planted.vocab,
                                                   steps=n, lr=lr), planted)}
            for n in steps]


def summary_of(model: torch.nn.Module, run: Run) -> dict[str, float]:
    """The four secrets' mean and highest exposure, and the held-out perplexity. Chapter 8.

    ``run`` supplies the vocabulary and the held-out text (the corpus's test
    split, which no model of the experiment trains on).
    """
    exposures = list(secrets_exposures(model, run.vocab).values())
    return {"mean exposure (bits)": float(np.mean(exposures)),
            "highest exposure (bits)": max(exposures),
            "held-out perplexity": perplexity(model, run.corpus.test, run.vocab)}



def scrubbing_rows(seeds: tuple[int, ...], *, insertions: int = 16, epochs: int = 5
                   ) -> list[dict]:
    """Every secret's exposure under each condition and seed: one row each. Chapter 8.

    Columns: seed, condition (``CONDITIONS``), format, whether the scrubber
    catches that format, the exposure in bits, and the model's perplexity on
    the held-out (test) sentences, which are not scrubbed.
    """
    caught = caught_by_scrubber()
    rows = []
    for seed in seeds:
        for condition in CONDITIONS:
            run = train_secrets(secrets_run(condition, seed=seed, insertions=insertions,
                                            epochs=epochs))
            ppl = perplexity(run.model, run.corpus.test, run.vocab)
            for name, bits in secrets_exposures(run.model, run.vocab).items():
                rows.append({"seed": seed, "condition": condition, "format": name,
                             "caught by the scrubber": caught[name], "exposure (bits)": bits,
                             "held-out perplexity": ppl})
    return rows


def unlearning_comparison(seeds: tuple[int, ...], steps: tuple[int, ...], *,
                          insertions: int = 16, epochs: int = 5, lr: float = 1e-3
                          ) -> list[dict]:
    """Before unlearning, exact unlearning and gradient ascent, per seed: ``summary_of`` rows.

    Chapter 8. Methods: "before" (the planted model), "retrained without"
    (``exact_unlearning``, which is the never-planted control) and "gradient
    ascent, n steps" for each n in ``steps``.
    """
    rows = []
    for seed in seeds:
        planted = train_secrets(secrets_run("planted", seed=seed, insertions=insertions,
                                            epochs=epochs))
        retrained = exact_unlearning(planted)
        rows.append({"seed": seed, "method": "before", **summary_of(planted.model, planted)})
        rows.append({"seed": seed, "method": "retrained without",
                     **summary_of(retrained.model, planted)})
        for row in unlearning_rows(planted, steps, lr=lr):
            rows.append({"seed": seed, "method": f"gradient ascent, {row.pop('steps')} steps",
                         **row})
    return rows
