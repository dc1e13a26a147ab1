"""Checks for lab 04 (attention): one head of causal self-attention, splitting into heads.

Used in chapter 4. Each exercise is data (`EXERCISES`): random cases from a
seed (scores large enough that exp overflows without the maximum, one
position, a batch of heads), a run that calls the student's function on
private copies, and a judge that computes PyTorch's answer from the case and,
when they differ, names the mistake by comparing with the mistakes themselves
(no √d scaling, a mask that shows the future, a softmax over the wrong axis, a
mask applied after the softmax), never by a distance to the answer. The
library's attention is forbidden while the student's function runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from utils.checks._core import Case, CheckResult, Exercise, Wrong, run_check
from utils.checks._judging import as_array, close, expect_shape
from utils.i18n import _

__all__ = ["EXERCISES", "check_causal_attention", "check_split_heads"]

_TOL = 1e-6
_ATTENTION_IN_LIBRARIES = (  # every way into PyTorch's own attention
    "torch.nn.functional.scaled_dot_product_attention",
    "torch.nn.functional.multi_head_attention_forward",
    "torch.ops.aten.scaled_dot_product_attention",
    "torch._scaled_dot_product_attention_math",
    "torch._scaled_dot_product_flash_attention_for_cpu",
    "torch._scaled_dot_product_efficient_attention",
    "torch._scaled_dot_product_flash_attention",
    "torch._native_multi_head_attention",
)


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy())  # each call gets its own tensors


def _future(seq: int, ahead: int = 1) -> torch.Tensor:
    return torch.ones(seq, seq, dtype=torch.bool).triu(ahead)  # True where a query may not look


def _wrong_answers(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """The plausible mistakes, each computed, with the feedback that names it."""
    seq, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1)  # (..., seq, seq)
    scaled = scores / math.sqrt(d)
    return {
        _("the scores are not divided by √d (the key dimension); without it the softmax "
          "saturates as d grows"):
            torch.softmax(scores.masked_fill(_future(seq), -math.inf), -1) @ v,
        _("a position attends to later positions: mask every key after the query "
          "(the upper triangle) to -inf before the softmax"):
            torch.softmax(scaled, -1) @ v,
        _("the mask lets each position see one step ahead: a query at t may see keys 0..t"):
            torch.softmax(scaled.masked_fill(_future(seq, 2), -math.inf), -1) @ v,
        _("the mask hides each position from itself: a query at t may see keys 0..t, "
          "including t"):
            torch.nan_to_num(torch.softmax(scaled.masked_fill(_future(seq, 0), -math.inf),
                                           -1)) @ v,
        _("the softmax runs over the wrong axis: each query's weights (a row of the "
          "score matrix, the last axis) must sum to 1 over the keys"):
            torch.nan_to_num(torch.softmax(scaled.masked_fill(_future(seq), -math.inf), -2))
            @ v,
        _("the mask is applied after the softmax, so the remaining weights no longer sum "
          "to 1: mask the scores with -inf first, then take the softmax"):
            (torch.softmax(scaled, -1) * ~_future(seq)) @ v,
    }


# ---------------------------------------------------------------- causal attention
def _attention_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    # (..., seq, d) and a scale; d up to 25; scale 40 makes scores of thousands, where exp
    # overflows unless each row's maximum is subtracted (torch.softmax does it)
    shapes = [((5, 4), 2.0), ((7, 16), 2.0), ((3, 9, 25), 2.0), ((2, 3, 6, 8), 2.0),
              ((1, 1), 2.0), ((6, 5), 40.0)]
    cases: list[Case] = []
    for shape, scale in shapes:
        q, k, v = (torch.randn(shape, generator=generator, dtype=torch.float64) * scale
                   for _draw in range(3))
        # float32 answers are right too: allow their rounding, which grows with the scores
        cases.append({"q": q.numpy(), "k": k.numpy(), "v": v.numpy(),
                      "tol": 1e-5 if scale < 10 else 1e-2})
    # The defining property, tested directly: the past never depends on the future.
    q, k, v = (torch.randn(10, 8, generator=generator, dtype=torch.float64) for _draw in range(3))
    k2, v2 = k.clone(), v.clone()
    k2[6:] += 5.0
    v2[6:] -= 5.0
    cases.append({"q": q.numpy(), "k": k.numpy(), "v": v.numpy(), "k2": k2.numpy(),
                  "v2": v2.numpy(), "unseen_from": 6})
    return cases


def _run_attention(ns: Mapping[str, Any], case: Case) -> Any:
    attention = ns["causal_attention"]
    out = attention(_t(case["q"]), _t(case["k"]), _t(case["v"]))
    if "k2" not in case:
        return out
    return {"out": out, "moved": attention(_t(case["q"]), _t(case["k2"]), _t(case["v2"]))}


def _attention_output(output: Any, q: np.ndarray) -> np.ndarray:
    out = as_array(output, _("your output"))
    expect_shape(out, q.shape, _("your output"))
    return out


def _judge_attention(case: Case, output: Any) -> str | None:
    q, k, v = (_t(case[name]) for name in "qkv")
    if "k2" in case:
        if not isinstance(output, dict) or set(output) != {"out", "moved"}:
            raise Wrong(_("your function's output could not be read"))
        base, moved = (_attention_output(output[key], case["q"]) for key in ("out", "moved"))
        last = case["unseen_from"]
        if not close(base[:last], moved[:last], atol=_TOL, rtol=0):
            return _("changing the keys and values of positions {last}-{end} changed "
                     "the output at positions 0-{before}; a position must not depend on "
                     "anything later").format(last=last, end=len(base) - 1, before=last - 1)
        if not close(base, F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy(),
                     1e-5, 1e-5):
            return _("your output is not causal self-attention; check scores → scale → mask → "
                     "softmax")
        return None
    out = _attention_output(output, case["q"])
    tol = case["tol"]
    if close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy(), tol, tol):
        return None
    if np.isnan(out).any() and float((q @ k.transpose(-2, -1)).abs().max()) > 700:
        return _("your output has NaN where the scores reach thousands: exp overflowed. Use "
                 "torch.softmax, or subtract each row's maximum before exponentiating")
    for feedback, wrong in _wrong_answers(q, k, v).items():
        if close(out, wrong.numpy(), tol, tol):
            return feedback
    return _("for inputs of shape {shape} your output is not causal self-attention; check the "
             "order scores → scale → mask → softmax over keys → weighted sum of values").format(
        shape=tuple(q.shape))


# ---------------------------------------------------------------- split heads
def _split_cases(seed: int) -> list[Case]:
    generator = torch.Generator().manual_seed(seed)
    return [{"x": torch.randn(batch, seq, d_model, generator=generator,
                              dtype=torch.float64).numpy(), "heads": heads}
            for batch, seq, d_model, heads in ((2, 5, 12, 3), (1, 7, 8, 2), (3, 4, 16, 4),
                                               (2, 6, 6, 1), (1, 1, 6, 6))]


def _run_split(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["split_heads"](_t(case["x"]), case["heads"])


def _judge_split(case: Case, output: Any) -> str | None:
    x, heads = case["x"], case["heads"]
    batch, seq, d_model = x.shape
    head_dim = d_model // heads
    out = as_array(output)
    expect_shape(out, (batch, heads, seq, head_dim))
    if close(out, x.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3), 0, 0):
        return None
    if close(out, x.reshape(batch, heads, seq, head_dim), 0, 0):
        return _("reshaping straight to (batch, heads, seq, head_dim) mixes positions into "
                 "heads; split the last axis into (heads, head_dim) first, then move the heads "
                 "axis forward")
    if close(out, x.reshape(batch, seq, head_dim, heads).transpose(0, 3, 1, 2), 0, 0):
        return _("each head should take a contiguous slice of d_model // heads features (head 0 "
                 "gets features 0..head_dim-1), not every heads-th feature")
    return _("the right shape, but the values are not x's features split into heads: head h, "
             "position t must hold x[:, t, h * head_dim:(h + 1) * head_dim]")


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("causal_attention", ("causal_attention",), _attention_cases, _run_attention,
             _judge_attention, forbidden=_ATTENTION_IN_LIBRARIES),
    Exercise("split_heads", ("split_heads",), _split_cases, _run_split, _judge_split),
)}


def check_causal_attention(attention: Callable, seed: int = 0) -> CheckResult:
    """One head of causal self-attention equals PyTorch's, for any batch shape and width."""
    return run_check(EXERCISES["causal_attention"], {"causal_attention": attention}, seed)


def check_split_heads(split_heads: Callable, seed: int = 0) -> CheckResult:
    """(batch, seq, d_model) → (batch, heads, seq, d_model / heads): a feature slice per head."""
    return run_check(EXERCISES["split_heads"], {"split_heads": split_heads}, seed)


check_causal_attention.exercise = "causal_attention"  # type: ignore[attr-defined]
check_split_heads.exercise = "split_heads"  # type: ignore[attr-defined]
