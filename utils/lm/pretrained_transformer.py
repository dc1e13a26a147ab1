"""The tiny Transformers beside the course's LSTM: pretrained once, cached. Chapter 4.

``pretrained_transformer(config)`` trains a causal (GPT-like) or a masked-word
(BERT-like) Transformer on the same corpus, batches and number of passes as
the LSTM of ``utils.lm.pretrained``, and caches it like the LSTM
(``utils.runtime.cached_run``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from utils.data.corpus import CorpusConfig
from utils.data.text import lm_stream
from utils.lm.masked import train_masked_language_model
from utils.lm.pretrained import corpus_and_vocab
from utils.lm.training import TrainConfig, train_language_model
from utils.lm.transformer import TransformerConfig, TransformerLanguageModel
from utils.runtime import Run, TrainingRecord, cached_run, get_device

__all__ = ["OBJECTIVES", "TransformerPretrainConfig", "pretrained_transformer"]

OBJECTIVES = ("causal", "masked")


def _default_train() -> TrainConfig:
    # The LSTM's batches and passes; a Transformer wants a short warm-up before Adam's full step.
    return TrainConfig(lr=3e-3, batch_size=64, seq_len=35, epochs=4, clip=0.5, seed=0,
                       warmup_steps=50)


@dataclass(frozen=True)
class TransformerPretrainConfig:
    """Everything that decides a pretrained Transformer. Chapter 4."""

    # Bump when training code changes the weights a config produces (cached runs then retrain).
    version: ClassVar[int] = 3

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    objective: str = "causal"
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    memory: int = 8
    dropout: float = 0.1
    # BERT hides 15 % of the words; at this size twice that gives twice the
    # masked-word signal per pass and transfers better (Wettig et al., 2023 find
    # higher rates than 15 % better for larger models too).
    mask_rate: float = 0.3
    # None: the recipe measured to transfer for the objective, a separate output
    # layer for the next-word model and one shared matrix for the masked one.
    tied: bool | None = None
    train: TrainConfig = field(default_factory=_default_train)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}; got {self.objective!r}")
        if not 0.0 < self.mask_rate < 1.0:
            raise ValueError(f"mask_rate must be in (0, 1); got {self.mask_rate!r}")
        if self.tied not in (None, True, False):
            raise ValueError(f"tied must be True, False or None; got {self.tied!r}")

    @property
    def ties_weights(self) -> bool:
        """Whether the input embedding and the output layer are one matrix."""
        return self.objective == "masked" if self.tied is None else self.tied

    @property
    def seed(self) -> int:
        """The run's seed: the training seed, which also draws the initial weights."""
        return self.train.seed

    def model_config(self, vocab_size: int, eos_id: int) -> TransformerConfig:
        """Sizes for a vocabulary of ``vocab_size`` words (plus ``<mask>`` when masked)."""
        masked = self.objective == "masked"
        return TransformerConfig(
            vocab_size=vocab_size + masked, d_model=self.d_model, n_heads=self.n_heads,
            n_layers=self.n_layers, d_ff=self.d_ff, memory=0 if masked else self.memory,
            dropout=self.dropout, causal=not masked, pad_id=eos_id if masked else None,
            tied=self.ties_weights)


def pretrained_transformer(config: TransformerPretrainConfig | None = None, *,
                           progress: bool = True
                           ) -> Run[TransformerPretrainConfig, TransformerLanguageModel]:
    """Load a pretrained Transformer from the cache, or train and cache it. Chapter 4.

    For the masked objective the ``<mask>`` id is ``len(vocab)``, one past the
    course's vocabulary.
    """
    config = config or TransformerPretrainConfig()
    corpus, vocab = corpus_and_vocab(config.corpus)

    def build(c: TransformerPretrainConfig) -> TransformerLanguageModel:
        return TransformerLanguageModel(c.model_config(len(vocab), vocab.eos_id)).to(get_device())

    def train(model: TransformerLanguageModel, c: TransformerPretrainConfig) -> TrainingRecord:
        train_stream = lm_stream(corpus.train, vocab)
        if c.objective == "masked":
            return train_masked_language_model(model, train_stream, c.train, mask_id=len(vocab),
                                               rate=c.mask_rate, progress=progress).to_record()
        return train_language_model(model, train_stream, lm_stream(corpus.valid, vocab), c.train,
                                    progress=progress).to_record()

    return cached_run("transformer-lm", config, build, train, vocab=vocab, corpus=corpus,
                      train_text=corpus.train)
