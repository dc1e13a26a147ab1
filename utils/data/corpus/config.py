"""The knobs of the synthetic corpus, validated once. Used in chapters 3-10."""

from __future__ import annotations

from dataclasses import dataclass

from utils.data.corpus.grammar import CANARY_DIGITS, FAMILIES
from utils.params import Integer, Real, validate

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
        fraction = dict(min=0.0, max=0.5, exclusive_max=True)
        checked = validate(
            seed=Integer(self.seed, min=0),
            n_sentences=Integer(self.n_sentences, min=1),
            valid_fraction=Real(self.valid_fraction, **fraction),
            test_fraction=Real(self.test_fraction, **fraction),
            **{f"{f}_weight": Real(getattr(self, f"{f}_weight"), min=0.0) for f in FAMILIES},
            gender_skew=Real(self.gender_skew, min=0.5, max=1.0),
            gender_cue=Real(self.gender_cue, min=0.0, max=1.0),
            canary_insertions=Integer(self.canary_insertions, min=0),
            label_noise=Real(self.label_noise, min=0.0, max=0.5),
        )
        for name, value in checked.as_dict().items():  # NumPy numbers become plain ones
            object.__setattr__(self, name, value)
        weights = [getattr(self, f"{f}_weight") for f in FAMILIES]
        if sum(weights) <= 0:
            raise ValueError(
                "the family weights (scene_weight, agreement_weight, review_weight, "
                f"occupation_weight, code_weight) must be >= 0 with a positive sum; got {weights}"
            )
        if self.canary is not None and not (
            isinstance(self.canary, str) and len(self.canary) == CANARY_DIGITS
            and self.canary.isdigit() and self.canary.isascii()
        ):
            raise ValueError(f"canary must be None or a string of {CANARY_DIGITS} digits, "
                             f"e.g. '48152'; got {self.canary!r}")
        if self.canary_insertions > 0 and self.canary is None:
            raise ValueError("canary_insertions > 0 needs a canary, e.g. canary='48152'")
