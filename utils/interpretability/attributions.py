"""Local attributions over token embeddings: which words did a prediction rest on? Chapter 7.

Every method has captum's call shape, ``Method(forward_func).attribute(inputs, *,
target, baselines=None, ...)``, where ``forward_func`` maps embeddings
``(batch, seq_len, emb_size)`` to scores ``(batch, n_outputs)`` and ``target``
picks the output to explain. An attribution has the shape of ``inputs``; sum it
over the embedding axis (`token_scores`) for one number per token.

`EmbeddingForward` turns any model that looks its tokens up in an embedding
layer into such a function, by replacing the layer's output with the given
embeddings (a forward hook), so the model's own code runs unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["EmbeddingForward", "Gradient", "GradientXInput", "IntegratedGradients",
           "Occlusion", "completeness_error", "token_scores"]

Target = int | Sequence[int] | torch.Tensor


class EmbeddingForward:
    """A model seen as a function of its token embeddings. Chapter 7.

    ``EmbeddingForward(model, embedding_layer, tokens, *more_args)`` is
    callable on embeddings ``(k * batch, seq_len, emb_size)``: the model runs
    on ``tokens`` (repeated ``k`` times along the batch, as integrated
    gradients needs) with the embedding layer's output replaced by them.
    """

    def __init__(self, model: nn.Module, embedding: nn.Module, *args: torch.Tensor) -> None:
        device = next(embedding.parameters()).device  # the model's device (CPU or GPU)
        self.model, self.embedding = model, embedding
        self.args = tuple(a.to(device) for a in args)
        self.batch = len(args[0])

    @torch.no_grad()
    def embed(self, tokens: torch.Tensor | None = None) -> torch.Tensor:
        """The embeddings of ``tokens`` (default: the model's own inputs) ``(batch, seq, emb)``."""
        return self.embedding(self.args[0] if tokens is None else tokens).detach()

    def __call__(self, embeddings: torch.Tensor) -> torch.Tensor:
        if len(embeddings) % self.batch:
            raise ValueError(f"got {len(embeddings)} rows of embeddings for a batch of "
                             f"{self.batch} inputs; need a multiple")
        k = len(embeddings) // self.batch
        args = [a.repeat(k, *([1] * (a.dim() - 1))) for a in self.args]
        handle = self.embedding.register_forward_hook(lambda _m, _i, _o: embeddings)
        try:
            return self.model(*args)  # (k * batch, n_outputs)
        finally:
            handle.remove()


def _target_index(target: Target, batch: int, device: torch.device) -> torch.Tensor:
    index = torch.as_tensor(target).long().reshape(-1).to(device)
    if index.numel() == 1:
        index = index.expand(batch)
    if index.numel() != batch:
        raise ValueError(f"target must be one output index or one per input; got {index.numel()} "
                         f"for {batch} inputs")
    return index  # (batch,)


def _baselines(inputs: torch.Tensor, baselines: torch.Tensor | float | None) -> torch.Tensor:
    if baselines is None:
        return torch.zeros_like(inputs)  # captum's default: the all-zero input
    return torch.as_tensor(baselines, dtype=inputs.dtype, device=inputs.device).expand_as(inputs)


class _Method:
    """What every attribution method shares: the forward function and the target score."""

    def __init__(self, forward_func) -> None:
        self.forward_func = forward_func

    def score(self, inputs: torch.Tensor, target: Target) -> torch.Tensor:
        """The explained output, one number per row of ``inputs`` ``(rows,)``."""
        out = self.forward_func(inputs)  # (rows, n_outputs)
        index = _target_index(target, len(out), out.device)
        return out.gather(1, index[:, None]).squeeze(1)

    def gradient(self, inputs: torch.Tensor, target: Target) -> torch.Tensor:
        """d score / d inputs, same shape as ``inputs``; rows are independent."""
        inputs = inputs.detach().requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(self.score(inputs, target).sum(), inputs)
        return grad


class Gradient(_Method):
    """The plain gradient of the target score (a saliency map). Chapter 7."""

    def attribute(self, inputs: torch.Tensor, *, target: Target,
                  baselines: torch.Tensor | float | None = None) -> torch.Tensor:
        """``dF/dx`` ``(batch, seq_len, emb_size)``; ``baselines`` is accepted and unused."""
        return self.gradient(inputs, target)


class GradientXInput(_Method):
    """Gradient times (input minus baseline): a first-order share of F(x) - F(x'). Chapter 7."""

    def attribute(self, inputs: torch.Tensor, *, target: Target,
                  baselines: torch.Tensor | float | None = None) -> torch.Tensor:
        """``(x - x') * dF/dx`` at ``x``, shape of ``inputs``; x' is zeros unless given."""
        return (inputs - _baselines(inputs, baselines)) * self.gradient(inputs, target)


class IntegratedGradients(_Method):
    """Integrated gradients on the straight path from a baseline x' to x. Chapter 7.

    ``(x - x') * mean of dF/dx`` over ``n_steps`` points from ``alpha = 0`` to
    ``alpha = 1``, both ends included, weighted by the trapezoid rule (captum's
    ``method="riemann_trapezoid"``). The attributions add up to
    ``F(x) - F(x')`` as ``n_steps`` grows: the completeness axiom. The default
    of 100 points brings the chapter 7 classifier within 1 % of it (captum
    defaults to 50).
    """

    def attribute(self, inputs: torch.Tensor, *, target: Target,
                  baselines: torch.Tensor | float | None = None, n_steps: int = 100,
                  internal_batch_size: int | None = None,
                  return_convergence_delta: bool = False):
        if n_steps < 2:
            raise ValueError(f"n_steps must be at least 2 (both ends of the path); got {n_steps}")
        base = _baselines(inputs, baselines)
        alphas = torch.linspace(0.0, 1.0, n_steps, dtype=inputs.dtype, device=inputs.device)
        weights = torch.full_like(alphas, 1.0 / (n_steps - 1))
        weights[[0, -1]] /= 2  # trapezoid: each end counts half
        per_call = max(1, (internal_batch_size or len(inputs) * n_steps) // len(inputs))
        total = torch.zeros_like(inputs)
        for start in range(0, n_steps, per_call):
            a = alphas[start: start + per_call]
            w = weights[start: start + per_call]
            path = base[None] + a[:, None, None, None] * (inputs - base)[None]  # (k, batch, ...)
            grads = self.gradient(path.reshape(-1, *inputs.shape[1:]), _repeat(target, len(a),
                                                                               len(inputs)))
            total += (w[:, None, None, None] * grads.reshape(len(a), *inputs.shape)).sum(0)
        attributions = (inputs - base) * total
        if not return_convergence_delta:
            return attributions
        with torch.no_grad():
            delta = (attributions.flatten(1).sum(1)
                     - (self.score(inputs, target) - self.score(base, target)))
        return attributions, delta  # delta (batch,): sum of attributions minus F(x) - F(x')


def _repeat(target: Target, k: int, batch: int) -> torch.Tensor | int:
    """The target of each row when a batch is repeated ``k`` times along dim 0."""
    if isinstance(target, int):
        return target
    return _target_index(target, batch, torch.device("cpu")).repeat(k)


class Occlusion(_Method):
    """How much the target score falls when one token's embedding is replaced. Chapter 7.

    Token t gets ``F(x) - F(x with token t's embedding set to the baseline's)``,
    spread evenly over its ``emb_size`` features so that `token_scores` (a sum
    over that axis) returns the drop itself. captum's ``Occlusion`` with a
    ``(1, emb_size)`` window puts the whole drop on every feature instead.
    """

    @torch.no_grad()
    def attribute(self, inputs: torch.Tensor, *, target: Target,
                  baselines: torch.Tensor | float | None = None) -> torch.Tensor:
        base = _baselines(inputs, baselines)
        batch, seq_len = inputs.shape[:2]
        full = self.score(inputs, target)  # (batch,)
        occluded = inputs[None].repeat(seq_len, *([1] * inputs.dim()))  # (seq, batch, seq, ...)
        for t in range(seq_len):
            occluded[t, :, t] = base[:, t]
        scores = self.score(occluded.reshape(-1, *inputs.shape[1:]), _repeat(target, seq_len,
                                                                              batch))
        drop = full[None] - scores.reshape(seq_len, batch)  # (seq, batch)
        spread = drop.T / inputs[0, 0].numel()  # (batch, seq)
        return spread.reshape(batch, seq_len, *([1] * (inputs.dim() - 2))).expand_as(inputs) \
            .clone()


def token_scores(attributions: torch.Tensor) -> torch.Tensor:
    """One number per token ``(batch, seq_len)``: the sum over the embedding axis. Chapter 7."""
    return attributions.flatten(2).sum(-1)


def completeness_error(attributions: torch.Tensor, f_inputs: torch.Tensor,
                       f_baselines: torch.Tensor) -> torch.Tensor:
    """``|sum of attributions - (F(x) - F(x'))| / |F(x) - F(x')|`` per input ``(batch,)``.

    Explained in chapter 7: integrated gradients should drive it to 0.
    """
    gap = f_inputs - f_baselines
    return (attributions.flatten(1).sum(1) - gap).abs() / gap.abs()
