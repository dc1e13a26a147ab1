"""The knobs of the synthetic corpus, validated once. Used in chapters 3-10."""

from __future__ import annotations

from dataclasses import dataclass

from utils.data.corpus.grammar import CANARY_DIGITS, FAMILIES

__all__ = ["CorpusConfig"]


@dataclass(frozen=True)
class CorpusConfig:
    """Knobs of the synthetic corpus. Used in chapters 3-6.

    The five ``*_weight`` fields are the relative frequencies of the sentence
    families (normalised, so they need not sum to 1). ``gender_skew`` is the
    planted P(pronoun leans the occupation's way) for the strongest occupations;
    ``gender_cue`` the share of "said that" sentences that name the person's
    gender (", a woman ,"). ``canary`` is a string of five digits planted in the
    training split ``canary_insertions`` times (or ``None``). ``label_noise``
    flips labels of the sentiment task's training split.
    """

    seed: int = 0
    n_sentences: int = 20_000
    valid_fraction: float = 0.05
    test_fraction: float = 0.05
    scene_weight: float = 0.40
    agreement_weight: float = 0.25
    review_weight: float = 0.20
    occupation_weight: float = 0.13
    code_weight: float = 0.02
    gender_skew: float = 0.8
    gender_cue: float = 0.25
    canary: str | None = None
    canary_insertions: int = 0
    label_noise: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer; got {self.seed!r}")
        if not isinstance(self.n_sentences, int) or self.n_sentences < 1:
            raise ValueError(f"n_sentences must be a positive integer; got {self.n_sentences!r}")
        for name in ("valid_fraction", "test_fraction"):
            if not 0.0 <= getattr(self, name) < 0.5:
                raise ValueError(f"{name} must be in [0, 0.5); got {getattr(self, name)!r}")
        weights = [getattr(self, f"{f}_weight") for f in FAMILIES]
        if any(w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(
                "the family weights (scene_weight, agreement_weight, review_weight, "
                f"occupation_weight, code_weight) must be >= 0 with a positive sum; got {weights}"
            )
        if not 0.5 <= self.gender_skew <= 1.0:
            raise ValueError(f"gender_skew must be in [0.5, 1.0]; got {self.gender_skew!r}")
        if not 0.0 <= self.gender_cue <= 1.0:
            raise ValueError(f"gender_cue must be in [0, 1]; got {self.gender_cue!r}")
        if not 0.0 <= self.label_noise <= 0.5:
            raise ValueError(f"label_noise must be in [0, 0.5]; got {self.label_noise!r}")
        if self.canary is not None and not (
            isinstance(self.canary, str) and len(self.canary) == CANARY_DIGITS
            and self.canary.isdigit() and self.canary.isascii()
        ):
            raise ValueError(f"canary must be None or a string of {CANARY_DIGITS} digits, "
                             f"e.g. '48152'; got {self.canary!r}")
        if not isinstance(self.canary_insertions, int) or self.canary_insertions < 0:
            raise ValueError(f"canary_insertions must be an integer >= 0; "
                             f"got {self.canary_insertions!r}")
        if self.canary_insertions > 0 and self.canary is None:
            raise ValueError("canary_insertions > 0 needs a canary, e.g. canary='48152'")
