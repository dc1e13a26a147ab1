"""The Word Embedding Association Test (Caliskan et al. 2017) and its permutation test. Chapter 6.

For target word sets X, Y and attribute sets A, B,

    s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)
    d = (mean_{x in X} s(x) - mean_{y in Y} s(y)) / std_{w in X u Y} s(w)   (sample std)

and the one-sided p-value is the share of equal-size re-partitions (X_i, Y_i)
of X u Y whose statistic sum_{X_i} s - sum_{Y_i} s is at least the observed one.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["WEATResult", "association", "weat", "weat_effect_size", "weat_p_value",
           "WEAT_TESTS", "CONTROL_SEED"]


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def association(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """s(w, A, B) for each row of ``w`` (n, dim) against ``a`` (n_a, dim), ``b`` (n_b, dim)."""
    w, a, b = _unit(w), _unit(a), _unit(b)
    return (w @ a.T).mean(axis=1) - (w @ b.T).mean(axis=1)  # (n,)


def weat_effect_size(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Caliskan's effect size d (sample standard deviation over X u Y)."""
    sx, sy = association(x, a, b), association(y, a, b)
    return float((sx.mean() - sy.mean()) / np.concatenate([sx, sy]).std(ddof=1))


def _partitions(n_x: int, n: int, n_permutations: int | None,
                rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Rows of a boolean (k, n) mask: True marks the words that form X_i."""
    total = math.comb(n, n_x)
    if n_permutations is None or total <= n_permutations:
        masks = np.zeros((total, n), dtype=bool)
        for row, chosen in enumerate(itertools.combinations(range(n), n_x)):
            masks[row, list(chosen)] = True
        return masks, True
    order = np.argsort(rng.random((n_permutations, n)), axis=1)  # random permutations
    masks = np.zeros((n_permutations, n), dtype=bool)
    np.put_along_axis(masks, order[:, :n_x], True, axis=1)
    return masks, False


def weat_p_value(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray, *,
                 n_permutations: int | None = 10_000, alternative: str = "greater",
                 seed: int = 0) -> tuple[float, bool]:
    """Permutation p-value of the WEAT statistic and whether it was exact.

    Exact (every equal-size partition) when there are at most ``n_permutations``
    of them or ``n_permutations`` is None; otherwise that many random
    partitions drawn with ``seed``, and the observed split counted once, so
    p is never 0. ``alternative``: "greater" (Caliskan's one-sided test) or
    "two-sided" (compares absolute values).
    """
    if alternative not in ("greater", "two-sided"):
        raise ValueError(f"alternative must be 'greater' or 'two-sided'; got {alternative!r}")
    s = association(np.concatenate([x, y]), a, b)  # (n_x + n_y,)
    n_x = len(x)
    observed = s[:n_x].sum() - s[n_x:].sum()
    masks, exact = _partitions(n_x, len(s), n_permutations, np.random.default_rng(seed))
    stats = 2 * (masks @ s) - s.sum()  # sum over X_i minus sum over Y_i, (k,)
    tol = 1e-12 * max(1.0, abs(observed))  # ties within round-off count as ties
    if alternative == "greater":
        hits = stats >= observed - tol
    else:
        hits = np.abs(stats) >= abs(observed) - tol
    if exact:
        return float(hits.mean()), True
    return float((hits.sum() + 1) / (len(stats) + 1)), False


@dataclass(frozen=True)
class WEATResult:
    """One WEAT: effect size d, p-value, whether p is exact, and the words that were missing."""

    name: str
    effect_size: float
    p_value: float
    exact: bool
    missing: tuple[str, ...]


def weat(vectors, x_words, y_words, a_words, b_words, *, name: str = "",
         n_permutations: int | None = 10_000, seed: int = 0) -> WEATResult:
    """Run one WEAT on word vectors (``utils.fairness.WordVectors``); missing words are dropped."""
    sets = [x_words, y_words, a_words, b_words]
    missing = tuple(w for words in sets for w in words if w not in vectors.index)
    x, y, a, b = (vectors.vectors([w for w in words if w in vectors.index]) for words in sets)
    p, exact = weat_p_value(x, y, a, b, n_permutations=n_permutations, seed=seed)
    return WEATResult(name, weat_effect_size(x, y, a, b), p, exact, missing)


# The word lists of Caliskan et al. (2017), lowercased for GloVe 6B, and the
# effect sizes they report for GloVe Common Crawl 840B 300-d.
_FLOWERS = ("aster clover hyacinth marigold poppy azalea crocus iris orchid rose bluebell daffodil "
            "lilac pansy tulip buttercup daisy lily peony violet carnation gladiola magnolia "
            "petunia zinnia").split()
_INSECTS = ("ant caterpillar flea locust spider bedbug centipede fly maggot tarantula bee "
            "cockroach gnat mosquito termite beetle cricket hornet moth wasp blackfly dragonfly "
            "horsefly roach weevil").split()
_PLEASANT = ("caress freedom health love peace cheer friend heaven loyal pleasure diamond gentle "
             "honest lucky rainbow diploma gift honor miracle sunrise family happy laughter "
             "paradise vacation").split()
_UNPLEASANT = ("abuse crash filth murder sickness accident death grief poison stink assault "
               "disaster hatred pollute tragedy divorce jail poverty ugly cancer kill rotten "
               "vomit agony prison").split()
_MALE_NAMES = "john paul mike kevin steve greg jeff bill".split()
_FEMALE_NAMES = "amy joan lisa sarah diana kate ann donna".split()
_CAREER = "executive management professional corporation salary office business career".split()
_FAMILY = "home parents children family cousins marriage wedding relatives".split()
_MATH = "math algebra geometry calculus equations computation numbers addition".split()
_ARTS = "poetry art dance literature novel symphony drama sculpture".split()
_MALE_TERMS = "male man boy brother he him his son".split()
_FEMALE_TERMS = "female woman girl sister she her hers daughter".split()

# The seed of the fixed random split of the names that the control test uses.
CONTROL_SEED = 0


def _control_split() -> tuple[list[str], list[str]]:
    """The 16 career/family names in two halves of four male and four female names each.

    Which four go where is drawn at random (``CONTROL_SEED``); since both
    halves hold the same number of male and female names, a gender association
    cannot separate them, and the test should find nothing.
    """
    rng = np.random.default_rng(CONTROL_SEED)
    male, female = rng.permutation(_MALE_NAMES), rng.permutation(_FEMALE_NAMES)
    halves = [*male[:4], *female[:4]], [*male[4:], *female[4:]]
    return sorted(map(str, halves[0])), sorted(map(str, halves[1]))


# name -> (X, Y, A, B, published d on GloVe 840B or None for the control)
WEAT_TESTS = {
    "flowers/insects vs pleasant/unpleasant": (_FLOWERS, _INSECTS, _PLEASANT, _UNPLEASANT, 1.50),
    "male/female names vs career/family": (_MALE_NAMES, _FEMALE_NAMES, _CAREER, _FAMILY, 1.81),
    "math/arts vs male/female terms": (_MATH, _ARTS, _MALE_TERMS, _FEMALE_TERMS, 1.06),
    "control: names split at random vs career/family": (*_control_split(), _CAREER, _FAMILY, None),
}
