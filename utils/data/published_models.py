"""Published sizes of well-known pretrained language models, with their sources.

Each number is the one the model's own paper reports, and each entry says
where: `source` names the paper (and its table or section) as readable text,
`citation` as the key of the course's bibliography.
`training_tokens` is None where the paper does not give the number of tokens
seen in training (GPT-2 reports 40 GB of text, GPT reports a data set rather
than a token count; BERT reports its corpus in words, 3.3 billion, and its
training as 256 sequences of 512 tokens per batch for 1,000,000 steps, which
is tokens processed, passes included, rather than the size of the data). Used
in chapter 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PublishedModel:
    """One model as its paper describes it."""

    name: str
    year: float  # year + (month - 1) / 12 of the paper's first public version
    parameters: float
    training_tokens: float | None
    family: str  # "encoder" (BERT-like), "decoder" (GPT-like) or "encoder-decoder"
    source: str  # the paper, and where in it the numbers are when they are not obvious
    citation: str  # key in references.bib

    @property
    def tokens_per_parameter(self) -> float | None:
        """Training tokens divided by parameters, or None where the tokens are unknown."""
        if self.training_tokens is None:
            return None
        return self.training_tokens / self.parameters


PUBLISHED_MODELS: tuple[PublishedModel, ...] = (
    PublishedModel("GPT", 2018 + 5 / 12, 117e6, None, "decoder",
                   "Radford et al. 2018 (size: Radford et al. 2019, Table 2)",
                   "radford2018improving"),
    PublishedModel("BERT-Large", 2018 + 9 / 12, 340e6, None, "encoder",
                   "Devlin et al. 2019", "devlin2019bert"),
    PublishedModel("GPT-2", 2019 + 1 / 12, 1.5e9, None, "decoder",
                   "Radford et al. 2019, Table 2", "radford2019language"),
    # The T5 baseline pretrains on 2^35 tokens (2^19 steps of 2^16); the final
    # models of section 3.7, 11B included, run 1M steps of 2^11 sequences of 512
    # tokens, "about 1 trillion" (32 times the baseline's).
    PublishedModel("T5-11B", 2019 + 9 / 12, 11e9, 1e12, "encoder-decoder",
                   "Raffel et al. 2020, §3.7 (1M steps of 2^11 × 512 tokens)",
                   "raffel2020exploring"),
    PublishedModel("GPT-3", 2020 + 4 / 12, 175e9, 300e9, "decoder",
                   "Brown et al. 2020, §2.1–2.2", "brown2020language"),
    PublishedModel("Gopher", 2021 + 11 / 12, 280e9, 300e9, "decoder",
                   "Rae et al. 2021", "rae2021scaling"),
    PublishedModel("Chinchilla", 2022 + 2 / 12, 70e9, 1.4e12, "decoder",
                   "Hoffmann et al. 2022", "hoffmann2022training"),
    PublishedModel("PaLM", 2022 + 3 / 12, 540e9, 780e9, "decoder",
                   "Chowdhery et al. 2022", "chowdhery2022palm"),
    PublishedModel("LLaMA-65B", 2023 + 1 / 12, 65e9, 1.4e12, "decoder",
                   "Touvron et al. 2023a", "touvron2023llama"),
    PublishedModel("Llama 2 70B", 2023 + 6 / 12, 70e9, 2e12, "decoder",
                   "Touvron et al. 2023b", "touvron2023llama2"),
    PublishedModel("Llama 3 405B", 2024 + 6 / 12, 405e9, 15.6e12, "decoder",
                   "Llama Team 2024", "dubey2024llama"),
)

# Brown et al. 2020 (Table D.1) report 3.14e23 floating-point operations for
# training GPT-3: a check on the rule of thumb "training FLOPs ≈ 6 N D".
GPT3_REPORTED_TRAINING_FLOPS = 3.14e23


def training_flops(parameters: float, tokens: float) -> float:
    """Approximate training compute, 6 N D: 2 N per token forward, 4 N backward.

    >>> f"{training_flops(175e9, 300e9):.3g}"
    '3.15e+23'
    """
    return 6.0 * parameters * tokens


def published_model(name: str) -> PublishedModel:
    """Look a model up by name.

    >>> published_model("T5-11B").tokens_per_parameter
    90.9090909090909
    """
    for entry in PUBLISHED_MODELS:
        if entry.name == name:
            return entry
    known = [m.name for m in PUBLISHED_MODELS]
    raise KeyError(f"no published model named {name!r}; known: {known}")


def growth_per_year(models: Sequence[PublishedModel], attribute: str) -> float:
    """Factor by which ``attribute`` grows per year: a least-squares line through log10(value).

    Models whose value is None are left out. Chapter 1 compares the growth of
    ``"parameters"`` and ``"training_tokens"`` over windows of years.

    >>> round(growth_per_year([published_model("GPT-3"), published_model("Llama 3 405B")],
    ...                       "training_tokens"), 2)
    2.58
    """
    points = [(m.year, math.log10(getattr(m, attribute))) for m in models
              if getattr(m, attribute) is not None]
    if len(points) < 2 or len({year for year, _ in points}) < 2:
        raise ValueError(f"need models from at least two different years with {attribute}")
    mean_year = sum(year for year, _ in points) / len(points)
    mean_log = sum(value for _, value in points) / len(points)
    slope = (sum((year - mean_year) * (value - mean_log) for year, value in points)
             / sum((year - mean_year) ** 2 for year, _ in points))
    return 10.0 ** slope
