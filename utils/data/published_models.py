"""Published sizes of well-known pretrained language models, with their sources.

Each number is the one the model's own paper reports. `training_tokens` is
None where the paper does not give the number of tokens seen in training
(GPT-2 reports 40 GB of text, GPT reports a data set rather than a token
count, BERT counts words). Used in chapter 1.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedModel:
    """One model as its paper describes it."""

    name: str
    year: float  # year + (month - 1) / 12 of the paper's first public version
    parameters: float
    training_tokens: float | None
    family: str  # "encoder" (BERT-like), "decoder" (GPT-like) or "encoder-decoder"
    source: str


PUBLISHED_MODELS: tuple[PublishedModel, ...] = (
    PublishedModel("GPT", 2018 + 5 / 12, 117e6, None, "decoder",
                   "Radford et al. 2018, Improving language understanding by generative "
                   "pre-training (size from Radford et al. 2019, Table 2)"),
    PublishedModel("BERT-Large", 2018 + 9 / 12, 340e6, None, "encoder",
                   "Devlin et al. 2019, BERT: pre-training of deep bidirectional transformers"),
    PublishedModel("GPT-2", 2019 + 1 / 12, 1.5e9, None, "decoder",
                   "Radford et al. 2019, Language models are unsupervised multitask learners"),
    PublishedModel("T5-11B", 2019 + 9 / 12, 11e9, 2**35, "encoder-decoder",
                   "Raffel et al. 2020, Exploring the limits of transfer learning with a "
                   "unified text-to-text transformer (2^19 steps of 2^16 tokens)"),
    PublishedModel("GPT-3", 2020 + 4 / 12, 175e9, 300e9, "decoder",
                   "Brown et al. 2020, Language models are few-shot learners"),
    PublishedModel("Gopher", 2021 + 11 / 12, 280e9, 300e9, "decoder",
                   "Rae et al. 2021, Scaling language models: methods, analysis & insights "
                   "from training Gopher"),
    PublishedModel("Chinchilla", 2022 + 2 / 12, 70e9, 1.4e12, "decoder",
                   "Hoffmann et al. 2022, Training compute-optimal large language models"),
    PublishedModel("PaLM", 2022 + 3 / 12, 540e9, 780e9, "decoder",
                   "Chowdhery et al. 2022, PaLM: scaling language modeling with pathways"),
    PublishedModel("LLaMA-65B", 2023 + 1 / 12, 65e9, 1.4e12, "decoder",
                   "Touvron et al. 2023, LLaMA: open and efficient foundation language models"),
    PublishedModel("Llama 2 70B", 2023 + 6 / 12, 70e9, 2e12, "decoder",
                   "Touvron et al. 2023, Llama 2: open foundation and fine-tuned chat models"),
    PublishedModel("Llama 3 405B", 2024 + 6 / 12, 405e9, 15.6e12, "decoder",
                   "Llama Team 2024, The Llama 3 herd of models"),
)

# Brown et al. 2020 (Table D.1) report 3.14e23 floating-point operations for
# training GPT-3: a check on the rule of thumb "training FLOPs ≈ 6 N D".
GPT3_REPORTED_TRAINING_FLOPS = 3.14e23


def training_flops(parameters: float, tokens: float) -> float:
    """Approximate training compute, 6 N D: 2 N per token forward, 4 N backward."""
    return 6.0 * parameters * tokens


def published_model(name: str) -> PublishedModel:
    """Look a model up by name."""
    for entry in PUBLISHED_MODELS:
        if entry.name == name:
            return entry
    raise KeyError(f"no published model named {name!r}; known: {[m.name for m in PUBLISHED_MODELS]}")
