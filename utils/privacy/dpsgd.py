"""DP-SGD written out: per-example gradients, clipping, Gaussian noise. Explained in chapter 8.

Abadi et al. (2016): compute each example's gradient g_i, clip it to norm at
most C, add them up, add Gaussian noise N(0, sigma^2 C^2 I) and divide by the
expected batch size L. No single example can then move the model by more than
C, and the noise hides whether it was there at all.

The per-example gradients come from ``torch.func``: ``vmap(grad(loss))`` runs
the gradient of one example's loss over the batch. ``torch.func`` cannot see
inside ``nn.LSTM``'s fused kernel, so the gradient pass writes the LSTM out gate
by gate with the same weights (the forward pass keeps the fast kernel). The
parameter names and gate order are those of Opacus's ``DPLSTM``, so the same
weights load into an Opacus model (``opacus_twin``) for cross-checks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import grad, vmap

from utils.data.padding import PAD

__all__ = [
    "DPLanguageModel", "per_example_grads", "clip_and_sum", "gaussian_noise",
    "private_gradient", "opacus_twin",
]

# Opacus divides by (norm + 1e-6); the same guard keeps the two clip factors equal.
_NORM_EPS = 1e-6

LSTMState = tuple[torch.Tensor, torch.Tensor]


def _lstm_by_gates(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """One LSTM layer from a zero state, gate by gate (input, forget, cell, output) as nn.LSTM.

    ``x`` is ``(batch, seq_len, input_size)``; returns the hidden states
    ``(batch, seq_len, hidden_size)``. Written out so ``torch.func`` can follow it.
    """
    w_ih, b_ih = params["lstm.weight_ih_l0"], params["lstm.bias_ih_l0"]
    w_hh, b_hh = params["lstm.weight_hh_l0"], params["lstm.bias_hh_l0"]
    hidden_size = w_hh.shape[1]
    h = x.new_zeros(x.shape[0], hidden_size)  # (batch, hidden_size)
    c = x.new_zeros(x.shape[0], hidden_size)
    # The input's share of every gate for all steps at once: one big matrix product.
    x_gates = F.linear(x, w_ih, b_ih)  # (batch, seq_len, 4 * hidden_size)
    outputs = []
    for t in range(x.shape[1]):
        gates = x_gates[:, t] + F.linear(h, w_hh, b_hh)  # (batch, 4 * hidden_size)
        i, f, g, o = gates.chunk(4, dim=-1)  # (batch, hidden_size) each
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


class DPLanguageModel(nn.Module):
    """Embedding -> LSTM -> Linear: the chapter 4 model, ready for DP-SGD. Chapter 8.

    ``forward`` runs PyTorch's fast ``nn.LSTM`` and has the signature of
    ``utils.lm.LSTMLanguageModel.forward``; ``per_example_grads`` runs the same
    weights gate by gate. No dropout (its randomness would differ per example
    under ``vmap``) and no tied weights (Opacus's per-layer hooks would count a
    shared matrix twice). Initialised from ``generator``, never the global RNG.
    """

    def __init__(self, vocab_size: int, hidden_size: int = 64, *,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.vocab_size, self.hidden_size = vocab_size, hidden_size
        self.embedding = nn.Embedding(vocab_size, hidden_size)
        # Parameter names weight_ih_l0, bias_ih_l0, ... and gate order as Opacus's DPLSTM.
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        bound = 1 / math.sqrt(hidden_size)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name == "decoder.bias":
                    p.zero_()
                else:  # nn.LSTM's default range; small embeddings keep first logits near 0
                    scale = 0.1 if name.startswith(("embedding", "decoder")) else bound
                    p.copy_(torch.rand(p.shape, generator=generator) * 2 * scale - scale)

    def forward(self, tokens: torch.Tensor, state: LSTMState | None = None
                ) -> tuple[torch.Tensor, LSTMState]:
        """Next-token logits ``(batch, seq_len, vocab_size)`` and the state ``(h, c)``."""
        hidden, state = self.lstm(self.embedding(tokens), state)  # (batch, seq_len, hidden)
        return self.decoder(hidden), state


def _logits_by_gates(params: dict[str, torch.Tensor], tokens: torch.Tensor) -> torch.Tensor:
    """``DPLanguageModel.forward``'s logits from a zero state, written for ``torch.func``."""
    emb = F.embedding(tokens, params["embedding.weight"])  # (batch, seq_len, hidden)
    hidden = _lstm_by_gates(params, emb)  # (batch, seq_len, hidden)
    return F.linear(hidden, params["decoder.weight"], params["decoder.bias"])


