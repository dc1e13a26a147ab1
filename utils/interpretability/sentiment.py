"""Scoring attributions on the sentiment task, where the word that carries the label is known.

Explained in chapter 7. Every review of ``utils.data.sentiment_task`` reads
"the <item> was [intensifier] <sentiment word> .", and only the sentiment word
(second to last) decides the label. So an attribution method can be scored:
the share of reviews whose highest-scoring token is that word. This module
trains (once, then caches) the chapter 5 classifier to explain, makes a
randomised copy for the sanity check, and computes those scores.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

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
from utils.lm.pretrained import PretrainConfig, Pretrained
from utils.runtime import Run, TrainingRecord, cached_run, thin

__all__ = ["ClassifierRunConfig", "chance_level", "rank_correlation", "sentiment_positions",
           "top_token_accuracy", "trained_classifier"]


@dataclass(frozen=True)
class ClassifierRunConfig:
    """Chapter 5's classifier on the pretrained model, trained on ``n_train`` reviews. Chapter 7."""

    # Bump when the training recipe below changes, so older cached classifiers are retrained.
    version: ClassVar[int] = 2

    pretrain: PretrainConfig
    adapt: AdaptConfig
    n_train: int = 500
    label_noise: float = 0.0

    @property
    def seed(self) -> int:
        """The classifier's seed: its head, its training reviews and their order."""
        return self.adapt.seed


def trained_classifier(pretrained: Pretrained, config: AdaptConfig | None = None, *,
                       n_train: int = 500, label_noise: float = 0.0
                       ) -> Run[ClassifierRunConfig, SentimentClassifier]:
    """The chapter 5 classifier trained on ``n_train`` reviews, from the model cache. Chapter 7.

    The first call trains it (``config``: ``mode`` decides fine-tuned or frozen,
    default fine-tuned; ``seed`` draws the head, the reviews and their order)
    and caches it; later calls load it. ``label_noise=0.5`` makes every training
    label a coin flip: the data-randomisation test of Adebayo et al.
    """
    run_config = ClassifierRunConfig(pretrained.config, config or AdaptConfig(), n_train,
                                     label_noise)

    def build(c: ClassifierRunConfig) -> SentimentClassifier:
        return make_classifier(pretrained, c.adapt)

    def train(model: SentimentClassifier, c: ClassifierRunConfig) -> TrainingRecord:
        corpus = replace(pretrained.corpus.config, seed=c.adapt.seed, label_noise=c.label_noise)
        reviews, _ = sentiment_task(corpus, n_train=c.n_train, n_test=1)
        losses = train_classifier(model, reviews.tokens, reviews.lengths, reviews.labels, c.adapt)
        return TrainingRecord(steps=len(losses), train_loss=thin(losses))

    return cached_run("sentiment-classifier", run_config, build, train, vocab=pretrained.vocab,
                      corpus=pretrained.corpus)


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
