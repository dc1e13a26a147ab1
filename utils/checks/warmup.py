"""Checks for the warm-up lab (lab 00): softmax, log-softmax, sampling, log-probabilities.

Used in chapter 1's warm-up. Besides small random cases, each check feeds the
inputs where plausible wrong answers part from right ones: a batch whose rows
sit hundreds of logits apart (one maximum for the whole batch underflows),
uniform numbers exactly on the edge of a word's interval, a word of
probability 0, and the last word of the vocabulary. Answers computed in
float32, or returned as NumPy numbers, are accepted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral

import numpy as np
import torch

from utils.checks._core import (
    CheckResult,
    as_tensor,
    call,
    exercise_check,
    expect_shape,
    fail,
    passed,
)

# Offsets of the rows of the wide batch: hundreds of logits apart, so exp(z - max of the
# whole batch) is exactly 0 in every row but one.
_ROW_OFFSETS = (0.0, 900.0, -900.0, 400.0, -400.0, 50.0)
_WIDE_HINT = ("subtract each row's own maximum, logits.max(dim=-1, keepdim=True).values: one "
              "maximum for the whole batch (or a max without keepdim=True, which broadcasts "
              "along the wrong axis) makes whole rows underflow to 0")


def _random_logits(generator: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float64) * 3


def _wide_batch(generator: torch.Generator) -> torch.Tensor:
    """Square logits (6, 6) whose rows differ by hundreds; square, so a missing keepdim runs."""
    offsets = torch.tensor(_ROW_OFFSETS, dtype=torch.float64)
    return _random_logits(generator, (6, 6)) + offsets[:, None]  # (6, 6)


def _excess(value: torch.Tensor, reference: torch.Tensor, logits: torch.Tensor) -> float:
    """How far ``value`` strays beyond float32 rounding of ``reference`` (<= 0: it agrees).

    A float32 answer is right too; its rounding error grows with the size of the
    logits, so the tolerance does.
    """
    tolerance = 1e-6 + 4e-7 * logits.abs().amax(dim=-1, keepdim=True)
    same_inf = torch.isinf(value) & (value == reference)
    diff = torch.where(same_inf, torch.zeros_like(value), (value - reference).abs())
    return float((diff - tolerance).nan_to_num(nan=math.inf).max())


@exercise_check("softmax")
def check_softmax(softmax: Callable, seed: int = 0) -> CheckResult:
    """Softmax over the last axis: non-negative, sums to one, equals torch.softmax."""
    name = "softmax"
    generator = torch.Generator().manual_seed(seed)
    big = _random_logits(generator, (5,)) + 1000.0
    # The batches are square, so a max taken without keepdim runs and can be diagnosed.
    cases = [_random_logits(generator, (7,)), _random_logits(generator, (6, 6)), big,
             _wide_batch(generator)]
    for logits in cases:
        probs = as_tensor(call(softmax, logits.clone(), exercise=name), name)
        if logits is big and not torch.isfinite(probs).all():
            fail(f"{name}: logits near 1000 give nan or inf: exp overflows. Softmax does not "
                 "change when you subtract the same number from every logit; use that")
        expect_shape(probs, tuple(logits.shape), name)
        totals = probs.sum(-1)
        wide = float(logits.amax(-1).max() - logits.amax(-1).min()) > 100
        if wide and not (torch.isfinite(probs).all()
                         and torch.allclose(totals, torch.ones_like(totals), atol=1e-5)):
            fail(f"{name}: for a batch whose rows differ by hundreds of logits some of your "
                 f"rows are nan or do not sum to 1; {_WIDE_HINT}")
        if (probs < 0).any():
            fail(f"{name}: some of your probabilities are negative ({float(probs.min()):.3g}); "
                 "exponentiate the logits before normalising")
        if not torch.allclose(totals, torch.ones_like(totals), atol=1e-5):
            fail(f"{name}: your probabilities sum to {float(totals.flatten()[0]):.4g}, not 1, "
                 "along the last axis")
        if _excess(probs, torch.softmax(logits, -1), logits) > 0:
            if logits.dim() == 2 and _excess(probs, _no_keepdim_softmax(logits), logits) <= 0:
                fail(f"{name}: you subtracted logits.max(dim=-1).values without keepdim=True: "
                     "for a square batch it broadcasts along the wrong axis")
            fail(f"{name}: your probabilities sum to 1 but differ from the softmax by up to "
                 f"{_excess(probs, torch.softmax(logits, -1), logits):.3g}; each should be "
                 "exp(logit) divided by the sum of exps")
    passed(name, len(cases))


def _no_keepdim_softmax(logits: torch.Tensor) -> torch.Tensor:
    shifted = logits - logits.max(dim=-1).values  # broadcasts over rows: the mistake
    return shifted.exp() / shifted.exp().sum(-1, keepdim=True)


@exercise_check("log_softmax")
def check_log_softmax(log_softmax: Callable, seed: int = 0) -> CheckResult:
    """Log-softmax: finite for huge logits and equal to torch.log_softmax."""
    name = "log_softmax"
    generator = torch.Generator().manual_seed(seed)
    cases = [_random_logits(generator, (9,)), _random_logits(generator, (5, 5)),
             _random_logits(generator, (6,)) * 400, _wide_batch(generator)]
    for logits in cases:
        logp = as_tensor(call(log_softmax, logits.clone(), exercise=name), name)
        expect_shape(logp, tuple(logits.shape), name)
        reference = torch.log_softmax(logits, -1)
        wide = logits.dim() == 2 and float(logits.amax(-1).max() - logits.amax(-1).min()) > 100
        if wide and not torch.isfinite(logp).all():
            fail(f"{name}: for a batch whose rows differ by hundreds of logits your result has "
                 f"nan or inf; {_WIDE_HINT}")
        if logits.dim() == 2 and logits.shape[0] == logits.shape[1]:
            no_keepdim = logits - torch.logsumexp(logits, -1)  # broadcasts over rows
            if _excess(logp, no_keepdim, logits) <= 0 < _excess(logp, reference, logits):
                fail(f"{name}: you subtracted a log-sum-exp without keepdim=True: for a "
                     "square batch it broadcasts along the wrong axis")
        if (logp > 1e-6).any():  # float32 rounding may leave a tiny positive value
            fail(f"{name}: a log-probability is positive ({float(logp.max()):.3g}); "
                 "log-probabilities are at most 0")
        if not torch.isfinite(logp).all():
            fail(f"{name}: your result has nan or inf for logits as large as "
                 f"{float(logits.abs().max()):.0f}; compute it without exponentiating the raw "
                 "logits (subtract the max, use the log of a sum of exps)")
        if _excess(logp, reference, logits) > 0:
            total = float(logp.exp().sum(-1).flatten()[0])
            fail(f"{name}: your log-probabilities are off by up to "
                 f"{float((logp - reference).abs().max()):.3g}; "
                 f"their exponentials sum to {total:.4g} (they should sum to 1)")
    passed(name, len(cases))


def _as_index(value: object) -> int | None:
    """A Python int from an int, a NumPy integer or a one-element integer tensor/array."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_floating_point() or value.dtype == torch.bool:
            return None
        return int(value.reshape(-1)[0])
    if isinstance(value, np.ndarray):
        if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
            return None
        return int(value.reshape(-1)[0])
    if isinstance(value, bool) or not isinstance(value, Integral):
        return None
    return int(value)


