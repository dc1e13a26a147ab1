"""Numbers for the course model's model card: the model's quality, family by family. Chapter 9.

Mitchell et al. (2019) ask a model card to report metrics per *factor*, the
groups over which performance may differ. For a language model of the
synthetic language the natural factor is the sentence family, and the
language gives each family's best possible perplexity exactly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from utils.data.corpus.config import CorpusConfig
from utils.data.corpus.language import SyntheticLanguage
from utils.data.text import Vocab
from utils.evaluate.sentence_loss import perplexity, scored_tokens
from utils.misuse.truth import _family_languages, family_entropy_rates

__all__ = ["family_perplexities"]


def family_perplexities(model: nn.Module, vocab: Vocab, sentences: Sequence[Sequence[str]],
                        config: CorpusConfig) -> list[dict]:
    """The model's perplexity on each sentence family of ``sentences``, beside the truth's.

    Each sentence is scored alone after ``<eos>``, its closing ``<eos>``
    counted. ``true_perplexity`` is the true language's on the same sentences
    (the best any model can do on them on average); ``family_floor`` is
    ``exp`` of the family's entropy rate when it is the only family, which a
    model of the mixture cannot reach because it must also tell the families
    apart. Returns one dict per family present. Chapter 9.
    """
    languages = _family_languages(config)
    language = SyntheticLanguage(config)
    floors = family_entropy_rates(config)
    families = [next((f for f, lang in languages.items() if lang.log_prob(s) > -math.inf), None)
                for s in sentences]
    rows = []
    for family in languages:
        inside = [s for s, f in zip(sentences, families, strict=True) if f == family]
        if not inside:
            continue
        tokens = scored_tokens(inside)
        true_nll = -sum(language.log_prob(s) for s in inside)
        rows.append({"family": family, "sentences": len(inside), "tokens": tokens,
                     "perplexity": perplexity(model, inside, vocab),
                     "true_perplexity": math.exp(true_nll / tokens),
                     "family_floor": math.exp(floors[family])})
    return rows
