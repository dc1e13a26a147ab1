"""The course's tiny foundation model: pretrained once, cached, reused everywhere.

Chapter 4 trains it, chapter 5 adapts it, chapter 6 audits it. Any notebook
that needs it calls `pretrained_model(config)`: the first call trains it (about
a minute on a laptop CPU) and saves it in the model cache (`utils.cache`)
under a hash of its configuration; later calls, from any notebook or process,
load it in about a second. Training is seeded, so the same configuration gives
the same model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from utils.data.corpus import Corpus, CorpusConfig, SyntheticLanguage, generate_corpus
from utils.data.text import Vocab, lm_stream
from utils.lm.cache import config_key, load_or_create
from utils.lm.device import get_device
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.scoped import local_seed
from utils.lm.training import TrainConfig, train_language_model

__all__ = ["PretrainConfig", "Pretrained", "pretrained_model", "corpus_and_vocab"]

# Bump when training code changes in a way that changes the weights a config produces,
# so that caches written by older code are retrained rather than reused.
FORMAT_VERSION = 2


def _default_train() -> TrainConfig:
    return TrainConfig(lr=5e-3, batch_size=64, seq_len=35, epochs=10, clip=0.5, seed=0)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that decides the pretrained model: data, sizes, training. Chapter 4."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    emb_size: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.1
    tie_weights: bool = True
    train: TrainConfig = field(default_factory=_default_train)

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The model's sizes for a vocabulary of `vocab_size` words."""
        return ModelConfig(vocab_size=vocab_size, emb_size=self.emb_size,
                           hidden_size=self.hidden_size, num_layers=self.num_layers,
                           dropout=self.dropout, tie_weights=self.tie_weights)


@dataclass
class Pretrained:
    """A pretrained model with the vocabulary, corpus and training record it came with."""

    model: LSTMLanguageModel
    vocab: Vocab
    corpus: Corpus
    config: PretrainConfig
    history: dict
    from_cache: bool


def corpus_and_vocab(corpus_config: CorpusConfig) -> tuple[Corpus, Vocab]:
    """The corpus a configuration generates and the language's fixed vocabulary."""
    corpus = generate_corpus(corpus_config)
    vocab = Vocab.from_dict({"tokens": SyntheticLanguage(corpus_config).vocab})
    return corpus, vocab


def _thin(values: list[float], at_most: int = 400) -> list[float]:
    """Keep a loss curve small enough for the cache's metadata."""
    step = max(1, len(values) // at_most)
    return values[::step]


def pretrained_model(config: PretrainConfig | None = None, *, progress: bool = True) -> Pretrained:
    """Load the pretrained language model from the cache, or train and cache it. Chapter 4."""
    config = config or PretrainConfig()
    corpus, vocab = corpus_and_vocab(config.corpus)
    # Seeded building: the initial weights are part of what the config decides, so a
    # retrain (say, after a corrupt cache file) gives the same model again. The
    # caller's random streams are left alone, on a cache hit too.
    with local_seed(config.train.seed):
        model = LSTMLanguageModel(config.model_config(len(vocab)))
    key = "lstm-lm-" + config_key({"config": dataclasses.asdict(config),
                                   "format": FORMAT_VERSION})
    trained_now = False

    def train() -> tuple[dict, dict]:
        nonlocal trained_now
        trained_now = True
        history = train_language_model(model, lm_stream(corpus.train, vocab),
                                       lm_stream(corpus.valid, vocab), config.train,
                                       progress=progress)
        record = {"train_loss": _thin(history.train_loss), "valid": history.valid,
                  "train_time_s": history.train_time_s, "tokens": history.tokens,
                  "steps": len(history.train_loss)}
        return model.state_dict(), record

    state_dict, history = load_or_create(key, train)
    if not trained_now:
        model.load_state_dict(state_dict)
    model.to(get_device()).eval()
    return Pretrained(model=model, vocab=vocab, corpus=corpus, config=config,
                      history=history, from_cache=not trained_now)
