"""A fused linear + cross-entropy for training a language model on a CPU.

Explained on the performance page (``book/performance.md``). A language model's
last step turns hidden states ``h`` (N, H) into logits ``h @ W.T + b`` (N, V) and
scores them with the mean cross-entropy. Done the usual way
(``F.cross_entropy(F.linear(h, W, b), targets)``), the (N, V) logits make many
trips through memory: written by the matrix product, read and written by the
log-softmax, a zero-filled gradient written, read and written again by the
log-softmax's backward, then read by the two matrix products of the backward
pass. With N = 700 positions and V = 5,000 words each trip is 14 MB, far more
than a CPU's cache, so those steps wait on memory rather than on arithmetic.

``fused_linear_cross_entropy`` computes the logits with one matrix product and
then, a few rows at a time so that the rows stay in cache, turns them in place
into the gradient of the loss with respect to the logits,
``(softmax(logits) - one_hot(target)) / N``, picking up the loss on the way.
The backward pass is then just the two matrix products that any linear layer
needs. Same FLOPs, about half the memory traffic, and one (N, V) buffer instead
of four.

We also tried never materialising the (N, V) matrix at all (accumulating the
weight's gradient chunk by chunk): at this course's sizes re-reading the (V, H)
gradient for every chunk cost more than it saved.
"""

from __future__ import annotations

import torch

__all__ = ["fused_linear_cross_entropy"]

DEFAULT_CHUNK_ROWS = 128


def _loss_and_grad_(logits, bias, targets, n):
    """Turn a block of logits (chunk, V) in place into d(mean loss)/d(logits); its loss sum."""
    if bias is not None:
        logits.add_(bias)
    t = targets[:, None]  # (chunk, 1)
    target_logit = logits.gather(1, t)  # (chunk, 1)
    top = logits.amax(dim=1, keepdim=True)  # (chunk, 1): keeps exp from overflowing
    probs = logits.sub_(top).exp_()  # unnormalised softmax, in place
    total = probs.sum(dim=1, keepdim=True)  # (chunk, 1)
    loss = (top + total.log() - target_logit).sum()  # log-sum-exp - target logit
    # d(mean loss)/d(logits) = (softmax - one_hot) / N, still in place.
    probs.mul_(total.reciprocal_().mul_(1.0 / n))
    probs.scatter_add_(1, t, probs.new_full(t.shape, -1.0 / n))
    return loss


class _FusedLinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``hidden @ weight.T + bias`` against ``targets``."""

    @staticmethod
    def forward(ctx, hidden, weight, bias, targets, chunk_rows, matmul_dtype):
        n = hidden.size(0)
        ctx.out_dtype = hidden.dtype
        ctx.has_bias = bias is not None
        ctx.grad_bias = None
        loss = hidden.new_zeros(())
        if matmul_dtype is None:
            # The bias is added block by block below, while each block is in cache:
            # addmm(bias, ...) would first copy the bias into every row, one more trip
            # through the whole (N, V) matrix, for the same numbers to the last bit.
            grad_logits = hidden @ weight.t()  # (N, V) logits without the bias, for now
            for start in range(0, n, chunk_rows):
                # A cache-sized block of rows: every step reuses it while it is in cache.
                rows = slice(start, start + chunk_rows)
                loss += _loss_and_grad_(grad_logits[rows], bias, targets[rows], n)
        else:
            # Low precision (utils.runtime.precision): the products take rounded copies of
            # hidden and weight, and each block's logits come back to hidden's dtype for the
            # softmax and the loss. Only the gradient is stored, in matmul_dtype: half the
            # bytes of the (N, V) matrix, and no full-size float32 copy at all.
            hidden, weight = hidden.to(matmul_dtype), weight.to(matmul_dtype)
            grad_logits = hidden.new_empty(n, weight.size(0))  # (N, V) in matmul_dtype
            grad_bias = bias.new_zeros(bias.shape) if bias is not None else None
            for start in range(0, n, chunk_rows):
                rows = slice(start, start + chunk_rows)
                block = (hidden[rows] @ weight.t()).to(ctx.out_dtype)  # (chunk, V)
                loss += _loss_and_grad_(block, bias, targets[rows], n)
                if grad_bias is not None:
                    grad_bias += block.sum(dim=0)  # in full precision, while in cache
                grad_logits[rows] = block
            ctx.grad_bias = grad_bias
        ctx.save_for_backward(hidden, weight, grad_logits)
        return loss / n

    @staticmethod
    def backward(ctx, grad_loss):
        hidden, weight, grad_logits = ctx.saved_tensors  # grad_logits: (N, V)
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        out = ctx.out_dtype
        grad_hidden = (grad_logits @ weight).to(out).mul_(grad_loss) if need_h else None  # (N, H)
        grad_weight = (grad_logits.t() @ hidden).to(out).mul_(grad_loss) if need_w else None
        grad_bias = None
        if need_b and ctx.has_bias:
            grad_bias = ctx.grad_bias if ctx.grad_bias is not None else grad_logits.sum(dim=0)
            grad_bias = grad_bias.mul(grad_loss)  # (V,)
        return grad_hidden, grad_weight, grad_bias, None, None, None


def fused_linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    targets: torch.Tensor,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    matmul_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``F.cross_entropy(F.linear(hidden, weight, bias), targets)``, fused; the mean loss.

    Explained on the performance page. ``hidden`` is (N, H), ``weight`` (V, H),
    ``bias`` (V,) or None, ``targets`` (N,) integer ids. The softmax and its
    gradient are computed in place, ``chunk_rows`` rows at a time, so that each
    block of logits is still in the CPU's cache for every step that touches it.
    ``matmul_dtype=torch.bfloat16`` runs the three matrix products on bfloat16 copies
    of ``hidden``, ``weight`` and the logits' gradient (``utils.runtime.precision``);
    the softmax, the loss and the bias gradient stay in ``hidden``'s dtype, and so do the
    returned gradients.
    """
    if hidden.dim() != 2 or targets.shape != hidden.shape[:1]:
        raise ValueError(
            f"hidden must be (N, H) and targets (N,); got {tuple(hidden.shape)} and "
            f"{tuple(targets.shape)}"
        )
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer; got {chunk_rows!r}")
    return _FusedLinearCrossEntropy.apply(hidden, weight, bias, targets, chunk_rows,
                                          matmul_dtype)
