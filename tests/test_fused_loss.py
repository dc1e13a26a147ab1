"""Tests for utils.lm.fused_loss against PyTorch's own linear + cross-entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from utils.lm.fused_loss import fused_linear_cross_entropy


def _inputs(n: int = 37, h: int = 8, v: int = 29, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, h, generator=g, requires_grad=True)
    weight = (torch.randn(v, h, generator=g) * 2).requires_grad_()  # big logits: tests stability
    bias = torch.randn(v, generator=g, requires_grad=True)
    targets = torch.randint(0, v, (n,), generator=g)
    return hidden, weight, bias, targets


@pytest.mark.parametrize("chunk_rows", [1, 5, 16, 37, 1000])
def test_loss_and_gradients_match_pytorch(chunk_rows):
    hidden, weight, bias, targets = _inputs()
    expected = F.cross_entropy(F.linear(hidden, weight, bias), targets)
    want = torch.autograd.grad(expected, (hidden, weight, bias))
    loss = fused_linear_cross_entropy(hidden, weight, bias, targets, chunk_rows)
    got = torch.autograd.grad(loss, (hidden, weight, bias))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    for name, g, w in zip(("hidden", "weight", "bias"), got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5, msg=f"grad of {name}")


def test_without_bias_and_with_a_scaled_loss():
    hidden, weight, _, targets = _inputs(seed=1)
    expected = 3.0 * F.cross_entropy(F.linear(hidden, weight), targets)
    want = torch.autograd.grad(expected, (hidden, weight))
    loss = 3.0 * fused_linear_cross_entropy(hidden, weight, None, targets, chunk_rows=4)
    got = torch.autograd.grad(loss, (hidden, weight))
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-5)
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_tied_weight_gradient_accumulates_from_embedding_and_decoder():
    # One matrix both embeds the inputs and scores the outputs, as with tie_weights=True.
    torch.manual_seed(2)
    v, h, n = 23, 6, 19
    shared = torch.randn(v, h, requires_grad=True)
    bias = torch.randn(v, requires_grad=True)
    proj = torch.randn(h, h, requires_grad=True)
    inputs, targets = torch.randint(0, v, (n,)), torch.randint(0, v, (n,))

    def hidden():
        return torch.tanh(F.embedding(inputs, shared) @ proj)  # (n, h)

    expected = F.cross_entropy(F.linear(hidden(), shared, bias), targets)
    want = torch.autograd.grad(expected, (shared, bias, proj))
    loss = fused_linear_cross_entropy(hidden(), shared, bias, targets, chunk_rows=7)
    got = torch.autograd.grad(loss, (shared, bias, proj))
    for g, w in zip(got, want, strict=True):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_inputs_are_left_unchanged_and_bad_shapes_rejected():
    hidden, weight, bias, targets = _inputs()
    before = [t.detach().clone() for t in (hidden, weight, bias)]
    fused_linear_cross_entropy(hidden, weight, bias, targets, chunk_rows=8).backward()
    for t, b in zip((hidden, weight, bias), before, strict=True):
        assert torch.equal(t.detach(), b)
    with pytest.raises(ValueError, match="hidden must be"):
        fused_linear_cross_entropy(hidden[None], weight, bias, targets)
    with pytest.raises(ValueError, match="chunk_rows"):
        fused_linear_cross_entropy(hidden, weight, bias, targets, chunk_rows=0)
