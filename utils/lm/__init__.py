"""Language models: n-gram, LSTM, their training, sampling and the cached tiny foundation model.

Chapters 3 and 4. Layer: uses ``utils.data`` only.
"""

from __future__ import annotations

from utils.lm.cache import (  # noqa: F401
    CACHE_VERSION,
    cache_dir,
    config_key,
    load_or_create,
)
from utils.lm.device import (  # noqa: F401
    get_device,
    set_seed,
)
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
)
from utils.lm.pretrained_transformer import (  # noqa: F401
    TransformerPretrainConfig,
    pretrained_transformer,
)
from utils.lm.sampling import (  # noqa: F401
    generate,
    sample_next,
    softmax_at_temperature,
)
from utils.lm.scoped import (  # noqa: F401
    eval_mode,
    local_seed,
    num_threads,
    one_cpu_thread,
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
    "CACHE_VERSION",
    "History",
    "InterpolatedNGram",
    "LSTMLanguageModel",
    "ModelConfig",
    "NGramModel",
    "PretrainConfig",
    "Pretrained",
    "TrainConfig",
    "best_ngram_baseline",
    "cache_dir",
    "config_key",
    "corpus_and_vocab",
    "cosine_similarities",
    "eval_mode",
    "evaluate_language_model",
    "fused_linear_cross_entropy",
    "generate",
    "get_device",
    "init_output_bias",
    "load_or_create",
    "local_seed",
    "nearest_neighbours",
    "neighbour_purity",
    "num_threads",
    "one_cpu_thread",
    "pca_2d",
    "pretrained_model",
    "sample_next",
    "set_seed",
    "softmax_at_temperature",
    "total_variation",
    "train_language_model",
]
