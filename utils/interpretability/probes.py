"""Linear probes with control tasks: is a property decodable, and is that the model's doing?

Explained in chapter 7. A probe is a logistic regression trained on a model's
hidden states to predict a property (here the subject's number), scored on
held-out examples. Its accuracy alone says little: a flexible enough probe
can memorise. Hewitt and Liang's control task gives every word type a random
label; the same probe trained on it measures what memorising word identity
buys. Selectivity is the difference.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["ProbeResult", "control_labels", "probe_accuracy", "probe_with_control",
           "train_test_indices"]


@dataclass(frozen=True)
class ProbeResult:
    """Held-out accuracy on the task and on its control task, and their difference. Chapter 7."""

    accuracy: float
    control_accuracy: float

    @property
    def selectivity(self) -> float:
        return self.accuracy - self.control_accuracy


def train_test_indices(n: int, *, test_share: float = 0.5, seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of ``range(n)`` into train and test indices. Chapter 7."""
    if not 0 < test_share < 1:
        raise ValueError(f"test_share must be in (0, 1); got {test_share}")
    order = np.random.default_rng([seed, 7]).permutation(n)
    n_test = max(1, int(round(n * test_share)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def control_labels(word_types: Sequence[Hashable], labels: Sequence[int], *,
                   seed: int = 0) -> np.ndarray:
    """A control task: each word type gets one random label, in the task's proportions.

    Explained in chapter 7 (Hewitt and Liang, 2019). Examples that share a word
    type share a label, so the control task can be learnt only by memorising
    which type is which; the labels keep the task's class balance.
    """
    types = sorted(set(word_types), key=str)
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 8])
    # Draw each type's label from the task's label distribution over examples.
    values, counts = np.unique(labels, return_counts=True)
    drawn = rng.choice(values, size=len(types), p=counts / counts.sum())
    table = dict(zip(types, drawn, strict=True))
    return np.array([table[w] for w in word_types])


def probe_accuracy(features: np.ndarray, labels: np.ndarray, train: np.ndarray,
                   test: np.ndarray, *, c: float = 1.0) -> float:
    """Fit a logistic-regression probe on ``train`` rows; its accuracy on ``test`` rows.

    Explained in chapter 7. Features are standardised with the training rows'
    statistics; ``c`` is the inverse L2 penalty (smaller = a weaker probe).
    """
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000))
    labels = np.asarray(labels)
    if len(np.unique(labels[train])) < 2:
        return float(np.mean(labels[test] == labels[train][0]))
    probe.fit(features[train], labels[train])
    return float(probe.score(features[test], labels[test]))


def probe_with_control(features: np.ndarray, labels: np.ndarray, word_types: Sequence[Hashable],
                       *, c: float = 1.0, seed: int = 0) -> ProbeResult:
    """The probe's held-out accuracy on the task and on a control task. Chapter 7.

    ``features`` is ``(n, hidden_size)``; ``word_types[i]`` is the word whose
    identity the control task keys on (here the subject noun).
    """
    features = np.asarray(features, dtype=float)
    train, test = train_test_indices(len(features), seed=seed)
    control = control_labels(word_types, labels, seed=seed)
    return ProbeResult(accuracy=probe_accuracy(features, labels, train, test, c=c),
                       control_accuracy=probe_accuracy(features, control, train, test, c=c))
