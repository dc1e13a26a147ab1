"""The chapter 8 experiments' models: configured once, trained once, cached. Used in chapter 8.

Every model of the privacy notebook and lab is a ``PrivacyRun``: a corpus
(with its canary), a model size, how to train (privately or not) and whether
the text is deduplicated first. ``train_run`` trains it, recording the
canary's exposure after every epoch, and keeps the weights in the course's
model cache (``utils.lm.cache``), so the notebook, the lab and the tests
share them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch

from utils.data.corpus import Corpus, CorpusConfig
from utils.data.text import Vocab
from utils.lm.cache import config_key, load_or_create
from utils.lm.pretrained import corpus_and_vocab
from utils.privacy.accountant import noise_for_epsilon
from utils.privacy.canary import canary_log2_probs, dedupe_sentences
from utils.privacy.dpsgd import DPLanguageModel
from utils.privacy.exposure import exposure
from utils.privacy.training import PrivateTrainConfig, train_sentences

__all__ = [
    "CANARY", "EXPOSURE_CORPUS", "MEMBERSHIP_CORPUS", "PrivacyRun", "TrainedRun", "train_run",
    "exposure_run", "overfit_run", "dp_run",
]

CANARY = "48152"
# Codes are 5 % of sentences (not the default 2 %), so the model learns that digits
# follow "the code is" and the uniform code distribution is well represented.
EXPOSURE_CORPUS = CorpusConfig(n_sentences=4000, code_weight=0.05)
# A small training set (1000 sentences) that a model can overfit, and 800 held-out
# sentences to serve as non-members in the membership attack.
MEMBERSHIP_CORPUS = CorpusConfig(n_sentences=2000, code_weight=0.05, valid_fraction=0.1,
                                 test_fraction=0.4)
FORMAT_VERSION = 1  # bump when training code changes the weights a run produces


@dataclass(frozen=True)
class PrivacyRun:
    """One model of chapter 8: its data, size and training. Explained in chapter 8."""

    corpus: CorpusConfig = EXPOSURE_CORPUS
    hidden_size: int = 64
    train: PrivateTrainConfig = field(default_factory=lambda: PrivateTrainConfig(epochs=6))
    dedupe: bool = False  # drop exact duplicate training sentences first

    def with_canary(self, insertions: int) -> PrivacyRun:
        """This run with ``CANARY`` planted ``insertions`` times (0: the control)."""
        corpus = dataclasses.replace(self.corpus, canary=CANARY, canary_insertions=insertions)
        return dataclasses.replace(self, corpus=corpus)


@dataclass
class TrainedRun:
    """A trained model with its vocabulary, corpus, training text and record. Chapter 8."""

    model: DPLanguageModel
    vocab: Vocab
    corpus: Corpus
    train_sentences: list[list[str]]
    record: dict
    from_cache: bool


def _training_text(run: PrivacyRun, corpus: Corpus) -> list[list[str]]:
    return dedupe_sentences(corpus.train) if run.dedupe else [list(s) for s in corpus.train]


def train_run(run: PrivacyRun) -> TrainedRun:
    """Load ``run``'s model from the cache, or train and cache it. Explained in chapter 8.

    The record holds ``exposure_by_epoch`` (the canary's exact exposure after
    each epoch, when the corpus has a canary) and the training statistics of
    ``train_sentences``.
    """
    corpus, vocab = corpus_and_vocab(run.corpus)
    text = _training_text(run, corpus)
    generator = torch.Generator().manual_seed(run.train.seed)
    model = DPLanguageModel(len(vocab), run.hidden_size, generator=generator)
    key = "privacy-" + config_key({"run": dataclasses.asdict(run), "format": FORMAT_VERSION})
    trained_now = False

    def create() -> tuple[dict, dict]:
        nonlocal trained_now
        trained_now = True
        by_epoch: list[float] = []

        def on_epoch(epoch: int, m: torch.nn.Module) -> None:
            if run.corpus.canary is not None:
                by_epoch.append(exposure(canary_log2_probs(m, vocab), int(run.corpus.canary)))

        record = train_sentences(model, text, vocab, run.train, on_epoch=on_epoch)
        record["exposure_by_epoch"] = by_epoch
        return model.state_dict(), record

    state_dict, record = load_or_create(key, create)
    if not trained_now:
        model.load_state_dict(state_dict)
    model.eval()
    return TrainedRun(model=model, vocab=vocab, corpus=corpus, train_sentences=text,
                      record=record, from_cache=not trained_now)


def exposure_run(insertions: int, *, seed: int = 0, epochs: int = 6,
                 dedupe: bool = False) -> PrivacyRun:
    """The exposure experiment's model: 64 units, 4000 sentences, the canary k times. Chapter 8."""
    return PrivacyRun(corpus=dataclasses.replace(EXPOSURE_CORPUS, seed=seed),
                      train=PrivateTrainConfig(epochs=epochs, seed=seed),
                      dedupe=dedupe).with_canary(insertions)


def overfit_run(*, seed: int = 0, epochs: int = 20) -> PrivacyRun:
    """A model made to overfit 1000 sentences: 128 units, many epochs, no noise. Chapter 8."""
    return PrivacyRun(corpus=dataclasses.replace(MEMBERSHIP_CORPUS, seed=seed), hidden_size=128,
                      train=PrivateTrainConfig(epochs=epochs, seed=seed)).with_canary(64)


def dp_run(epsilon: float, *, seed: int = 0, epochs: int = 10, delta: float = 1e-5
           ) -> tuple[PrivacyRun, float | None]:
    """The DP-SGD recipe at ``epsilon`` (``math.inf``: the same recipe without DP). Chapter 8.

    The training set is ``MEMBERSHIP_CORPUS``'s (with the canary 64 times);
    batches of expected size 128, clipping norm 1, Adam at 0.01. Returns the
    run and the noise multiplier that spends exactly ``epsilon`` over its steps
    (``None`` without DP).
    """
    corpus = dataclasses.replace(MEMBERSHIP_CORPUS, seed=seed, canary=CANARY,
                                 canary_insertions=64)
    base = PrivateTrainConfig(epochs=epochs, batch_size=128, lr=1e-2, seed=seed,
                              max_grad_norm=1.0)
    if epsilon == float("inf"):
        return PrivacyRun(corpus=corpus, train=base), None
    n = len(corpus_and_vocab(corpus)[0].train)
    steps = epochs * max(1, round(n / base.batch_size))  # as train_sentences draws them
    sigma = noise_for_epsilon(epsilon, base.batch_size / n, steps, delta)
    return PrivacyRun(corpus=corpus, train=dataclasses.replace(base, noise_multiplier=sigma)), sigma
