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

import pandas as pd

from utils.adapt_and_evaluate.classifier import (
    MODES,
    AdaptConfig,
    make_classifier,
    predict_proba,
    train_classifier,
)
from utils.data.corpus import LabelledSentences, sentiment_split, sentiment_task
from utils.data.corpus.tasks import shared_test_words
from utils.lm.pretrained import Pretrained, pretrained_model
from utils.runtime import config_columns

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
          label_noise: float) -> tuple[LabelledSentences, LabelledSentences]:
    """The train and test reviews of one seed, with the pretrained model's vocabulary."""
    corpus_config = replace(pretrained.config.corpus, seed=seed, label_noise=label_noise)
    return sentiment_task(corpus_config, n_train=n_train, n_test=n_test,
                          test_overlap=test_overlap)


def label_budget_experiment(budgets: Sequence[int], modes: Sequence[str] = MODES,
                            seeds: Sequence[int] = (0, 1, 2), *,
                            config: AdaptConfig | None = None,
                            pretrained: Pretrained | None = None,
                            n_test: int = 500, label_noise: float = DEFAULT_LABEL_NOISE,
                            test_overlap: float = DEFAULT_TEST_OVERLAP,
                            progress: bool = True) -> pd.DataFrame:
    """Test accuracy of each mode trained on each number of labels, for each seed. Chapter 5.

    For each seed, one labelled training set of ``max(budgets)`` reviews and one
    test set are drawn (``utils.data.corpus.sentiment_task`` with ``test_overlap``
    and ``label_noise``); budget b trains on the first b, so budgets are nested.
    Each run is ``config`` with that mode and seed. Returns one row per (mode,
    budget, seed): the run's ``AdaptConfig`` fields (mode, seed, ...), ``budget``,
    ``accuracy``, ``confidence`` (the mean probability of the predicted class on
    the test reviews) and ``train_s``.
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
    data: dict[int, tuple[LabelledSentences, LabelledSentences]] = {}
    rows = []
    for seed, mode, budget in runs:
        if seed not in data:
            data[seed] = _task(pretrained, max(budgets), n_test, seed, test_overlap, label_noise)
        train, test = data[seed][0][:budget], data[seed][1]
        run = replace(config, mode=mode, seed=seed)
        start = time.perf_counter()
        model = make_classifier(pretrained, run)
        train_classifier(model, train.tokens, train.lengths, train.labels, run)
        seconds = time.perf_counter() - start
        confidence, predicted = predict_proba(model, test.tokens, test.lengths).max(dim=-1)
        rows.append({**config_columns(run), "budget": budget,
                     "accuracy": float((predicted == test.labels).double().mean()),
                     "confidence": float(confidence.double().mean()), "train_s": seconds})
    return pd.DataFrame(rows)


def summarise(runs: pd.DataFrame, key: str = "accuracy") -> dict[tuple[str, int], dict]:
    """Mean, standard deviation, min and max of ``key`` over seeds, per (mode, budget).

    Chapter 5. ``runs`` is ``label_budget_experiment``'s DataFrame; the standard
    deviation is the population one (``ddof=0``).
    """
    if len(runs) == 0:
        raise ValueError("nothing to summarise: runs is empty")
    groups = runs.groupby(["mode", "budget"], sort=False)[key]
    return {(str(mode), int(budget)): {"mean": float(v.mean()), "std": float(v.std(ddof=0)),
                                       "min": float(v.min()), "max": float(v.max()),
                                       "n": len(v)}
            for (mode, budget), v in groups}