def _edge_probs() -> tuple[torch.Tensor, list[float]]:
    """Probabilities whose partial sums are exact in binary, one of them 0, and the u to try.

    u equal to a cumulative sum belongs to the NEXT word's interval [lower, upper);
    the word of probability 0 owns an empty interval and is never drawn.
    """
    probs = torch.tensor([0.125, 0.25, 0.0, 0.0625, 0.3125, 0.25], dtype=torch.float64)
    cdf = torch.cumsum(probs, 0)
    uniforms = [0.0, *cdf[:-1].tolist(), math.nextafter(1.0, 0.0)]
    return probs, uniforms


@exercise_check("sample_categorical")
def check_sample_categorical(sample_categorical: Callable, seed: int = 0) -> CheckResult:
    """Inverse-CDF sampling: u in [0, 1) maps to the word whose CDF interval holds u."""
    name = "sample_categorical"
    generator = torch.Generator().manual_seed(seed)
    probs = torch.softmax(_random_logits(generator, (6,)), -1)
    uniforms = torch.rand(2000, generator=generator, dtype=torch.float64).tolist()
    edge_probs, edge_uniforms = _edge_probs()
    # Random u may come within rounding of a cumulative sum your code adds up in another
    # order: allow 1e-12 there. The edge case's sums are exact, so it allows nothing.
    cases = [(probs, u, 1e-12) for u in uniforms] + [(edge_probs, u, 0.0) for u in edge_uniforms]
    for case_probs, u, slack in cases:
        cdf = torch.cumsum(case_probs, 0)
        result = call(sample_categorical, case_probs.clone(), u, exercise=name)
        index = _as_index(result)
        last = len(case_probs) - 1
        if index is None or not 0 <= index <= last:
            fail(f"{name}: return a word index, an integer between 0 and {last}; "
                 f"got {result!r}")
        lower = 0.0 if index == 0 else float(cdf[index - 1])
        # The last word also takes any u above a total that rounding left just below 1.
        upper = math.inf if index == last else float(cdf[index]) + slack
        if lower - slack <= u < upper:
            continue
        if float(case_probs[index]) == 0.0:
            fail(f"{name}: you returned word {index}, whose probability is 0: its interval "
                 "is empty. Return the first index whose cumulative probability is "
                 "strictly greater than u")
        if u == float(cdf[index]):
            fail(f"{name}: for u exactly equal to the cumulative probability of words 0 to "
                 f"{index}, u lies in the interval of the NEXT word (intervals are "
                 "[lower, upper)): return the first index whose cumulative probability is "
                 "strictly greater than u")
        fail(f"{name}: for u = {u:.4f} you returned index {index}, whose interval "
             f"of the cumulative distribution is [{lower:.4f}, {float(cdf[index]):.4f})")
    passed(name, len(cases))


