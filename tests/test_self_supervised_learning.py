"""Chapter 2: embeddings learned by next-word prediction group synonyms with no labels.

The measures are checked against scikit-learn (nearest neighbours by cosine
distance, PCA), then applied to the course's pretrained model. Pilot run (the
default pretrained model, k = 5): neighbour purity 0.70 for the pretrained
embeddings, 0.17 for the same model with random weights (seed 0), against an
expected 5/35 = 0.14 for embeddings that carry no information.
"""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from utils.data.corpus import SENTIMENT_CLUSTERS
from utils.lm.embeddings import cosine_similarities, nearest_neighbours, neighbour_purity, pca_2d
from utils.lm.lstm import LSTMLanguageModel
from utils.lm.pretrained import pretrained_model
from utils.runtime.scoped import local_seed

GROUPS = {name: members for name, _, members in SENTIMENT_CLUSTERS}


def _toy(seed: int = 0, n_groups: int = 4, size: int = 5, dims: int = 8, noise: float = 1.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_groups, dims))
    groups = {f"g{g}": [f"w{g}_{i}" for i in range(size)] for g in range(n_groups)}
    words = [w for members in groups.values() for w in members]
    matrix = np.repeat(centres, size, axis=0) + noise * rng.normal(size=(len(words), dims))
    return matrix, groups, words


def test_cosine_similarities_match_torch():
    matrix, _, _ = _toy()
    t = torch.as_tensor(matrix)
    expected = torch.nn.functional.cosine_similarity(t[:, None, :], t[None, :, :], dim=-1)
    np.testing.assert_allclose(cosine_similarities(matrix), expected.numpy(), atol=1e-12)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_neighbour_purity_matches_scikit_learn(k):
    matrix, groups, words = _toy(noise=1.5)
    labels = np.array([w.split("_")[0] for w in words])
    # k + 1 neighbours: each point is its own nearest (cosine distance 0), dropped below.
    index = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(matrix)
    _, found = index.kneighbors(matrix)
    expected = np.mean([np.mean(labels[row[row != i][:k]] == labels[i])
                        for i, row in enumerate(found)])
    assert neighbour_purity(matrix, groups, words, k) == pytest.approx(expected)
    # Words that are not in any group are ignored: adding one changes nothing.
    padded = np.vstack([matrix, matrix[:1] * 0.99])
    assert neighbour_purity(padded, groups, [*words, "stray"], k) == pytest.approx(expected)


def test_neighbour_purity_extremes_and_errors():
    matrix, groups, words = _toy(noise=0.0)  # every group is one point: perfect clusters
    assert neighbour_purity(matrix, groups, words, 4) == 1.0
    with pytest.raises(ValueError, match="k must be"):
        neighbour_purity(matrix, groups, words, 20)
    with pytest.raises(ValueError, match="not among the words"):
        neighbour_purity(matrix, {"a": ["nope", "w0_0"]}, words, 1)


def test_nearest_neighbours_are_sorted_and_skip_the_word_itself():
    matrix, _, words = _toy()
    found = nearest_neighbours(matrix, words, "w0_0", 4)
    similarity = cosine_similarities(matrix)[0]
    expected = sorted(((w, similarity[i]) for i, w in enumerate(words) if i), key=lambda x: -x[1])
    assert [w for w, _ in found] == [w for w, _ in expected[:4]]
    np.testing.assert_allclose([s for _, s in found], [s for _, s in expected[:4]])
    only = nearest_neighbours(matrix, words, "w0_0", 2, candidates=["w3_1", "w2_2", "w0_0"])
    assert {w for w, _ in only} == {"w3_1", "w2_2"}


def test_pca_2d_matches_scikit_learn_up_to_sign():
    matrix, _, _ = _toy(dims=12)
    points, shares = pca_2d(matrix)
    reference = PCA(n_components=2).fit(matrix)
    expected = reference.transform(matrix)
    for j in range(2):
        sign = np.sign(points[:, j] @ expected[:, j])
        np.testing.assert_allclose(points[:, j], sign * expected[:, j], atol=1e-9)
    np.testing.assert_allclose(shares, reference.explained_variance_ratio_, rtol=1e-9)


def test_pretrained_embeddings_group_synonyms_far_better_than_random_ones():
    pre = pretrained_model(progress=False)
    with local_seed(0):
        untrained = LSTMLanguageModel(pre.model.config)
    pretrained_purity = neighbour_purity(pre.model.embedding.weight, GROUPS, pre.vocab.itos, 5)
    random_purity = neighbour_purity(untrained.embedding.weight, GROUPS, pre.vocab.itos, 5)
    report = f"neighbour purity: pretrained {pretrained_purity:.2f}, random {random_purity:.2f}"
    assert pretrained_purity >= random_purity + 0.35, report
    assert pretrained_purity >= 0.6, report
    assert random_purity < 0.3, report  # near chance, 5/35
