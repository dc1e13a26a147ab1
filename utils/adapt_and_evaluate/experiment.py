"""The label-budget experiment: how many labels each way of adapting needs. Chapter 5.

``label_budget_experiment`` trains a classifier from scratch, a head on the
frozen pretrained encoder, and a fine-tuned pretrained encoder on growing
numbers of labelled reviews, over several seeds, and scores each on the same
test reviews. ``summarise`` gives the mean and range over seeds; ``scratch_ceiling``
the best accuracy a model that knows only the labelled words can expect.

The task's knobs decide what the curve can show. With ``test_overlap`` = 0
no test word ever occurs in labelled data, and training from scratch stays
at chance however many labels it gets; with some overlap it learns the
shared words and climbs towards ``scratch_ceiling(test_overlap)``, while
pretraining, which has read every word in unlabelled text, gets there with
few labels. ``label_noise`` flips a share of the training labels, as careless
annotators would.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch

from utils.adapt_and_evaluate.classifier import (
    MODES,
    AdaptConfig,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.data.corpus import CorpusConfig, sentiment_split, sentiment_task
from utils.data.corpus.tasks import shared_test_words
from utils.data.padding import encode_with_lengths
from utils.lm.pretrained import Pretrained, pretrained_model

__all__ = [
    "DEFAULT_LABEL_NOISE",
    "DEFAULT_TEST_OVERLAP",
    "label_budget_experiment",
    "scratch_ceiling",
    "summarise",
]

# Chapter 5's defaults: most test words also occur in some labelled review, so a
# model trained from scratch can learn them given enough labels; one label in
# twenty is wrong.
DEFAULT_TEST_OVERLAP = 0.8
DEFAULT_LABEL_NOISE = 0.05


def scratch_ceiling(test_overlap: float) -> float:
    """Expected test accuracy of a model that is right on every shared word and guesses on the rest.

    Chapter 5. Test reviews use the test words equally often, so a share
    ``s`` of them (``utils.data.corpus.tasks.shared_test_words``) use a word the
    labelled data also shows and the rest a word it never shows: s + (1 - s) / 2.
    """
    _, test_words = sentiment_split()
    share = len(shared_test_words(test_overlap)) / len(test_words)
    return share + (1 - share) / 2


def _task(pretrained: Pretrained, n_train: int, n_test: int, seed: int, test_overlap: float,
          label_noise: float) -> tuple:
    """Encoded train and test reviews for one seed: ``(tokens, lengths), labels`` for each."""
    corpus_config = pretrained.config.corpus or CorpusConfig()
    train, test = sentiment_task(corpus_config, n_train=n_train, n_test=n_test, seed=seed,
                                 test_overlap=test_overlap, label_noise=label_noise)
    return (encode_with_lengths([s for s, _ in train], pretrained.vocab),
            torch.tensor([y for _, y in train]),
            encode_with_lengths([s for s, _ in test], pretrained.vocab),
            torch.tensor([y for _, y in test]))


def label_budget_experiment(budgets: Sequence[int], modes: Sequence[str] = MODES,
                            seeds: Sequence[int] = (0, 1, 2), *,
                            config: AdaptConfig | None = None,
                            pretrained: Pretrained | None = None,
                            n_test: int = 500, label_noise: float = DEFAULT_LABEL_NOISE,
                            test_overlap: float = DEFAULT_TEST_OVERLAP,
                            progress: bool = True) -> list[dict]:
    """Test accuracy of each mode trained on each number of labels, for each seed. Chapter 5.

    For each seed, one labelled training set of ``max(budgets)`` reviews and one
    test set are drawn (``utils.data.corpus.sentiment_task`` with ``test_overlap``
    and ``label_noise``); budget b trains on the first b, so budgets are nested.
    Returns one row per (mode, budget, seed): ``{"mode", "budget", "seed",
    "accuracy", "confidence", "train_s"}``, where confidence is the mean
    probability of the predicted class on the test reviews.
    """
    config = config or AdaptConfig()
    pretrained = pretrained or pretrained_model(progress=False)
    if not budgets or not seeds:
        raise ValueError("label_budget_experiment needs at least one budget and one seed")
    for b in budgets:
        if not isinstance(b, int) or b < 2:
            raise ValueError(f"every budget must be an integer >= 2; got {b!r}")
    runs = [(seed, mode, b) for seed in seeds for mode in modes for b in budgets]
    if progress:
        from tqdm.auto import tqdm
        runs = tqdm(runs, desc="training classifiers")
    data: dict[int, tuple] = {}
    rows = []
    for seed, mode, budget in runs:
        if seed not in data:
            data[seed] = _task(pretrained, max(budgets), n_test, seed, test_overlap, label_noise)
        (tokens, lengths), labels, (test_tokens, test_lengths), test_labels = data[seed]
        start = time.perf_counter()
        model = make_classifier(mode, pretrained, pooling=config.pooling, seed=seed)
        train_classifier(model, tokens[:budget], lengths[:budget], labels[:budget],
                         replace(config, mode=mode, seed=seed))
        seconds = time.perf_counter() - start
        confidence, predicted = predict_proba(model, test_tokens, test_lengths).max(dim=-1)
        rows.append({"mode": mode, "budget": budget, "seed": seed,
                     "accuracy": float((predicted == test_labels).double().mean()),
                     "confidence": float(confidence.double().mean()), "train_s": seconds})
    return rows


def summarise(rows: Sequence[dict], key: str = "accuracy") -> dict[tuple[str, int], dict]:
    """Mean, standard deviation, min and max of ``key`` over seeds, per (mode, budget).

    Chapter 5.
    """
    if not rows:
        raise ValueError("nothing to summarise: rows is empty")
    groups: dict[tuple[str, int], list[float]] = {}
    for row in rows:
        groups.setdefault((row["mode"], row["budget"]), []).append(row[key])
    return {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "min": float(np.min(v)),
                "max": float(np.max(v)), "n": len(v)} for k, v in groups.items()}
