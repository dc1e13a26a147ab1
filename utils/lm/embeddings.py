"""What a language model's word embeddings learned: neighbours, clusters, a 2-D map. Chapter 2.

A model trained only to predict the next word gives words that occur in the
same contexts similar embeddings, because the same predictions must follow
them. These helpers measure that with no labels involved in training:

- ``nearest_neighbours``: the words whose embeddings point most nearly the
  same way (cosine similarity);
- ``neighbour_purity``: for words in known groups, the share of each word's
  ``k`` nearest neighbours that belong to its own group, averaged;
- ``pca_2d``: the two directions along which a set of embeddings varies most,
  for a map that can be drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

__all__ = ["cosine_similarities", "nearest_neighbours", "neighbour_purity", "pca_2d"]


def _as_matrix(embeddings: torch.Tensor | np.ndarray) -> np.ndarray:
    matrix = np.asarray(torch.as_tensor(embeddings).detach().cpu(), dtype=np.float64)
    if matrix.ndim != 2 or len(matrix) < 2:
        raise ValueError(f"embeddings must be a (words, dims) matrix of at least two rows; "
                         f"got shape {matrix.shape}")
    return matrix


def cosine_similarities(embeddings: torch.Tensor | np.ndarray) -> np.ndarray:
    """The (words, words) matrix of cosine similarities between rows. Chapter 2."""
    matrix = _as_matrix(embeddings)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)  # (words, 1)
    unit = matrix / np.where(norms > 0, norms, 1.0)
    return unit @ unit.T  # (words, words)


def nearest_neighbours(embeddings: torch.Tensor | np.ndarray, words: Sequence[str], word: str,
                       k: int = 5, *, candidates: Sequence[str] | None = None
                       ) -> list[tuple[str, float]]:
    """The ``k`` words most cosine-similar to ``word``, with their similarities. Chapter 2.

    ``embeddings`` has one row per entry of ``words`` (a vocabulary's tokens).
    Only ``candidates`` are considered when given (e.g. to leave out special
    tokens); ``word`` itself never is.
    """
    index = {w: i for i, w in enumerate(words)}
    if word not in index:
        raise ValueError(f"{word!r} is not among the words")
    pool = [w for w in (candidates if candidates is not None else words) if w != word]
    missing = [w for w in pool if w not in index]
    if missing:
        raise ValueError(f"candidates not among the words: {missing[:5]}")
    if not isinstance(k, int) or not 1 <= k <= len(pool):
        raise ValueError(f"k must be an integer from 1 to {len(pool)}; got {k!r}")
    matrix = _as_matrix(embeddings)
    rows = [index[w] for w in pool]
    similarity = cosine_similarities(matrix[[index[word], *rows]])[0, 1:]  # (len(pool),)
    order = np.argsort(-similarity, kind="stable")[:k]
    return [(pool[i], float(similarity[i])) for i in order]


def neighbour_purity(embeddings: torch.Tensor | np.ndarray, groups: Mapping[str, Sequence[str]],
                     words: Sequence[str], k: int = 5) -> float:
    """Mean share of each grouped word's ``k`` nearest neighbours in its own group. Chapter 2.

    The neighbours of a word are searched among all the grouped words (every
    group's members, the word itself excluded), by cosine similarity of the
    rows of ``embeddings`` that ``words`` names. With ``g`` groups of equal
    size ``m`` and embeddings that carry no information, the expected purity is
    ``(m - 1) / (g * m - 1)``; 1.0 means every neighbour is a group-mate.
    """
    index = {w: i for i, w in enumerate(words)}
    members = [(w, name) for name, group in groups.items() for w in group]
    missing = [w for w, _ in members if w not in index]
    if missing:
        raise ValueError(f"grouped words not among the words: {missing[:5]}")
    if len({w for w, _ in members}) != len(members):
        raise ValueError("a word belongs to more than one group")
    if not isinstance(k, int) or not 1 <= k < len(members):
        raise ValueError(f"k must be an integer from 1 to {len(members) - 1}; got {k!r}")
    matrix = _as_matrix(embeddings)[[index[w] for w, _ in members]]  # (n, dims)
    similarity = cosine_similarities(matrix)
    np.fill_diagonal(similarity, -np.inf)  # a word is not its own neighbour
    labels = np.array([name for _, name in members])
    nearest = np.argsort(-similarity, axis=1, kind="stable")[:, :k]  # (n, k)
    return float((labels[nearest] == labels[:, None]).mean())


def pca_2d(embeddings: torch.Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates ``(n, 2)`` on the first two principal components, and their variance shares.

    Chapter 2. The rows are centred, and the principal directions are the top
    right singular vectors of the centred matrix; each direction's sign is fixed
    so that its largest entry is positive, so the map does not flip from run
    to run.
    """
    matrix = _as_matrix(embeddings)
    centred = matrix - matrix.mean(axis=0)  # (n, dims)
    _, singular, directions = np.linalg.svd(centred, full_matrices=False)
    top = directions[:2]  # (2, dims)
    signs = np.sign(top[np.arange(2), np.abs(top).argmax(axis=1)])
    top = top * signs[:, None]
    shares = singular**2 / max(float((singular**2).sum()), np.finfo(float).tiny)
    return centred @ top.T, shares[:2]  # (n, 2), (2,)
