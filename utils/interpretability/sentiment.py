"""Scoring attributions on the sentiment task, where the word that carries the label is known.

Explained in chapter 7. Every review of ``utils.data.sentiment_task`` reads
"the <item> was [intensifier] <sentiment word> .", and only the sentiment word
(second to last) decides the label. So an attribution method can be scored:
the share of reviews whose highest-scoring token is that word. This module
trains (once, then caches) the chapter 5 classifier to explain, makes a
randomised copy for the sanity check, and computes those scores.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from scipy.stats import spearmanr

from utils.adapt_and_evaluate.classifier import (
    AdaptConfig,
    SentimentClassifier,
    make_classifier,
    train_classifier,
)
from utils.data.corpus import sentiment_task
from utils.data.padding import encode_with_lengths
from utils.lm.cache import config_key, load_or_create
from utils.lm.pretrained import Pretrained
from utils.lm.scoped import local_seed

__all__ = ["chance_level", "rank_correlation", "sentiment_positions",
           "top_token_accuracy", "trained_classifier"]

# Bump when the training recipe below changes, so older cached classifiers are retrained.
_FORMAT = 1


def trained_classifier(pretrained: Pretrained, *, config: AdaptConfig | None = None,
                       n_train: int = 500, label_noise: float = 0.0,
                       seed: int = 0) -> SentimentClassifier:
    """The chapter 5 classifier trained on ``n_train`` reviews, from the model cache. Chapter 7.

    The first call trains it (``config.mode`` decides fine-tuned or frozen,
    default fine-tuned) and saves the weights under a key made of every
    setting; later calls load them. ``label_noise=0.5`` makes every training
    label a coin flip: the data-randomisation test of Adebayo et al.
    """
    config = dataclasses.replace(config or AdaptConfig(), seed=seed)
    corpus = dataclasses.replace(pretrained.config.corpus, label_noise=label_noise)
    key = "sentiment-classifier-" + config_key({
        "pretrained": dataclasses.asdict(pretrained.config), "adapt": dataclasses.asdict(config),
        "n_train": n_train, "format": _FORMAT,
        **({"label_noise": label_noise} if label_noise else {})})
    with local_seed(seed):  # whatever the helpers draw, the caller's random stream is kept
        model = make_classifier(config.mode, pretrained, pooling=config.pooling, seed=seed)

    def create() -> tuple[dict, dict]:
        train, _ = sentiment_task(corpus, n_train=n_train, n_test=1, seed=seed)
        tokens, lengths = encode_with_lengths([s for s, _ in train], pretrained.vocab)
        with local_seed(seed):
            losses = train_classifier(model, tokens, lengths,
                                      torch.tensor([y for _, y in train]), config)
        return model.state_dict(), {"final_loss": losses[-1], "steps": len(losses)}

    state_dict, _ = load_or_create(key, create)
    model.load_state_dict(state_dict)
    return model.eval()


def sentiment_positions(lengths: torch.Tensor) -> torch.Tensor:
    """Index of the sentiment word in ``encode_with_lengths`` rows ``(batch,)``: second to last."""
    return lengths - 2


def _real_token_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """True at the sentence's own words: not the leading ``<eos>``, not the padding."""
    positions = torch.arange(seq_len)[None, :]
    return (positions >= 1) & (positions < lengths.cpu()[:, None])  # (batch, seq_len)


def top_token_accuracy(scores: torch.Tensor, lengths: torch.Tensor,
                       positions: torch.Tensor) -> float:
    """Share of rows whose highest-scoring word is at ``positions``. Chapter 7.

    ``scores`` is ``(batch, seq_len)`` (see `token_scores`); the leading
    ``<eos>`` and the padding never count.
    """
    masked = scores.detach().cpu().double().masked_fill(
        ~_real_token_mask(lengths, scores.shape[1]), -math.inf)
    return float((masked.argmax(dim=1) == positions.cpu()).double().mean())


def chance_level(lengths: torch.Tensor) -> float:
    """Top-token accuracy of a method that picks a word at random: mean of 1 / words."""
    return float((1.0 / (lengths.double() - 1)).mean())


def rank_correlation(scores_a: torch.Tensor, scores_b: torch.Tensor,
                     lengths: torch.Tensor) -> float:
    """Mean over rows of Spearman's rank correlation between two token scorings. Chapter 7."""
    mask = _real_token_mask(lengths, scores_a.shape[1])
    values = []
    for a, b, m in zip(scores_a.detach().cpu(), scores_b.detach().cpu(), mask, strict=True):
        rho = spearmanr(a[m].numpy(), b[m].numpy()).statistic
        values.append(0.0 if np.isnan(rho) else float(rho))
    return float(np.mean(values))
