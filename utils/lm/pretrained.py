"""The course's tiny foundation model: pretrained once, cached, reused everywhere.

Chapter 4 trains it, chapter 5 adapts it, chapter 6 audits it. Any notebook
that needs it calls `pretrained_model(config)`: the first call trains it (about
a minute on a laptop CPU) and saves it in the model cache through
``utils.runtime.cached_run`` under a hash of its configuration; later calls,
from any notebook or process, load it in about a second. Training is seeded,
so the same configuration gives the same model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from utils.data.corpus import Corpus, CorpusConfig, SyntheticLanguage, generate_corpus
from utils.data.text import Vocab, lm_stream
from utils.lm.lstm import LSTMLanguageModel, ModelConfig
from utils.lm.training import TrainConfig, train_language_model
from utils.runtime import Run, RunConfig, TrainingRecord, cached_run, get_device

__all__ = [
    "PretrainConfig", "Pretrained", "corpus_and_vocab", "pretrained_model", "train_lstm_run",
]


def _default_train() -> TrainConfig:
    return TrainConfig(lr=5e-3, batch_size=64, seq_len=35, epochs=10, clip=0.5, seed=0)


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that decides the pretrained model: data, sizes, training. Chapter 4."""

    # Bump when training code changes the weights a config produces (cached runs then retrain).
    version: ClassVar[int] = 3

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    emb_size: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.1
    tie_weights: bool = True
    train: TrainConfig = field(default_factory=_default_train)

    @property
    def seed(self) -> int:
        """The run's seed: the training seed, which also draws the initial weights."""
        return self.train.seed

    def model_config(self, vocab_size: int) -> ModelConfig:
        """The model's sizes for a vocabulary of `vocab_size` words."""
        return ModelConfig(vocab_size=vocab_size, emb_size=self.emb_size,
                           hidden_size=self.hidden_size, num_layers=self.num_layers,
                           dropout=self.dropout, tie_weights=self.tie_weights)


# The course's pretrained LSTM: a run of ``PretrainConfig``.
Pretrained = Run[PretrainConfig, LSTMLanguageModel]


def corpus_and_vocab(corpus_config: CorpusConfig) -> tuple[Corpus, Vocab]:
    """The corpus a configuration generates and the language's fixed vocabulary."""
    corpus = generate_corpus(corpus_config)
    vocab = Vocab.from_dict({"tokens": SyntheticLanguage(corpus_config).vocab})
    return corpus, vocab


def train_lstm_run(name: str, config: RunConfig, corpus: Corpus, vocab: Vocab,
                   text: list[list[str]] | None = None, *, progress: bool = False) -> Run:
    """The course's LSTM trained on ``text`` (default the corpus's training text), cached.

    Chapters 4 and 9. ``config`` is a ``PretrainConfig``, or a configuration
    that holds one as ``config.pretrain`` beside what else decides the run (a
    poison rate, say): the model's sizes, seed and schedule are the
    ``PretrainConfig``'s, so a variant of the course's model differs from it only
    by its text.
    """
    text = corpus.train if text is None else text
    recipe: PretrainConfig = config if isinstance(config, PretrainConfig) else config.pretrain

    def build(_: RunConfig) -> LSTMLanguageModel:
        return LSTMLanguageModel(recipe.model_config(len(vocab))).to(get_device())

    def train(model: LSTMLanguageModel, _: RunConfig) -> TrainingRecord:
        history = train_language_model(model, lm_stream(text, vocab),
                                       lm_stream(corpus.valid, vocab), recipe.train,
                                       progress=progress)
        return history.to_record()

    return cached_run(name, config, build, train, vocab=vocab, corpus=corpus, train_text=text)


def pretrained_model(config: PretrainConfig | None = None, *, progress: bool = True) -> Pretrained:
    """Load the pretrained language model from the cache, or train and cache it. Chapter 4."""
    config = config or PretrainConfig()
    corpus, vocab = corpus_and_vocab(config.corpus)
    return train_lstm_run("lstm-lm", config, corpus, vocab, progress=progress)
