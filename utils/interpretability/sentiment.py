"""Scoring attributions on the sentiment task, where the word that carries the label is known.

Explained in chapter 7. Every review of ``utils.data.sentiment_task`` reads
"the <item> was [intensifier] <sentiment word> .", and only the sentiment word
(second to last) decides the label. So an attribution method can be scored:
the share of reviews whose highest-scoring token is that word. This module
trains (once, then caches) the chapter 5 classifier to explain and the
label-randomised one of the sanity check, and computes those scores.
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
    predict_proba,
    train_classifier,
)
from utils.data.corpus import LabelledSentences, sentiment_task
from utils.interpretability.randomise import permuted_labels
from utils.lm.pretrained import PretrainConfig, Pretrained
from utils.runtime import Run, TrainingRecord, cached_run, thin

__all__ = ["LABELS", "ClassifierRunConfig", "chance_level", "rank_correlation",
           "sentiment_positions", "top_token_accuracy", "trained_classifier",
           "training_reviews"]


LABELS = ("true", "permuted")
# Label randomisation trains in rounds of this many epochs until the model fits
# this share of its training labels, or gives up after the most epochs.
MEMORISE_ROUND, MEMORISE_TARGET, MEMORISE_MAX_EPOCHS = 5, 0.99, 300


@dataclass(frozen=True)
class ClassifierRunConfig:
    """Chapter 5's classifier on the pretrained model, trained on ``n_train`` reviews. Chapter 7.

    ``labels="permuted"`` is Adebayo et al.'s label randomisation (see
    `trained_classifier`).
    """

    # Bump when the training recipe below changes, so older cached classifiers are retrained.
    version: ClassVar[int] = 3

    pretrain: PretrainConfig
    adapt: AdaptConfig
    n_train: int = 500
    labels: str = "true"

    def __post_init__(self) -> None:
        if self.labels not in LABELS:
            raise ValueError(f"labels must be one of {LABELS}; got {self.labels!r}")

    @property
    def seed(self) -> int:
        """The classifier's seed: its head, its training reviews, their order and permutation."""
        return self.adapt.seed


def trained_classifier(pretrained: Pretrained, config: AdaptConfig | None = None, *,
                       n_train: int = 500, labels: str = "true"
                       ) -> Run[ClassifierRunConfig, SentimentClassifier]:
    """The chapter 5 classifier trained on ``n_train`` reviews, from the model cache. Chapter 7.

    The first call trains it (``config``: ``mode`` decides fine-tuned or frozen,
    default fine-tuned; ``seed`` draws the head, the reviews, their order and
    the permutation) and caches it; later calls load it.

    ``labels="true"`` trains ``config.epochs`` passes over the reviews.
    ``labels="permuted"`` is the label-randomisation test of Adebayo et al.: the
    same reviews, each kept once (a review drawn twice could carry two labels
    and could not be memorised), with their labels permuted evenly over the
    sentiment words (`permuted_labels`), so they carry no sentiment at all; it
    trains until it fits ``MEMORISE_TARGET`` of them (at most
    ``MEMORISE_MAX_EPOCHS`` epochs). Either way ``record.measured`` holds the
    training accuracy, the epochs and the labels' agreement with the sentiment.
    """
    run_config = ClassifierRunConfig(pretrained.config, config or AdaptConfig(), n_train, labels)

    def build(c: ClassifierRunConfig) -> SentimentClassifier:
        return make_classifier(pretrained, c.adapt)

    def train(model: SentimentClassifier, c: ClassifierRunConfig) -> TrainingRecord:
        reviews, true_labels = training_reviews(pretrained, c)
        if c.labels == "true":
            losses = train_classifier(model, reviews.tokens, reviews.lengths, reviews.labels,
                                      c.adapt)
            epochs = c.adapt.epochs
        else:
            losses, epochs = _memorise(model, reviews, c.adapt)
        measured = {"train_accuracy": _accuracy(model, reviews), "epochs": epochs,
                    "rows": len(reviews),
                    "agreement": float((reviews.labels == true_labels).double().mean())}
        return TrainingRecord(steps=len(losses), train_loss=thin(losses), measured=measured)

    return cached_run("sentiment-classifier", run_config, build, train, vocab=pretrained.vocab,
                      corpus=pretrained.corpus)


def training_reviews(pretrained: Pretrained, config: ClassifierRunConfig
                     ) -> tuple[LabelledSentences, torch.Tensor]:
    """The reviews ``config`` trains on, labelled as it trains, and their true labels. Chapter 7."""
    corpus = replace(pretrained.corpus.config, seed=config.adapt.seed)
    reviews, _ = sentiment_task(corpus, n_train=config.n_train, n_test=1)
    if config.labels == "true":
        return reviews, reviews.labels
    first = {}
    for row, text in enumerate(reviews.texts):
        first.setdefault(tuple(text), row)
    keep = sorted(first.values())
    words = [reviews.texts[row][-2] for row in keep]
    word_ids = torch.tensor([sorted(set(words)).index(w) for w in words])
    true = reviews.labels[keep]
    distinct = LabelledSentences([reviews.texts[row] for row in keep], reviews.tokens[keep],
                                 reviews.lengths[keep],
                                 permuted_labels(true, word_ids, seed=config.adapt.seed))
    return distinct, true


def _accuracy(model: SentimentClassifier, reviews: LabelledSentences) -> float:
    predicted = predict_proba(model, reviews.tokens, reviews.lengths).argmax(1)
    return float((predicted == reviews.labels).double().mean())


def _memorise(model: SentimentClassifier, reviews: LabelledSentences,
              config: AdaptConfig) -> tuple[list[float], int]:
    """Train in rounds until the model fits ``MEMORISE_TARGET`` of its labels: (losses, epochs)."""
    losses: list[float] = []
    epochs = 0
    while epochs < MEMORISE_MAX_EPOCHS and (
            epochs == 0 or _accuracy(model, reviews) < MEMORISE_TARGET):
        round_config = replace(config, epochs=MEMORISE_ROUND, min_steps=0,
                               seed=config.seed + 1000 * epochs)  # a new batch order each round
        losses += train_classifier(model, reviews.tokens, reviews.lengths, reviews.labels,
                                   round_config)
        epochs += MEMORISE_ROUND
    return losses, epochs


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
