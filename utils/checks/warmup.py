"""Checks for the warm-up lab: softmax, log-softmax, sampling, log-probabilities."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from utils.checks._core import (
    CheckResult,
    as_tensor,
    call,
    exercise_check,
    expect_shape,
    fail,
    passed,
    worst_error,
)


def _random_logits(generator: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=torch.float64) * 3


@exercise_check("softmax")
def check_softmax(softmax: Callable, seed: int = 0) -> CheckResult:
    """Softmax over the last axis: non-negative, sums to one, equals torch.softmax."""
    name = "softmax"
    generator = torch.Generator().manual_seed(seed)
    cases = [_random_logits(generator, (7,)), _random_logits(generator, (4, 10))]
    for logits in cases:
        probs = as_tensor(call(softmax, logits.clone(), exercise=name), name)
        expect_shape(probs, tuple(logits.shape), name)
        if (probs < 0).any():
            fail(f"{name}: some of your probabilities are negative ({float(probs.min()):.3g}); "
                 "exponentiate the logits before normalising")
        totals = probs.sum(-1)
        if not torch.allclose(totals, torch.ones_like(totals), atol=1e-6):
            fail(f"{name}: your probabilities sum to {float(totals.flatten()[0]):.4g}, not 1, "
                 "along the last axis")
        error = worst_error(probs, torch.softmax(logits, -1))
        if error > 1e-6:
            fail(f"{name}: your probabilities sum to 1 but differ from the softmax by up to "
                 f"{error:.3g}; each should be exp(logit) divided by the sum of exps")
    big = _random_logits(generator, (5,)) + 1000.0
    probs = as_tensor(call(softmax, big.clone(), exercise=name), name)
    if not torch.isfinite(probs).all():
        fail(f"{name}: logits near 1000 give nan or inf: exp overflows. Softmax does not "
             "change when you subtract the same number from every logit; use that")
    passed(name, len(cases) + 1)


@exercise_check("log_softmax")
def check_log_softmax(log_softmax: Callable, seed: int = 0) -> CheckResult:
    """Log-softmax: finite for huge logits and equal to torch.log_softmax."""
    name = "log_softmax"
    generator = torch.Generator().manual_seed(seed)
    cases = [_random_logits(generator, (9,)), _random_logits(generator, (3, 6)),
             _random_logits(generator, (6,)) * 400]
    for logits in cases:
        logp = as_tensor(call(log_softmax, logits.clone(), exercise=name), name)
        expect_shape(logp, tuple(logits.shape), name)
        if (logp > 1e-9).any():
            fail(f"{name}: a log-probability is positive ({float(logp.max()):.3g}); "
                 "log-probabilities are at most 0")
        if not torch.isfinite(logp).all():
            fail(f"{name}: your result has nan or inf for logits as large as "
                 f"{float(logits.abs().max()):.0f}; compute it without exponentiating the raw "
                 "logits (subtract the max, use the log of a sum of exps)")
        error = worst_error(logp, torch.log_softmax(logits, -1))
        if error > 1e-6:
            total = float(logp.exp().sum(-1).flatten()[0])
            fail(f"{name}: your log-probabilities are off by up to {error:.3g}; "
                 f"their exponentials sum to {total:.4g} (they should sum to 1)")
    passed(name, len(cases))


@exercise_check("sample_categorical")
def check_sample_categorical(sample_categorical: Callable, seed: int = 0) -> CheckResult:
    """Inverse-CDF sampling: u in [0, 1) maps to the word whose CDF interval holds u."""
    name = "sample_categorical"
    generator = torch.Generator().manual_seed(seed)
    probs = torch.softmax(_random_logits(generator, (6,)), -1)
    cdf = torch.cumsum(probs, 0)
    uniforms = torch.rand(2000, generator=generator, dtype=torch.float64)
    counts = torch.zeros(len(probs))
    for u in uniforms:
        index = call(sample_categorical, probs.clone(), float(u), exercise=name)
        if isinstance(index, torch.Tensor) and index.numel() == 1:
            index = int(index)
        if not isinstance(index, int) or not 0 <= index < len(probs):
            fail(f"{name}: return a word index between 0 and {len(probs) - 1}; got {index!r}")
        lower = 0.0 if index == 0 else float(cdf[index - 1])
        if not lower <= float(u) < float(cdf[index]) + 1e-12:
            fail(f"{name}: for u = {float(u):.4f} you returned index {index}, whose interval "
                 f"of the cumulative distribution is [{lower:.4f}, {float(cdf[index]):.4f})")
        counts[index] += 1
    passed(name, len(uniforms))


@exercise_check("sequence_log_prob")
def check_sequence_log_prob(sequence_log_prob: Callable, seed: int = 0) -> CheckResult:
    """Log-probability of a token sequence: the sum of log next-token probabilities."""
    name = "sequence_log_prob"
    generator = torch.Generator().manual_seed(seed)
    for length in (5, 12):
        step_probs = torch.softmax(_random_logits(generator, (length, 8)), -1)
        tokens = torch.randint(0, 8, (length,), generator=generator)
        reference = float(step_probs[torch.arange(length), tokens].log().sum())
        value = float(as_tensor(call(sequence_log_prob, step_probs.clone(), tokens.clone(),
                                     exercise=name), name))
        if math.isclose(value, reference, abs_tol=1e-6):
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
        if value > 0:
            fail(f"{name}: your value {value:.3f} is positive, but a log-probability is ≤ 0")
        fail(f"{name}: for a sequence of {length} tokens your value differs from the "
             f"correct log-probability by {abs(value - reference):.3g}; take, at each "
             "position, the probability of the token that actually came next")
    passed(name, 2)
