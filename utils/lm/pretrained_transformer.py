"""The tiny Transformers beside the course's LSTM: pretrained once, cached. Chapter 4.

``pretrained_transformer(config)`` trains a causal (GPT-like) or a masked-word
(BERT-like) Transformer on the same corpus, batches and number of passes as
the LSTM of ``utils.lm.pretrained``, and caches it like the LSTM.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from utils.data.corpus import CorpusConfig
from utils.data.text import lm_stream
from utils.lm.cache import config_key, load_or_create
from utils.lm.device import get_device
from utils.lm.masked import train_masked_language_model
from utils.lm.pretrained import Pretrained, corpus_and_vocab
from utils.lm.scoped import local_seed
from utils.lm.training import TrainConfig, train_language_model
from utils.lm.transformer import TransformerConfig, TransformerLanguageModel

__all__ = ["OBJECTIVES", "TransformerPretrainConfig", "pretrained_transformer"]

OBJECTIVES = ("causal", "masked")
FORMAT_VERSION = 1


def _default_train() -> TrainConfig:
    # The LSTM's batches and passes; a Transformer wants a short warm-up before Adam's full step.
    return TrainConfig(lr=3e-3, batch_size=64, seq_len=35, epochs=4, clip=0.5, seed=0,
                       warmup_steps=50)


@dataclass(frozen=True)
class TransformerPretrainConfig:
    """Everything that decides a pretrained Transformer. Chapter 4."""

    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    objective: str = "causal"
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 128
    memory: int = 8
    dropout: float = 0.1
    mask_rate: float = 0.15
    train: TrainConfig = field(default_factory=_default_train)

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}; got {self.objective!r}")

    def model_config(self, vocab_size: int, eos_id: int) -> TransformerConfig:
        """Sizes for a vocabulary of ``vocab_size`` words (plus ``<mask>`` when masked)."""
        masked = self.objective == "masked"
        return TransformerConfig(
            vocab_size=vocab_size + masked, d_model=self.d_model, n_heads=self.n_heads,
            n_layers=self.n_layers, d_ff=self.d_ff, memory=0 if masked else self.memory,
            dropout=self.dropout, causal=not masked, pad_id=eos_id if masked else None)


def pretrained_transformer(config: TransformerPretrainConfig | None = None, *,
                           progress: bool = True) -> Pretrained:
    """Load a pretrained Transformer from the cache, or train and cache it. Chapter 4.

    For the masked objective the ``<mask>`` id is ``len(vocab)``, one past the
    course's vocabulary.
    """
    config = config or TransformerPretrainConfig()
    corpus, vocab = corpus_and_vocab(config.corpus)
    with local_seed(config.train.seed):
        model = TransformerLanguageModel(config.model_config(len(vocab), vocab.eos_id))
    key = "transformer-lm-" + config_key({"config": dataclasses.asdict(config),
                                          "format": FORMAT_VERSION})
    trained_now = False

    def train() -> tuple[dict, dict]:
        nonlocal trained_now
        trained_now = True
        train_stream = lm_stream(corpus.train, vocab)
        if config.objective == "masked":
            history = train_masked_language_model(model, train_stream, config.train,
                                                  mask_id=len(vocab), rate=config.mask_rate,
                                                  progress=progress)
            valid = []
        else:
            history = train_language_model(model, train_stream, lm_stream(corpus.valid, vocab),
                                           config.train, progress=progress)
            valid = history.valid
        step = max(1, len(history.train_loss) // 400)
        return model.state_dict(), {"train_loss": history.train_loss[::step], "valid": valid,
                                    "train_time_s": history.train_time_s,
                                    "tokens": history.tokens}

    state_dict, history = load_or_create(key, train)
    if not trained_now:
        model.load_state_dict(state_dict)
    model.to(get_device()).eval()
    return Pretrained(model=model, vocab=vocab, corpus=corpus, config=config,
                      history=history, from_cache=not trained_now)
