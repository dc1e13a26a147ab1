"""Shared helpers for the chapter 4-5 transfer experiments: models, probes, purity.

The experiments in this folder are the record behind the course's claims about
why (and when) the tiny Transformers transfer to chapter 5's review task. Each
script prints its table; run one at a time with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from utils.adapt_and_evaluate import encode_sentences
from utils.data import CorpusConfig, sentiment_task
from utils.data.corpus import SENTIMENT_CLUSTERS
from utils.lm import (
    PretrainConfig,
    TransformerPretrainConfig,
    neighbour_purity,
    pretrained_model,
    pretrained_transformer,
)

SEEDS = (0, 1, 2)
CLUSTERS = {name: words for name, _, words in SENTIMENT_CLUSTERS}


def lstm_config(seed: int, epochs: int = 4) -> PretrainConfig:
    base = PretrainConfig()
    return dataclasses.replace(base, corpus=CorpusConfig(seed=seed),
                               train=dataclasses.replace(base.train, epochs=epochs, seed=seed))


def transformer_config(seed: int, objective: str, epochs: int = 4, **train_changes
                       ) -> TransformerPretrainConfig:
    base = TransformerPretrainConfig()
    return dataclasses.replace(
        base, corpus=CorpusConfig(seed=seed), objective=objective,
        train=dataclasses.replace(base.train, epochs=epochs, seed=seed, **train_changes))


def load(config):
    start = time.perf_counter()
    loader = pretrained_model if isinstance(config, PretrainConfig) else pretrained_transformer
    pre = loader(config, progress=False)
    return pre, time.perf_counter() - start


@torch.no_grad()
def layer_states(model, tokens: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's states ``(batch, seq, d)``: the embeddings first, the top layer last."""
    model.eval()
    if hasattr(model, "lstm"):
        emb = model.embedding(tokens)
        return [emb, model.lstm(emb)[0]]
    x, keep = model._embed(tokens), model._keep(tokens)
    states = [x]
    for block in model.blocks:
        x = block(x, keep)
        states.append(x)
    states.append(model.norm(x))
    return states


def pooled(states: torch.Tensor, lengths: torch.Tensor, how: str) -> np.ndarray:
    if how == "last":
        return states[torch.arange(len(states)), lengths - 1].numpy()
    mask = (torch.arange(states.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
    return ((states * mask).sum(1) / lengths[:, None]).numpy()


def review_data(pre, seed: int, n_train: int, n_test: int = 500, test_overlap: float = 0.0,
                label_noise: float = 0.0):
    train, test = sentiment_task(pre.corpus.config, n_train=n_train, n_test=n_test,
                                 seed=seed, test_overlap=test_overlap, label_noise=label_noise)
    enc = [encode_sentences([s for s, _ in part], pre.vocab) for part in (train, test)]
    labels = [np.array([y for _, y in part]) for part in (train, test)]
    return enc[0], labels[0], enc[1], labels[1]


def probe_table(pre, seed: int, n_train: int, test_overlap: float = 0.0) -> dict[str, float]:
    """Held-out accuracy of a logistic-regression probe per (layer, pooling), frozen states.

    ``seed`` draws the reviews; the recipe sweeps pass validation seeds (100 and up),
    never the seeds of the reported learning curve.
    """
    (xtr, ltr), ytr, (xte, lte), yte = review_data(pre, seed, n_train, test_overlap=test_overlap)
    train_states, test_states = layer_states(pre.model, xtr), layer_states(pre.model, xte)
    out = {}
    for layer, (a, b) in enumerate(zip(train_states, test_states, strict=True)):
        for how in ("last", "mean"):
            probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
            probe.fit(pooled(a, ltr, how), ytr)
            out[f"L{layer}-{how}"] = float(probe.score(pooled(b, lte, how), yte))
    return out


def purity(pre) -> float:
    """Chapter 2's neighbour purity of the sentiment words' input embeddings (chance 5/35)."""
    words = pre.vocab.itos
    return neighbour_purity(pre.model.embedding.weight[: len(words)], CLUSTERS, words, k=5)


def fmt(values) -> str:
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.3f} [{values.min():.3f}, {values.max():.3f}]"
