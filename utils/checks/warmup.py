"""Checks for the warm-up lab (lab 00): softmax, log-softmax, sampling, log-probabilities.

Used in chapter 1's warm-up. Each exercise is data (`EXERCISES`): cases from a
seed, a run that calls the student's function on private copies, and a judge
that computes the reference from the case. Besides small random cases, the
cases hold the inputs where plausible wrong answers part from right ones:
logits near 1000, a row whose own logits span thousands (subtracting the
mean or the minimum overflows; the log of a softmax underflows), a batch
whose rows sit hundreds of logits apart (one maximum for the whole batch
underflows), uniform numbers exactly on the edge of a word's interval, a word
of probability 0, the last word of the vocabulary. Answers computed in
float32, or returned as NumPy numbers, are accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from utils.checks._core import Case, Exercise, Wrong, checker
from utils.checks._judging import as_array, expect_shape
from utils.i18n import N_, _

__all__ = ["EXERCISES", "check_log_softmax", "check_sample_categorical",
           "check_sequence_log_prob", "check_softmax"]

# Offsets of the rows of the wide batch: hundreds of logits apart, so exp(z - max of the
# whole batch) is exactly 0 in every row but one.
_ROW_OFFSETS = (0.0, 900.0, -900.0, 400.0, -400.0, 50.0)
_WIDE_HINT = N_("subtract each row's own maximum, logits.max(dim=-1, keepdim=True).values: one "
                "maximum for the whole batch (or a max without keepdim=True, which broadcasts "
                "along the wrong axis) makes whole rows underflow to 0")


def _logits_cases(seed: int, spread_scale: float) -> list[Case]:
    """Random vectors and square batches (a max without keepdim runs and can be named)."""
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> np.ndarray:
        return (torch.randn(shape, generator=generator, dtype=torch.float64) * 3).numpy()
    return [{"logits": randn(7), "kind": "plain"}, {"logits": randn(6, 6), "kind": "plain"},
            {"logits": randn(5) + 1000.0, "kind": "big"},
            {"logits": randn(6) * spread_scale, "kind": "spread"},
            {"logits": randn(6, 6) + np.array(_ROW_OFFSETS)[:, None], "kind": "wide"}]


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy())


def _agrees(value: np.ndarray, reference: np.ndarray, logits: np.ndarray) -> bool:
    """Equal up to float32 rounding, whose error grows with the size of the logits."""
    tolerance = 1e-6 + 4e-7 * np.abs(logits).max(axis=-1, keepdims=True)
    same_inf = np.isinf(value) & (value == reference)
    with np.errstate(invalid="ignore"):
        diff = np.where(same_inf, 0.0, np.abs(value - reference))
    return bool(np.all(np.nan_to_num(diff, nan=np.inf) <= tolerance))


def _reference_log_softmax(logits: np.ndarray) -> np.ndarray:
    return torch.log_softmax(torch.from_numpy(logits), -1).numpy()


def _square(logits: np.ndarray) -> bool:
    return logits.ndim == 2 and logits.shape[0] == logits.shape[1]


# ---------------------------------------------------------------- softmax
def _judge_softmax(case: Case, output: Any) -> str | None:
    logits, kind = case["logits"], case["kind"]
    probs = as_array(output, _("your probabilities"))
    if kind == "big" and not np.isfinite(probs).all():
        return _("logits near 1000 give nan or inf: exp overflows. Softmax does not change "
                 "when you subtract the same number from every logit; use that")
    expect_shape(probs, logits.shape, _("your probabilities"))
    totals = probs.sum(-1)
    sums_to_one = bool(np.isfinite(probs).all() and np.allclose(totals, 1.0, atol=1e-5))
    if kind == "spread" and not sums_to_one:
        return _("for a row whose own logits span thousands your probabilities are nan or do "
                 "not sum to 1: subtract the row's maximum (not its mean, minimum or first "
                 "value), so that the largest exponent is e^0 = 1 and nothing overflows")
    if kind == "wide" and not sums_to_one:
        return _("for a batch whose rows differ by hundreds of logits some of your rows are "
                 "nan or do not sum to 1; {wide_hint}").format(wide_hint=_(_WIDE_HINT))
    if (probs < 0).any():
        return _("some of your probabilities are negative ({lowest:.3g}); exponentiate "
                 "the logits before normalising").format(lowest=probs.min())
    if not sums_to_one:
        return _("your probabilities sum to {total:.4g}, not 1, along the last axis").format(
            total=totals.flatten()[0])
    if _agrees(probs, np.exp(_reference_log_softmax(logits)), logits):
        return None
    if _square(logits):
        shifted = logits - logits.max(axis=-1)  # broadcasts over rows: the mistake
        if _agrees(probs, np.exp(shifted) / np.exp(shifted).sum(-1, keepdims=True), logits):
            return _("you subtracted logits.max(dim=-1).values without keepdim=True: for a "
                     "square batch it broadcasts along the wrong axis")
    return _("your probabilities sum to 1 but are not the softmax; each should be exp(logit) "
             "divided by the sum of the exps of its row")


def _run_softmax(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["softmax"](_t(case["logits"]))


# ---------------------------------------------------------------- log-softmax
def _judge_log_softmax(case: Case, output: Any) -> str | None:
    logits, kind = case["logits"], case["kind"]
    logp = as_array(output, _("your log-probabilities"))
    expect_shape(logp, logits.shape, _("your log-probabilities"))
    reference = _reference_log_softmax(logits)
    if _agrees(logp, reference, logits):
        return None
    if kind == "wide" and not np.isfinite(logp).all():
        return _("for a batch whose rows differ by hundreds of logits your result has nan or "
                 "inf; {wide_hint}").format(wide_hint=_(_WIDE_HINT))
    if _square(logits):
        lse = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
        if _agrees(logp, logits - lse, logits):  # the log-sum-exp broadcast over rows
            return _("you subtracted a log-sum-exp without keepdim=True: for a square batch it "
                     "broadcasts along the wrong axis")
    if (logp > 1e-6).any():  # float32 rounding may leave a tiny positive value
        return _("a log-probability is positive ({highest:.3g}); log-probabilities are at "
                 "most 0").format(highest=logp.max())
    if np.isneginf(logp).any() and not np.isnan(logp).any():
        return _("some of your log-probabilities are -inf: you took the log of a probability "
                 "that underflowed to 0. Subtracting the maximum inside the softmax does not "
                 "prevent this; compute log p = (z - max) - log Σ exp(z - max) directly, "
                 "without the log of a softmax")
    if not np.isfinite(logp).all():
        return _("your result has nan or inf for logits as large as "
                 "{largest:.0f}: exp overflowed. Subtract the row's maximum "
                 "before exponentiating, then use the log of the sum of exps").format(
            largest=np.abs(logits).max())
    total = float(np.exp(logp).sum(-1).flatten()[0])
    return _("your log-probabilities are not the log-softmax; their exponentials sum to "
             "{total:.4g} (they should sum to 1)").format(total=total)


def _run_log_softmax(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["log_softmax"](_t(case["logits"]))


# ---------------------------------------------------------------- sampling
def _sample_cases(seed: int) -> list[Case]:
    """Two random distributions with many u each, and one whose partial sums are exact.

    In the exact one, u equal to a cumulative sum belongs to the NEXT word's
    interval [lower, upper), and the word of probability 0 owns an empty
    interval, so it is never drawn. Random u may come within rounding of a
    cumulative sum added up in another order: they allow 1e-12 there.
    """
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for size in (6, 11):
        probs = torch.softmax(torch.randn(size, generator=generator, dtype=torch.float64) * 3, -1)
        uniforms = torch.rand(1000, generator=generator, dtype=torch.float64)
        cases.append({"probs": probs.numpy(), "uniforms": uniforms.numpy(), "slack": 1e-12})
    edge = np.array([0.125, 0.25, 0.0, 0.0625, 0.3125, 0.25])
    uniforms = [0.0, *np.cumsum(edge)[:-1].tolist(), math.nextafter(1.0, 0.0)]
    return [*cases, {"probs": edge, "uniforms": np.array(uniforms), "slack": 0.0}]


def _run_sample(ns: Mapping[str, Any], case: Case) -> Any:
    sample = ns["sample_categorical"]
    return [_index_or_kind(sample(_t(case["probs"]), float(u))) for u in case["uniforms"]]


def _index_or_kind(value: Any) -> Any:
    """An integer result as an int; anything else as the description the judge shows."""
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not (
            value.is_floating_point() or value.is_complex() or value.dtype == torch.bool):
        return int(value.reshape(-1)[0])
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "iu":
        return int(value.reshape(-1)[0])
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return {"not_an_index": repr(value)[:80]}


def _judge_sample(case: Case, output: Any) -> str | None:
    probs, uniforms, slack = case["probs"], case["uniforms"], case["slack"]
    if not isinstance(output, list) or len(output) != len(uniforms):
        raise Wrong(_("your function's results could not be read"))
    cdf, last = np.cumsum(probs), len(probs) - 1
    for u, index in zip(uniforms.tolist(), output, strict=True):
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= last:
            shown = index.get("not_an_index") if isinstance(index, dict) else index
            return _("return a word index, an integer between 0 and {last}; got {shown}").format(
                last=last, shown=shown)
        lower = 0.0 if index == 0 else float(cdf[index - 1])
        # The last word also takes any u above a total that rounding left just below 1.
        upper = math.inf if index == last else float(cdf[index]) + slack
        if lower - slack <= u < upper:
            continue
        if probs[index] == 0.0:
            return _("you returned word {index}, whose probability is 0: its interval is "
                     "empty. Return the first index whose cumulative probability is strictly "
                     "greater than u").format(index=index)
        if u == float(cdf[index]):
            return _("for u exactly equal to the cumulative probability of words 0 to {index}, "
                     "u lies in the interval of the NEXT word (intervals are [lower, upper)): "
                     "return the first index whose cumulative probability is strictly greater "
                     "than u").format(index=index)
        return _("for u = {u:.4f} you returned index {index}, whose interval of the "
                 "cumulative distribution is [{lower:.4f}, {cdf:.4f})").format(
            u=u, index=index, lower=lower, cdf=float(cdf[index]))
    return None


# ---------------------------------------------------------------- sequence log-probability
def _sequence_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    cases = []
    for length in (1, 5, 12):
        step_probs = torch.softmax(torch.randn(length, 8, generator=generator,
                                               dtype=torch.float64) * 3, -1)
        tokens = torch.randint(0, 8, (length,), generator=generator)
        tokens[-1] = 7  # the last word of the vocabulary, at the last position
        cases.append({"step_probs": step_probs.numpy(), "tokens": tokens.numpy()})
    return cases


def _run_sequence(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["sequence_log_prob"](_t(case["step_probs"]), _t(case["tokens"]))


def _judge_sequence(case: Case, output: Any) -> str | None:
    step_probs, tokens = case["step_probs"], case["tokens"]
    length = len(tokens)
    result = as_array(output)
    if result.shape == (length,):
        return _("you returned a tensor of shape {shape}, one value per position; the "
                 "log-probability of the sequence is their sum, a single number").format(
            shape=result.shape)
    if result.shape != ():
        return _("return a single number, not a tensor of shape {shape}").format(shape=result.shape)
    value = float(result)
    terms = np.log(step_probs[np.arange(length), tokens])  # (length,)
    reference = float(terms.sum())
    if math.isclose(value, reference, rel_tol=1e-6, abs_tol=1e-6):
        return None
    diagnoses = [
        (math.exp(reference), _("your value is a probability, not a log-probability; sum the "
                                "logs instead of multiplying")),
        (reference / length, _("your value is the mean over the {length} tokens; the "
                               "log-probability of the sequence is their sum").format(
            length=length)),
        (reference / math.log(2), _("your value uses log base 2; use the natural logarithm")),
        (reference / math.log(10), _("your value uses log base 10; use the natural logarithm")),
    ]
    if length > 1:
        diagnoses += [(float(terms[:-1].sum()), _("you left out the last token; sum over all "
                                                  "{length} positions").format(length=length)),
                      (float(terms[1:].sum()), _("you left out the first token; sum over all "
                                                 "{length} positions").format(length=length))]
    for wrong, message in diagnoses:
        if math.isclose(value, wrong, rel_tol=1e-6, abs_tol=1e-6):
            return message
    if length == 1 and value == 0:
        return _("for a single token your value is 0: you left out the first or the last "
                 "token. Sum over every position")
    if value > 0:
        return _("your value {value:.3f} is positive, but a log-probability is ≤ 0").format(
            value=value)
    tokens = _("one token") if length == 1 else _("{length} tokens").format(length=length)
    return _("for a sequence of {tokens} your value is not the log-probability; take, "
             "at each position, the probability of the token that actually came next").format(
        tokens=tokens)


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("softmax", ("softmax",), lambda seed: _logits_cases(seed, 400.0), _run_softmax,
             _judge_softmax),
    Exercise("log_softmax", ("log_softmax",), lambda seed: _logits_cases(seed, 400.0),
             _run_log_softmax, _judge_log_softmax),
    Exercise("sample_categorical", ("sample_categorical",), _sample_cases, _run_sample,
             _judge_sample),
    Exercise("sequence_log_prob", ("sequence_log_prob",), _sequence_cases, _run_sequence,
             _judge_sequence),
)}


check_softmax = checker(EXERCISES, "softmax")
check_log_softmax = checker(EXERCISES, "log_softmax")
check_sample_categorical = checker(EXERCISES, "sample_categorical")
check_sequence_log_prob = checker(EXERCISES, "sequence_log_prob")