def per_example_grads(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor
                      ) -> dict[str, torch.Tensor]:
    """Each example's gradient of its summed next-token loss. Explained in chapter 8.

    ``inputs`` and ``targets`` are ``(batch, seq_len)``; targets equal to ``PAD``
    are ignored. Returns ``{name: (batch, *param.shape)}``.
    """
    params = {name: p.detach() for name, p in model.named_parameters()}

    def loss_one(p: dict[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = _logits_by_gates(p, x[None])  # (1, seq_len, vocab_size)
        return F.cross_entropy(logits[0], y, ignore_index=PAD, reduction="sum")

    return vmap(grad(loss_one), in_dims=(None, 0, 0))(params, inputs, targets)


def clip_and_sum(grads: dict[str, torch.Tensor], max_grad_norm: float
                 ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Clip each example's whole gradient to norm ``max_grad_norm``, then sum. Chapter 8.

    The norm is over all parameters together (one vector per example), not per
    layer. Returns the summed gradients ``{name: param.shape}`` and the norms
    before clipping ``(batch,)``.
    """
    flat = [g.reshape(len(g), -1) for g in grads.values()]  # each (batch, numel)
    norms = torch.cat(flat, dim=1).norm(dim=1)  # (batch,)
    factor = (max_grad_norm / (norms + _NORM_EPS)).clamp(max=1.0)  # (batch,)
    summed = {name: torch.einsum("b,b...->...", factor, g) for name, g in grads.items()}
    return summed, norms


def gaussian_noise(reference: dict[str, torch.Tensor], std: float,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Independent N(0, std^2) noise shaped like each tensor, drawn in order. Chapter 8."""
    return {name: torch.normal(0.0, std, t.shape, generator=generator, dtype=t.dtype)
            if std > 0 else torch.zeros_like(t) for name, t in reference.items()}


def private_gradient(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, *,
                     max_grad_norm: float, noise_multiplier: float, expected_batch_size: float,
                     generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The DP-SGD gradient: (sum of clipped per-example gradients + noise) / L. Chapter 8.

    The noise has standard deviation ``noise_multiplier * max_grad_norm`` (the
    sensitivity of the sum is C) and the division is by the EXPECTED batch size
    L = q N, not the batch's actual size, which would itself leak who was sampled.
    """
    summed, _ = clip_and_sum(per_example_grads(model, inputs, targets), max_grad_norm)
    noise = gaussian_noise(summed, noise_multiplier * max_grad_norm, generator)
    return {name: (summed[name] + noise[name]) / expected_batch_size for name in summed}


def opacus_twin(model: DPLanguageModel) -> nn.Module:
    """The same network built from Opacus's ``DPLSTM``, with the same weights. Chapter 8.

    Used to check this module against Opacus: same per-example gradients, same
    clipping, same noise.
    """
    from opacus.layers import DPLSTM  # imported here: only the cross-checks need it

    class _OpacusLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(model.vocab_size, model.hidden_size)
            self.lstm = DPLSTM(model.hidden_size, model.hidden_size, batch_first=True)
            self.decoder = nn.Linear(model.hidden_size, model.vocab_size)

        def forward(self, tokens: torch.Tensor, state=None):
            hidden, state = self.lstm(self.embedding(tokens), state)
            return self.decoder(hidden), state

    twin = _OpacusLM()
    # DPLSTM exposes its cell weights under nn.LSTM's names (weight_ih_l0, ...), as here.
    ours = dict(model.named_parameters())
    theirs = dict(twin.named_parameters())
    if ours.keys() != theirs.keys():
        raise ValueError(f"parameter names differ: {sorted(ours)} vs {sorted(theirs)}")
    with torch.no_grad():
        for name, p in theirs.items():
            p.copy_(ours[name])
    return twin
