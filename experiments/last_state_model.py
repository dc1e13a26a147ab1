"""The source article's model (last state -> linear -> softmax) beside the course's LSTM.

Both read the same corpus. The article's model sees one next word per window
of 35 (stateless, shuffled windows, Keras defaults, Adam 1e-3, eps 1e-7) for
760 steps, the optimizer steps of the course's 10-epoch model; the course's
model (``pretrained_model``) predicts at every position with its carried state.
Both are scored on the same predictions: the word after each 35-token window
of the test text (stride 35), read from a zero state, as ``model.evaluate`` would;
and the course's model also on its own every-position test perplexity.

    cd experiments && OMP_NUM_THREADS=1 ../.venv/bin/python last_state_model.py
"""

from __future__ import annotations

import dataclasses

import numpy as np

from utils.data import CorpusConfig, lm_stream
from utils.lm import PretrainConfig, evaluate_language_model, pretrained_model
from utils.lm.last_state import (
    LastStateConfig,
    evaluate_next_word,
    next_word_windows,
    pretrained_last_state,
)

SEEDS = (0, 1, 2)


def lstm_config(seed: int, epochs: int) -> PretrainConfig:
    """The course's recipe with corpus and training seed ``seed``."""
    base = PretrainConfig()
    return dataclasses.replace(base, corpus=CorpusConfig(seed=seed),
                               train=dataclasses.replace(base.train, epochs=epochs, seed=seed))


def fmt(values: np.ndarray) -> str:
    return f"{values.mean():.3f} [{values.min():.3f}, {values.max():.3f}]"


def main() -> None:
    out: dict[str, list[float]] = {}
    for seed in SEEDS:
        article = pretrained_last_state(LastStateConfig(corpus=CorpusConfig(seed=seed),
                                                        seed=seed))
        course = pretrained_model(lstm_config(seed, 10), progress=False)
        stream = lm_stream(course.corpus.test, course.vocab)
        inputs, targets = next_word_windows(stream, 35, stride=35)
        for name, model in (("article", article.model), ("course", course.model)):
            metrics = evaluate_next_word(model, inputs, targets)
            out.setdefault(f"{name} accuracy", []).append(metrics["accuracy"])
            out.setdefault(f"{name} perplexity", []).append(metrics["perplexity"])
        out.setdefault("course every-position perplexity", []).append(
            evaluate_language_model(course.model, stream)["perplexity"])
        out.setdefault("article train_s", []).append(article.record.train_time_s)
        print(seed, {k: round(v[-1], 3) for k, v in out.items()}, flush=True)
    for key, values in out.items():
        print(f"{key:34} {fmt(np.array(values))}")


if __name__ == "__main__":
    main()
