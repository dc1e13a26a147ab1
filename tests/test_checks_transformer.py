"""Lab 04 (attention): the checks accept right answers and name each plausible wrong one.

Wrong answers caught, with the phrase each message must contain:
- no division by √d                                  -> "not divided by √d"
- no causal mask (a position sees the future)        -> "attends to later positions"
- a mask shifted by one (sees t+1, or hides t)       -> "one step ahead"
- softmax over the queries' axis instead of the keys -> "wrong axis"
- the mask applied after the softmax (no renormalising) -> "after the softmax"
- heads made by reshaping straight to (b, h, s, d)   -> "mixes positions"
- heads taking every h-th feature (interleaved)      -> "contiguous slice"
Right answers accepted: float32 results, NumPy arrays, a large negative number
instead of -inf in the mask, an explicit loop over positions.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.checks import CheckFailed
from utils.checks.transformer import check_causal_attention, check_split_heads


def right(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def right_float32_numpy(q, k, v):
    seq, d = q.shape[-2], q.shape[-1]
    scores = (q.float() @ k.float().transpose(-2, -1)) / math.sqrt(d)
    scores = scores + torch.full((seq, seq), -1e9).triu(1)
    return (torch.softmax(scores, -1) @ v.float()).double().numpy()


def right_loop(q, k, v):
    outs = []
    for t in range(q.shape[-2]):
        s = (q[..., t : t + 1, :] @ k[..., : t + 1, :].transpose(-2, -1)) / q.shape[-1] ** 0.5
        outs.append(torch.softmax(s, -1) @ v[..., : t + 1, :])
    return torch.cat(outs, dim=-2)


def _scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def _future(q):
    return torch.ones(q.shape[-2], q.shape[-2], dtype=torch.bool).triu(1)


WRONG = {
    "not divided by √d": lambda q, k, v: torch.softmax(
        (q @ k.transpose(-2, -1)).masked_fill(_future(q), -math.inf), -1) @ v,
    "attends to later positions": lambda q, k, v: torch.softmax(_scores(q, k), -1) @ v,
    "one step ahead": lambda q, k, v: torch.softmax(_scores(q, k).masked_fill(
        torch.ones(q.shape[-2], q.shape[-2], dtype=torch.bool).triu(2), -math.inf), -1) @ v,
    "wrong axis": lambda q, k, v: torch.softmax(
        _scores(q, k).masked_fill(_future(q), -math.inf), -2) @ v,
    "after the softmax": lambda q, k, v: (torch.softmax(_scores(q, k), -1)
                                          * ~_future(q)) @ v,
}


@pytest.mark.parametrize("answer", [right, right_float32_numpy, right_loop])
def test_right_attention_passes(answer):
    assert check_causal_attention(answer, seed=3).passed


@pytest.mark.parametrize("phrase", list(WRONG))
def test_each_wrong_attention_is_named(phrase):
    with pytest.raises(CheckFailed, match=phrase):
        check_causal_attention(WRONG[phrase], seed=1)


def test_a_future_leak_hidden_from_the_comparisons_is_still_caught():
    def leaks_at_the_end(q, k, v):
        out = right(q, k, v).clone()
        if q.shape[-2] == 10:  # right on the compared shapes; the direct test uses 10 positions
            out[..., 0, :] = out[..., 0, :] + 1e-3 * k[..., -1, :]
        return out
    with pytest.raises(CheckFailed, match="must not depend on anything later"):
        check_causal_attention(leaks_at_the_end)


def test_split_heads_right_and_wrong():
    def right_split(x, heads):
        b, s, d = x.shape
        return x.reshape(b, s, heads, d // heads).permute(0, 2, 1, 3).numpy()
    assert check_split_heads(right_split).passed
    with pytest.raises(CheckFailed, match="mixes positions"):
        check_split_heads(lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1))
    with pytest.raises(CheckFailed, match="contiguous slice"):
        check_split_heads(lambda x, h: x.reshape(*x.shape[:2], -1, h).permute(0, 3, 1, 2))
    with pytest.raises(CheckFailed, match="shape"):
        check_split_heads(lambda x, h: x)


def test_messages_never_contain_the_reference_output():
    with pytest.raises(CheckFailed) as error:
        check_causal_attention(lambda q, k, v: torch.zeros_like(q))
    assert "tensor(" not in str(error.value) and np.__name__ not in str(error.value)
