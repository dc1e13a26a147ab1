"""The synthetic language with known next-word probabilities, and the tasks drawn from it.

Used in chapters 3-10; see ``book/corpus_datasheet.md``.
"""

from __future__ import annotations

from utils.data.corpus.config import (  # noqa: F401
    CorpusConfig,
)
from utils.data.corpus.generate import (  # noqa: F401
    Corpus,
    generate_corpus,
)
from utils.data.corpus.grammar import (  # noqa: F401
    ANIMALS,
    CANARY_DIGITS,
    CANARY_PREFIX,
    DIGITS,
    FAMILIES,
    GENDER_SWAPS,
    OCCUPATIONS,
    REVIEW_ITEMS,
    SENTIMENT_CLUSTERS,
    family_transitions,
    occupation_she_probability,
)
from utils.data.corpus.language import (  # noqa: F401
    SyntheticLanguage,
)
from utils.data.corpus.tasks import (  # noqa: F401
    AgreementItem,
    LabelledSentences,
    agreement_items,
    canary_candidates,
    canary_sentence,
    sentiment_split,
    sentiment_task,
    shared_test_words,
    swap_gender,
)

__all__ = [
    "ANIMALS",
    "AgreementItem",
    "LabelledSentences",
    "CANARY_DIGITS",
    "CANARY_PREFIX",
    "Corpus",
    "CorpusConfig",
    "DIGITS",
    "FAMILIES",
    "GENDER_SWAPS",
    "OCCUPATIONS",
    "REVIEW_ITEMS",
    "SENTIMENT_CLUSTERS",
    "SyntheticLanguage",
    "agreement_items",
    "canary_candidates",
    "canary_sentence",
    "family_transitions",
    "generate_corpus",
    "occupation_she_probability",
    "sentiment_split",
    "sentiment_task",
    "shared_test_words",
    "swap_gender",
]
