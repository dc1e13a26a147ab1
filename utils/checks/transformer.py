"""Checks for lab 04 (attention): one head of causal self-attention, splitting into heads.

Each check compares the student's function with PyTorch's on fresh random
inputs and, when they differ, names the likely mistake by comparing with the
mistakes themselves (no √d scaling, a mask that shows the future, a softmax
over the wrong axis, a mask applied after the softmax), never with the answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

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

_TOL = 1e-6


def _causal(seq: int) -> torch.Tensor:
    return torch.ones(seq, seq, dtype=torch.bool).tril()  # True where a position may look


def _wrong_answers(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict[str, torch.Tensor]:
    """The plausible mistakes, each computed, with the feedback that names it."""
    seq, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1)  # (..., seq, seq)
    future = ~_causal(seq)
    scaled = scores / math.sqrt(d)
    return {
        "the scores are not divided by √d (the key dimension); without it the softmax "
        "saturates as d grows":
            torch.softmax(scores.masked_fill(future, -math.inf), -1) @ v,
        "a position attends to later positions: mask every key after the query "
        "(the upper triangle) to -inf before the softmax":
            torch.softmax(scaled, -1) @ v,
        "the mask lets each position see one step ahead (or hides the position itself): "
        "a query at t may see keys 0..t, including t":
            torch.softmax(scaled.masked_fill(~torch.ones(seq, seq, dtype=torch.bool)
                                             .tril(1), -math.inf), -1) @ v,
        "the softmax runs over the wrong axis: each query's weights (a row of the "
        "score matrix, the last axis) must sum to 1 over the keys":
            torch.nan_to_num(torch.softmax(scaled.masked_fill(future, -math.inf), -2)) @ v,
        "the mask is applied after the softmax, so the remaining weights no longer sum "
        "to 1: mask the scores with -inf first, then take the softmax":
            (torch.softmax(scaled, -1) * _causal(seq)) @ v,
    }


@exercise_check("causal_attention")
def check_causal_attention(attention: Callable, seed: int = 0) -> CheckResult:
    """One head of causal self-attention equals PyTorch's, for any batch shape and width."""
    name = "causal_attention"
    generator = torch.Generator().manual_seed(seed)
    shapes = [(5, 4), (7, 16), (3, 9, 25), (2, 3, 6, 8), (1, 1)]  # (..., seq, d); d up to 25
    for shape in shapes:
        q, k, v = (torch.randn(shape, generator=generator, dtype=torch.float64) * 2
                   for _ in range(3))
        out = as_tensor(call(attention, q.clone(), k.clone(), v.clone(), exercise=name), name)
        expect_shape(out, tuple(shape), name)
        reference = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        if worst_error(out, reference) <= _TOL:
            continue
        for feedback, wrong in _wrong_answers(q, k, v).items():
            if wrong.shape == out.shape and worst_error(out, wrong) <= _TOL:
                fail(f"{name}: {feedback}")
        fail(f"{name}: for inputs of shape {tuple(shape)} your output differs from causal "
             f"self-attention by up to {worst_error(out, reference):.3g}; check the order "
             "scores → scale → mask → softmax over keys → weighted sum of values")
    # The defining property, tested directly: the past never depends on the future.
    q, k, v = (torch.randn(10, 8, generator=generator, dtype=torch.float64) for _ in range(3))
    base = as_tensor(call(attention, q, k, v, exercise=name), name)
    k2, v2 = k.clone(), v.clone()
    k2[6:] += 5.0
    v2[6:] -= 5.0
    moved = as_tensor(call(attention, q, k2, v2, exercise=name), name)
    if worst_error(base[:6], moved[:6]) > _TOL:
        fail(f"{name}: changing the keys and values of positions 6-9 changed the output at "
             "positions 0-5; a position must not depend on anything later")
    passed(name, len(shapes) + 1)


@exercise_check("split_heads")
def check_split_heads(split_heads: Callable, seed: int = 0) -> CheckResult:
    """(batch, seq, d_model) → (batch, heads, seq, d_model / heads): a feature slice per head."""
    name = "split_heads"
    generator = torch.Generator().manual_seed(seed)
    cases = [(2, 5, 12, 3), (1, 7, 8, 2), (3, 4, 16, 4), (2, 6, 6, 1)]
    for batch, seq, d_model, heads in cases:
        x = torch.randn(batch, seq, d_model, generator=generator, dtype=torch.float64)
        out = as_tensor(call(split_heads, x.clone(), heads, exercise=name), name)
        expect_shape(out, (batch, heads, seq, d_model // heads), name)
        reference = x.view(batch, seq, heads, d_model // heads).transpose(1, 2)
        if worst_error(out, reference) <= _TOL:
            continue
        if worst_error(out, x.view(batch, heads, seq, d_model // heads)) <= _TOL:
            fail(f"{name}: reshaping straight to (batch, heads, seq, head_dim) mixes "
                 "positions into heads; split the last axis into (heads, head_dim) first, "
                 "then move the heads axis forward")
        interleaved = x.view(batch, seq, d_model // heads, heads).permute(0, 3, 1, 2)
        if worst_error(out, interleaved) <= _TOL:
            fail(f"{name}: each head should take a contiguous slice of d_model // heads "
                 "features (head 0 gets features 0..head_dim-1), not every heads-th feature")
        fail(f"{name}: the right shape, but the values are not x's features split into heads "
             f"(off by up to {worst_error(out, reference):.3g})")
    passed(name, len(cases))
