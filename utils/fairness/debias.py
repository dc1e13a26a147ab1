"""Hard debiasing by projection (Bolukbasi et al. 2016) and why it hides bias. Chapter 6.

``gender_direction``: the first principal component of the differences of
definitional pairs (she - he, her - his, ...). ``project_out`` removes that
component from chosen words. Gonen & Goldberg (2019) showed that the words
that were most biased along the direction still sit with one another after
debiasing: ``cluster_recovery`` measures it as the accuracy with which a
2-means clustering, or a k-nearest-neighbour vote, recovers each word's
original side.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier

__all__ = ["DEFINITIONAL_PAIRS", "gender_direction", "project_out", "most_biased",
           "cluster_recovery"]

# Bolukbasi et al.'s ten definitional pairs (female word first).
DEFINITIONAL_PAIRS = (("she", "he"), ("her", "his"), ("woman", "man"), ("mary", "john"),
                      ("herself", "himself"), ("daughter", "son"), ("mother", "father"),
                      ("gal", "guy"), ("girl", "boy"), ("female", "male"))


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def gender_direction(vectors, pairs=DEFINITIONAL_PAIRS) -> np.ndarray:
    """Unit vector (dim,): top principal component of the centred pair vectors, female side +."""
    rows = []
    for female, male in pairs:
        f, m = _unit(vectors[female]), _unit(vectors[male])
        centre = (f + m) / 2
        rows += [f - centre, m - centre]
    _, _, vt = np.linalg.svd(np.array(rows), full_matrices=False)
    direction = vt[0]
    if direction @ (_unit(vectors["she"]) - _unit(vectors["he"])) < 0:
        direction = -direction  # orient so that "she" projects above "he"
    return direction


def project_out(matrix: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """Rows of ``matrix`` (n, dim) made unit length, ``direction`` removed, renormalised."""
    m = _unit(np.asarray(matrix, dtype=np.float64))
    m = m - np.outer(m @ direction, direction)
    return _unit(m)


def most_biased(vectors, direction: np.ndarray, n: int = 500, top: int = 50_000,
                exclude=()) -> tuple[list[str], np.ndarray]:
    """The ``n`` most female- and ``n`` most male-leaning of the ``top`` most frequent words.

    Only alphabetic words count, minus ``exclude``; returns the words and their
    side (1 female, 0 male).
    """
    words = [w for w in vectors.words[:top] if w.isalpha() and w not in set(exclude)]
    proj = _unit(vectors.vectors(words)) @ direction  # (n_words,)
    order = np.argsort(proj)
    male, female = [words[i] for i in order[:n]], [words[i] for i in order[-n:]]
    return female + male, np.array([1] * n + [0] * n)


def cluster_recovery(matrix: np.ndarray, side: np.ndarray, *, seed: int = 0,
                     neighbours: int = 10) -> dict[str, float]:
    """How well the original side is recovered from ``matrix`` (n, dim) without its direction.

    ``kmeans``: accuracy of 2-means clusters matched to sides (0.5 is chance);
    ``knn``: 5-fold cross-validated accuracy of a k-nearest-neighbour vote
    (cosine, via normalised rows).
    """
    m = _unit(np.asarray(matrix, dtype=np.float64))
    labels = KMeans(n_clusters=2, n_init=10, random_state=seed).fit_predict(m)
    agreement = float(np.mean(labels == side))
    knn = cross_val_score(KNeighborsClassifier(n_neighbors=neighbours), m, side, cv=5)
    return {"kmeans": max(agreement, 1 - agreement), "knn": float(knn.mean())}
