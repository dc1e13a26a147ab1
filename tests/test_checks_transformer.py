"""Lab 04 (attention): the checks accept right answers and name each plausible wrong one.

Wrong answers caught, with the phrase each message must contain:
- no division by √d                                  -> "not divided by √d"
- no causal mask (a position sees the future)        -> "attends to later positions"
- a mask shifted by one (sees t+1)                   -> "one step ahead"
- a mask that hides the position itself              -> "hides each position from itself"
- softmax over the queries' axis instead of the keys -> "wrong axis"
- the mask applied after the softmax (no renormalising) -> "after the softmax"
- exp without the maximum (overflows on large scores) -> "exp overflowed"
- PyTorch's own attention, however reached          -> "calls `torch..."
- an answer that edits q, k, v in place              -> fails
- heads made by reshaping straight to (b, h, s, d)   -> "mixes positions"
- heads taking every h-th feature (interleaved)      -> "contiguous slice"
Right answers accepted, at several seeds, none of them the check's reference:
a vectorised version, float32 results as NumPy arrays with a large negative
number instead of -inf, an explicit loop over positions, an einsum with a
hand-written stable softmax.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from utils.checks import CheckFailed
from utils.checks.transformer import EXERCISES, check_causal_attention, check_split_heads

SDPA_BOUND_EARLY = F.scaled_dot_product_attention  # an alias bound before any check runs


def right_vectorised(q, k, v):
    seq, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    future = torch.ones(seq, seq, dtype=torch.bool).triu(1)
    return torch.softmax(scores.masked_fill(future, -math.inf), -1) @ v


def right_float32_numpy(q, k, v):
    seq, d = q.shape[-2], q.shape[-1]
    scores = (q.float() @ k.float().transpose(-2, -1)) / math.sqrt(d)
    scores = scores + torch.full((seq, seq), -1e9).triu(1)
    return (torch.softmax(scores, -1) @ v.float()).numpy()


def right_loop(q, k, v):
    outs = []
    for t in range(q.shape[-2]):
        s = (q[..., t : t + 1, :] @ k[..., : t + 1, :].transpose(-2, -1)) / q.shape[-1] ** 0.5
        outs.append(torch.softmax(s, -1) @ v[..., : t + 1, :])
    return torch.cat(outs, dim=-2)


def right_einsum(q, k, v):
    scores = torch.einsum("...qd,...kd->...qk", q, k) / q.shape[-1] ** 0.5
    seq = q.shape[-2]
    scores = torch.where(torch.arange(seq)[None, :] <= torch.arange(seq)[:, None], scores,
                         torch.tensor(-math.inf, dtype=scores.dtype))
    scores = scores - scores.amax(-1, keepdim=True)
    weights = scores.exp() / scores.exp().sum(-1, keepdim=True)
    return torch.einsum("...qk,...kd->...qd", weights, v)


@pytest.mark.parametrize("answer", [right_vectorised, right_float32_numpy, right_loop,
                                    right_einsum])
@pytest.mark.parametrize("seed", [0, 3, 17])
def test_right_attention_passes(answer, seed):
    assert check_causal_attention(answer, seed=seed).passed


def _scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


def _future(q, ahead=1):
    return torch.ones(q.shape[-2], q.shape[-2], dtype=torch.bool).triu(ahead)


def _no_max(q, k, v):
    scores = _scores(q, k).masked_fill(_future(q), -math.inf)
    return (scores.exp() / scores.exp().sum(-1, keepdim=True)) @ v


WRONG = {
    "not divided by √d": lambda q, k, v: torch.softmax(
        (q @ k.transpose(-2, -1)).masked_fill(_future(q), -math.inf), -1) @ v,
    "attends to later positions": lambda q, k, v: torch.softmax(_scores(q, k), -1) @ v,
    "one step ahead": lambda q, k, v: torch.softmax(
        _scores(q, k).masked_fill(_future(q, 2), -math.inf), -1) @ v,
    "hides each position from itself": lambda q, k, v: torch.nan_to_num(torch.softmax(
        _scores(q, k).masked_fill(_future(q, 0), -math.inf), -1)) @ v,
    "wrong axis": lambda q, k, v: torch.softmax(
        _scores(q, k).masked_fill(_future(q), -math.inf), -2) @ v,
    "after the softmax": lambda q, k, v: (torch.softmax(_scores(q, k), -1) * ~_future(q)) @ v,
    "exp overflowed": _no_max,
}


@pytest.mark.parametrize("phrase", list(WRONG))
@pytest.mark.parametrize("seed", [1, 8])
def test_each_wrong_attention_is_named(phrase, seed):
    with pytest.raises(CheckFailed, match=phrase):
        check_causal_attention(WRONG[phrase], seed=seed)


@pytest.mark.parametrize("library", [
    lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
    lambda q, k, v: SDPA_BOUND_EARLY(q, k, v, is_causal=True),
    lambda q, k, v: torch._C._nn.scaled_dot_product_attention(q, k, v, is_causal=True),
    lambda q, k, v: torch.ops.aten.scaled_dot_product_attention.default(q, k, v,
                                                                        is_causal=True),
    lambda q, k, v: torch._scaled_dot_product_flash_attention_for_cpu(q, k, v,
                                                                      is_causal=True)[0],
])
def test_the_library_attention_is_forbidden_however_reached(library):
    with pytest.raises(CheckFailed, match="calls `torch"):
        check_causal_attention(library)
    assert F.scaled_dot_product_attention is SDPA_BOUND_EARLY  # restored afterwards


def test_a_library_call_caught_by_the_student_is_still_forbidden():
    def sly(q, k, v):
        try:
            return SDPA_BOUND_EARLY(q, k, v, is_causal=True)
        except Exception:  # noqa: BLE001
            return SDPA_BOUND_EARLY(q, k, v, is_causal=True)
    with pytest.raises(CheckFailed, match="calls `torch"):
        check_causal_attention(sly)


def test_an_answer_that_edits_its_inputs_fails():
    def zeroes_values(q, k, v):
        v.zero_()  # a reference computed from this v would be all zeros
        return torch.zeros_like(q)

    def right_then_edits(q, k, v):
        out = right_vectorised(q, k, v)
        q.mul_(0)
        k.mul_(0)  # uniform weights now: a reference from these inputs would differ
        return out
    with pytest.raises(CheckFailed):
        check_causal_attention(zeroes_values)
    assert check_causal_attention(right_then_edits).passed  # its output was right all along


def test_a_future_leak_hidden_from_the_comparisons_is_still_caught():
    def leaks_at_the_end(q, k, v):
        out = right_vectorised(q, k, v).clone()
        if q.shape[-2] == 10:  # right on the compared shapes; the direct test uses 10 positions
            out[..., 0, :] = out[..., 0, :] + 1e-3 * k[..., -1, :]
        return out
    with pytest.raises(CheckFailed, match="must not depend on anything later"):
        check_causal_attention(leaks_at_the_end)


def right_split(x, heads):
    b, s, d = x.shape
    return x.reshape(b, s, heads, d // heads).permute(0, 2, 1, 3).numpy()


def right_split_loop(x, heads):
    head_dim = x.shape[-1] // heads
    return torch.stack([x[:, :, h * head_dim:(h + 1) * head_dim] for h in range(heads)], dim=1)


@pytest.mark.parametrize("answer", [right_split, right_split_loop])
@pytest.mark.parametrize("seed", [0, 4, 9])
def test_split_heads_right_answers_pass(answer, seed):
    assert check_split_heads(answer, seed=seed).passed


def test_split_heads_wrong_answers():
    with pytest.raises(CheckFailed, match="mixes positions"):
        check_split_heads(lambda x, h: x.reshape(x.shape[0], h, x.shape[1], -1))
    with pytest.raises(CheckFailed, match="contiguous slice"):
        check_split_heads(lambda x, h: x.reshape(*x.shape[:2], -1, h).permute(0, 3, 1, 2))
    with pytest.raises(CheckFailed, match="shape"):
        check_split_heads(lambda x, h: x)

    def zeroes_input(x, h):
        x.zero_()
        return torch.zeros(x.shape[0], h, x.shape[1], x.shape[2] // h)
    with pytest.raises(CheckFailed, match="not x's features"):
        check_split_heads(zeroes_input)


def test_messages_never_contain_the_reference_output_or_a_distance():
    import re
    for answer in (lambda q, k, v: torch.zeros_like(q), lambda q, k, v: 1.01 * right_loop(q, k, v)):
        with pytest.raises(CheckFailed) as error:
            check_causal_attention(answer)
        message = str(error.value)
        assert "tensor(" not in message and np.__name__ not in message
        assert not re.search(r"\d\.\d", message) and "up to" not in message


def test_exercises_are_data_with_plain_cases():
    from utils.checks._plain import dumps, loads
    for exercise in EXERCISES.values():
        for case in exercise.make_cases(5):
            assert set(loads(dumps(case))) == set(case)
        assert exercise.make_cases(5)[0].keys() == exercise.make_cases(5)[0].keys()
    assert EXERCISES["causal_attention"].forbidden
