"""Count-based n-gram language models: the maximum-likelihood estimate, add-k, interpolation.

Used in chapter 3 (and in chapter 4 as the baseline the LSTM must beat).

Conventions match ``utils.data.corpus``: a sentence is a list of tokens ending with
``"."``, which is predicted like any word (it is the end-of-sentence event).
The history of the first words is padded with ``<eos>``, the token that
separates sentences in the language-model stream, so an n-gram model and the
LSTM see the same left context. Perplexity counts every token of a sentence,
``"."`` included, and no ``<eos>``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from utils.data.text import EOS, UNK  # EOS pads the start of a sentence

__all__ = ["InterpolatedNGram", "NGramModel", "best_ngram_baseline", "total_variation"]


class _LanguageModel:
    """What every model here shares: P(word | history) and the scores built on it."""

    vocab: list[str]
    n: int

    def prob(self, word: str, history: Sequence[str]) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def next_word_distribution(self, history: Sequence[str]) -> dict[str, float]:
        """P(word | history) for every word of the vocabulary; sums to 1."""
        return {w: self.prob(w, history) for w in self.vocab}

    def log_prob(self, sentence: Sequence[str]) -> float:
        """Natural-log probability of a sentence: the sum of log P(token | its history)."""
        total = 0.0
        for i, word in enumerate(sentence):
            p = self.prob(word, sentence[:i])
            if p <= 0.0:
                return -math.inf
            total += math.log(p)
        return total

    def perplexity(self, sentences: Iterable[Sequence[str]]) -> float:
        """exp(mean negative log-likelihood per token); ``math.inf`` if any token has P = 0."""
        nll, tokens = 0.0, 0
        for sentence in sentences:
            nll -= self.log_prob(sentence)
            tokens += len(sentence)
        if tokens == 0:
            raise ValueError("perplexity needs at least one token")
        return math.exp(nll / tokens) if math.isfinite(nll) else math.inf


class NGramModel(_LanguageModel):
    """An n-gram model with add-k smoothing: P(w | h) = (c(h, w) + k) / (c(h) + k |V|).

    Used in chapter 3. ``k = 0`` is the maximum-likelihood estimate c(h, w) / c(h).
    For a history never seen in training (c(h) = 0) the formula is 0/0 when
    ``k = 0``; the model then falls back to the uniform distribution 1 / |V|
    (which is also what add-k gives there), so its distributions always sum to 1.
    """

    def __init__(self, n: int, k: float = 0.0) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer; got {n!r}")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 <= k < math.inf:
            raise ValueError(f"k must be a number >= 0; got {k!r}")
        self.n = n
        self.k = float(k)
        self.vocab: list[str] = []
        self._counts: dict[tuple[str, ...], dict[str, int]] = {}
        self._totals: dict[tuple[str, ...], int] = {}

    def fit(self, sentences: Iterable[Sequence[str]], vocab: Sequence[str]) -> NGramModel:
        """Count each (history, word) pair in ``sentences``; words not in ``vocab`` become <unk>."""
        self.vocab = list(vocab)
        known = set(self.vocab)
        if not self.vocab:
            raise ValueError("vocab is empty: give the list of tokens the model predicts")
        if len(known) != len(self.vocab):
            raise ValueError("vocab must not repeat a token")
        counts: dict[tuple[str, ...], dict[str, int]] = {}
        pad = [EOS] * (self.n - 1)
        for sentence in sentences:
            tokens = pad + self._known(sentence, known)
            for i in range(self.n - 1, len(tokens)):
                row = counts.setdefault(tuple(tokens[i - self.n + 1 : i]), {})
                row[tokens[i]] = row.get(tokens[i], 0) + 1
        self._counts = counts
        self._totals = {h: sum(row.values()) for h, row in counts.items()}
        return self

    @staticmethod
    def _known(sentence: Sequence[str], known: set[str]) -> list[str]:
        out = [w if w in known else UNK for w in sentence]
        if UNK in out and UNK not in known:
            unknown = sorted({w for w in sentence if w not in known})
            raise ValueError(f"words {unknown} are not in vocab, which has no {UNK!r}")
        return out

    def with_k(self, k: float) -> NGramModel:
        """The same counts with another smoothing constant ``k`` (no refitting)."""
        model = NGramModel(self.n, k)
        model.vocab, model._counts, model._totals = self.vocab, self._counts, self._totals
        return model

    def history_key(self, history: Sequence[str]) -> tuple[str, ...]:
        """The last n-1 tokens of ``history``, left-padded with <eos>: what the model sees."""
        if self.n == 1:
            return ()
        h = list(history[-(self.n - 1) :])
        return tuple([EOS] * (self.n - 1 - len(h)) + h)

    def counts(self, history: Sequence[str]) -> dict[str, int]:
        """Training counts c(h, w) of the words seen after ``history`` (shown in chapter 3)."""
        return dict(self._counts.get(self.history_key(history), {}))

    def prob(self, word: str, history: Sequence[str]) -> float:
        """P(word | history) by the add-k formula (uniform for an unseen history when k = 0)."""
        if not self.vocab:
            raise RuntimeError("call fit(sentences, vocab) first")
        h = self.history_key(history)
        total = self._totals.get(h, 0)
        v = len(self.vocab)
        if total == 0:
            return 1.0 / v
        c = self._counts[h].get(word, 0)
        return (c + self.k) / (total + self.k * v)

    def __repr__(self) -> str:
        return f"NGramModel(n={self.n}, k={self.k:g}, histories={len(self._counts)})"


class InterpolatedNGram(_LanguageModel):
    """Linear interpolation of the uniform, unigram, ..., n-gram MLEs (Jelinek-Mercer).

    Used in chapters 3-4. P(w | h) = l_0 / |V| + sum_j l_j P_j(w | last j-1 words),
    with weights l fitted on held-out sentences by expectation-maximisation, so
    the model never gives an event probability 0.
    """

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive integer; got {n!r}")
        self.n = n
        self.vocab: list[str] = []
        self.components: list[NGramModel] = []
        self.weights = np.full(n + 1, 1.0 / (n + 1))  # (n + 1,): uniform, 1-gram, ..., n-gram

    def fit(self, sentences: Sequence[Sequence[str]], vocab: Sequence[str],
            valid: Sequence[Sequence[str]] | None = None) -> InterpolatedNGram:
        """Count orders 1..n on ``sentences``; with ``valid``, also fit the weights there."""
        models = [NGramModel(j).fit(sentences, vocab) for j in range(1, self.n + 1)]
        return self._from_components(models, valid)

    def _from_components(self, models: Sequence[NGramModel],
                         valid: Sequence[Sequence[str]] | None) -> InterpolatedNGram:
        self.components = list(models)
        self.vocab = self.components[0].vocab
        if valid is not None:
            self.fit_weights(valid)
        return self

    def _component_probs(self, sentences: Sequence[Sequence[str]]) -> np.ndarray:
        rows = [
            [1.0 / len(self.vocab)] + [m.prob(w, s[:i]) for m in self.components]
            for s in sentences for i, w in enumerate(s)
        ]
        return np.array(rows)  # (tokens, n + 1)

    def fit_weights(self, valid: Sequence[Sequence[str]], iters: int = 200) -> np.ndarray:
        """Choose the weights that maximise the likelihood of ``valid`` (EM); returns them."""
        if not self.components:
            raise RuntimeError("call fit(sentences, vocab) first")
        probs = self._component_probs(valid)  # (tokens, n + 1)
        if len(probs) == 0:
            raise ValueError("valid has no tokens to fit the weights on")
        w = np.full(self.n + 1, 1.0 / (self.n + 1))
        for _ in range(iters):
            # E-step: how much each component explains each token; M-step: average.
            resp = probs * w
            resp /= resp.sum(axis=1, keepdims=True)
            w = resp.mean(axis=0)
        self.weights = w
        return w

    def prob(self, word: str, history: Sequence[str]) -> float:
        """P(word | history): the weighted sum of the component probabilities."""
        if not self.components:
            raise RuntimeError("call fit(sentences, vocab) first")
        p = self.weights[0] / len(self.vocab)
        for w, m in zip(self.weights[1:], self.components, strict=True):
            p += w * m.prob(word, history)
        return float(p)

    def __repr__(self) -> str:
        weights = ", ".join(f"{w:.3f}" for w in self.weights)
        return f"InterpolatedNGram(n={self.n}, weights=[{weights}])"


def best_ngram_baseline(
    train: Sequence[Sequence[str]], valid: Sequence[Sequence[str]], vocab: Sequence[str],
    orders: Sequence[int] = (2, 3, 4), ks: Sequence[float] = (0.001, 0.01, 0.1, 1.0),
) -> tuple[_LanguageModel, float, str]:
    """The n-gram with the lowest validation perplexity over a small grid. Used in chapter 4.

    Tries add-k models for every order in ``orders`` and k in ``ks``, and the
    interpolated model of every order (weights fitted on ``valid``, so its
    validation perplexity is slightly optimistic: report test perplexity too).
    Returns ``(model, valid_perplexity, description)``.
    """
    top = max(orders)
    mle = [NGramModel(j).fit(train, vocab) for j in range(1, top + 1)]
    candidates: list[tuple[_LanguageModel, str]] = []
    for n in orders:
        candidates += [(mle[n - 1].with_k(k), f"{n}-gram, add-{k:g} smoothing") for k in ks]
        interp = InterpolatedNGram(n)._from_components(mle[:n], valid)
        candidates.append((interp, f"{n}-gram, interpolated with orders 0-{n} (EM weights)"))
    scored = [(m.perplexity(valid), desc, m) for m, desc in candidates]
    ppl, desc, model = min(scored, key=lambda t: t[0])
    return model, ppl, desc


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """Total-variation distance 0.5 * sum |p(w) - q(w)| between two distributions. Chapter 3."""
    return 0.5 * sum(abs(p.get(w, 0.0) - q.get(w, 0.0)) for w in set(p) | set(q))
