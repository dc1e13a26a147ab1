"""Language models: n-gram, LSTM, their training, sampling and the cached tiny foundation model.

Chapters 3 and 4. Layer: uses ``utils.data``, ``utils.runtime`` and ``utils.params``.
"""

from __future__ import annotations

from utils.lm.embeddings import (  # noqa: F401
    cosine_similarities,
    nearest_neighbours,
    neighbour_purity,
    pca_2d,
)
from utils.lm.fused_loss import (  # noqa: F401
    fused_linear_cross_entropy,
)
from utils.lm.lstm import (  # noqa: F401
    LSTMLanguageModel,
    ModelConfig,
)
from utils.lm.masked import (  # noqa: F401
    evaluate_masked_language_model,
    mask_tokens,
    train_masked_language_model,
)
from utils.lm.ngram import (  # noqa: F401
    InterpolatedNGram,
    NGramModel,
    best_ngram_baseline,
    total_variation,
)
from utils.lm.pretrained import (  # noqa: F401
    PretrainConfig,
    Pretrained,
    corpus_and_vocab,
    pretrained_model,
    train_lstm_run,
)
from utils.lm.pretrained_transformer import (  # noqa: F401
    TransformerPretrainConfig,
    pretrained_transformer,
)
from utils.lm.rnn import RNNLanguageModel, pretrained_rnn  # noqa: F401
from utils.lm.sampling import (  # noqa: F401
    generate,
    generate_causal,
    sample_next,
    softmax_at_temperature,
)
from utils.lm.training import (  # noqa: F401
    History,
    TrainConfig,
    evaluate_language_model,
    init_output_bias,
    train_language_model,
)
from utils.lm.transformer import (  # noqa: F401
    TransformerConfig,
    TransformerLanguageModel,
    causal_self_attention,
)

__all__ = [
    "TransformerConfig",
    "TransformerLanguageModel",
    "causal_self_attention",
    "evaluate_masked_language_model",
    "mask_tokens",
    "train_masked_language_model",
    "TransformerPretrainConfig",
    "pretrained_transformer",
    "RNNLanguageModel",
    "pretrained_rnn",
    "History",
    "InterpolatedNGram",
    "LSTMLanguageModel",
    "ModelConfig",
    "NGramModel",
    "PretrainConfig",
    "Pretrained",
    "TrainConfig",
    "best_ngram_baseline",
    "corpus_and_vocab",
    "cosine_similarities",
    "evaluate_language_model",
    "fused_linear_cross_entropy",
    "generate",
    "generate_causal",
    "init_output_bias",
    "nearest_neighbours",
    "neighbour_purity",
    "pca_2d",
    "pretrained_model",
    "train_lstm_run",
    "sample_next",
    "softmax_at_temperature",
    "total_variation",
    "train_language_model",
]