@exercise_check("sequence_log_prob")
def check_sequence_log_prob(sequence_log_prob: Callable, seed: int = 0) -> CheckResult:
    """Log-probability of a token sequence: the sum of log next-token probabilities."""
    name = "sequence_log_prob"
    generator = torch.Generator().manual_seed(seed)
    lengths = (1, 5, 12)
    for length in lengths:
        step_probs = torch.softmax(_random_logits(generator, (length, 8)), -1)
        tokens = torch.randint(0, 8, (length,), generator=generator)
        tokens[-1] = 7  # the last word of the vocabulary, at the last position
        terms = step_probs[torch.arange(length), tokens].log()  # (length,)
        reference = float(terms.sum())
        value = float(as_tensor(call(sequence_log_prob, step_probs.clone(), tokens.clone(),
                                     exercise=name), name).reshape(-1)[0])
        if math.isclose(value, reference, rel_tol=1e-6, abs_tol=1e-6):
            continue
        if math.isclose(value, math.exp(reference), rel_tol=1e-6):
            fail(f"{name}: your value is a probability, not a log-probability; "
                 "sum the logs instead of multiplying")
        if math.isclose(value, reference / length, abs_tol=1e-6):
            fail(f"{name}: your value is the mean over the {length} tokens; "
                 "the log-probability of the sequence is their sum")
        for base in (2, 10):
            if math.isclose(value, reference / math.log(base), abs_tol=1e-6):
                fail(f"{name}: your value uses log base {base}; use the natural logarithm")
        if length == 1 and value == 0:
            fail(f"{name}: for a single token your value is 0: you left out the first or the "
                 "last token. Sum over every position")
        if length > 1 and math.isclose(value, float(terms[:-1].sum()), abs_tol=1e-6):
            fail(f"{name}: you left out the last token; sum over all {length} positions")
        if length > 1 and math.isclose(value, float(terms[1:].sum()), abs_tol=1e-6):
            fail(f"{name}: you left out the first token; sum over all {length} positions")
        if value > 0:
            fail(f"{name}: your value {value:.3f} is positive, but a log-probability is ≤ 0")
        fail(f"{name}: for a sequence of {length} tokens your value differs from the "
             f"correct log-probability by {abs(value - reference):.3g}; take, at each "
             "position, the probability of the token that actually came next")
    passed(name, len(lengths))
