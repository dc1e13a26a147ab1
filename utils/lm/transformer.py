"""A tiny Transformer language model, written out to be read beside the LSTM. Chapter 4.

The same interface as ``LSTMLanguageModel`` (``forward``, ``decoder_input``,
``features``, a ``decoder`` layer), so the course's training loop, sampling,
agreement test and classifier head work with it unchanged.

- ``causal=True`` (GPT-like): each position attends to itself and the past only.
  As a stand-in for the LSTM's carried state, the "state" passed between
  batches is the last ``memory`` tokens, read again as extra context, so the
  first words of a batch are not predicted blind.
- ``causal=False`` (BERT-like): every position attends to every real token;
  pretrained by masked-word prediction (``utils.lm.masked``).

The attention itself is ``torch.nn.functional.scaled_dot_product_attention``;
``attention_weights`` recomputes the same softmax by hand to draw it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from utils.runtime.scoped import eval_mode

__all__ = ["LayerCache", "TransformerConfig", "TransformerLanguageModel", "causal_self_attention"]

# One layer's cached keys and values, each (batch, heads, seq, head_dim).
LayerCache = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of the Transformer. ``hidden_size`` is ``d_model``, named as in the LSTM."""

    vocab_size: int
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 256
    max_len: int = 128
    memory: int = 35
    dropout: float = 0.1
    causal: bool = True
    pad_id: int | None = None  # bidirectional only: this id after position 0 is padding
    tied: bool = True  # one matrix for the input embedding and the output layer

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "n_layers", "d_ff", "max_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads "
                             f"({self.n_heads}): each head gets d_model / n_heads dimensions")
        if not 0 <= self.memory < self.max_len:
            raise ValueError(f"memory must be in [0, max_len); got {self.memory!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout!r}")

    @property
    def hidden_size(self) -> int:
        return self.d_model


def causal_self_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d + causal mask) v for ``(..., seq, d)`` tensors, written out.

    Equation ``eq-attention`` of chapter 4; equals
    ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``.
    """
    seq, d = q.shape[-2], q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)  # (..., seq, seq)
    future = torch.ones(seq, seq, dtype=torch.bool, device=q.device).triu(1)
    scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v  # (..., seq, d)


class SelfAttention(nn.Module):
    """Multi-head self-attention: project to queries, keys, values; attend per head; merge."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_heads, self.causal, self.dropout = config.n_heads, config.causal, config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)

    def _heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        batch, seq, d_model = x.shape
        q, k, v = self.qkv(x).split(d_model, dim=-1)  # 3 × (batch, seq, d_model)
        shape = (batch, seq, self.n_heads, d_model // self.n_heads)
        return tuple(t.view(shape).transpose(1, 2) for t in (q, k, v))  # (batch, heads, seq, hd)

    def _mask(self, seq: int, keep: torch.Tensor | None, device) -> torch.Tensor | None:
        """Boolean (True = may attend) mask, or None when SDPA's own causal flag suffices."""
        if keep is None:
            return None
        mask = keep[:, None, None, :]  # (batch, 1, 1, seq): padding is never attended to
        if self.causal:
            mask = mask & torch.ones(seq, seq, dtype=torch.bool, device=device).tril()
        return mask

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        batch, seq, d_model = x.shape
        q, k, v = self._heads(x)
        mask = self._mask(seq, keep, x.device)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0,
            is_causal=self.causal and mask is None)  # (batch, heads, seq, head_dim)
        return self.out(y.transpose(1, 2).reshape(batch, seq, d_model))

    def forward_cached(self, x: torch.Tensor, past: LayerCache | None
                       ) -> tuple[torch.Tensor, LayerCache]:
        """Causal attention of new positions ``x`` over the cached keys and values and their own.

        ``past`` holds the keys and values ``(batch, heads, seq_past, head_dim)`` of
        the earlier positions; the new ones are appended and returned as the
        next cache. New position i attends to every past position and to new
        positions up to i, exactly as in a full causal pass.
        """
        batch, new, d_model = x.shape
        q, k, v = self._heads(x)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        total = k.shape[2]
        may_attend = torch.ones(new, total, dtype=torch.bool, device=x.device).tril(total - new)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=may_attend)  # (batch, heads, new, hd)
        return self.out(y.transpose(1, 2).reshape(batch, new, d_model)), (k, v)

    @torch.no_grad()
    def weights(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """The attention probabilities ``(batch, heads, seq, seq)`` (for figures)."""
        q, k, _ = self._heads(x)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        mask = self._mask(x.shape[1], keep, x.device)
        if mask is None and self.causal:
            mask = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool, device=x.device).tril()
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return torch.softmax(scores, dim=-1)


class Block(nn.Module):
    """x + attention(norm(x)), then x + MLP(norm(x)): the pre-norm Transformer block."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attention = SelfAttention(config)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(nn.Linear(config.d_model, config.d_ff), nn.GELU(),
                                 nn.Linear(config.d_ff, config.d_model), nn.Dropout(config.dropout))

    def forward(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), keep)  # (batch, seq, d_model)
        return x + self.mlp(self.norm2(x))

    def forward_cached(self, x: torch.Tensor, past: LayerCache | None
                       ) -> tuple[torch.Tensor, LayerCache]:
        """The block on new positions only, attending over the cache; returns the next cache."""
        attended, cache = self.attention.forward_cached(self.norm1(x), past)
        x = x + attended
        return x + self.mlp(self.norm2(x)), cache


class TransformerLanguageModel(nn.Module):
    """Token and position embeddings → blocks → layer norm → decoder (tied or not). Chapter 4."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position = nn.Embedding(config.max_len, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.decoder = nn.Linear(config.d_model, config.vocab_size)
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)
        if config.tied:
            self.decoder.weight = self.embedding.weight  # one matrix, as in the LSTM

    def num_parameters(self) -> int:
        """Number of trainable numbers; a tied embedding and decoder count once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def _keep(self, tokens: torch.Tensor) -> torch.Tensor | None:
        if self.config.causal or self.config.pad_id is None:
            return None
        keep = tokens != self.config.pad_id
        keep[:, 0] = True  # a sentence starts with <eos>; later ones are padding
        return keep  # (batch, seq)

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, seq_len); got shape {tuple(tokens.shape)}")
        if tokens.shape[1] > self.config.max_len:
            raise ValueError(f"at most max_len={self.config.max_len} tokens at once; "
                             f"got {tokens.shape[1]}")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.drop(self.embedding(tokens) + self.position(positions))  # (batch, seq, d)

    def features(self, tokens: torch.Tensor) -> torch.Tensor:
        """The last block's normalised states ``(batch, seq_len, d_model)`` (chapter 5's head)."""
        x, keep = self._embed(tokens), self._keep(tokens)
        for block in self.blocks:
            x = block(x, keep)
        return self.norm(x)

    def decoder_input(self, tokens: torch.Tensor, state: tuple[torch.Tensor] | None = None
                      ) -> tuple[torch.Tensor, tuple[torch.Tensor]]:
        """States for the new tokens ``(batch, seq_len, d_model)`` and the next state.

        The state is ``(last tokens,)``: up to ``memory`` earlier tokens, read as
        context in front of ``tokens`` and dropped from the output.
        """
        if tokens.dim() == 2 and tokens.shape[1] > self.config.max_len:
            raise ValueError(f"at most max_len={self.config.max_len} tokens at once; "
                             f"got {tokens.shape[1]}")
        context = tokens if state is None else torch.cat([state[0], tokens], dim=1)
        context = context[:, -(self.config.max_len):]
        hidden = self.drop(self.features(context))[:, -tokens.shape[1]:]
        memory = context[:, -self.config.memory:] if self.config.memory else context[:, :0]
        return hidden, (memory,)

    def forward(self, tokens: torch.Tensor, state: tuple[torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, tuple[torch.Tensor]]:
        """Next-token logits ``(batch, seq_len, vocab_size)`` and the state to pass on."""
        hidden, state = self.decoder_input(tokens, state)
        return self.decoder(hidden), state

    @torch.no_grad()
    def extend(self, tokens: torch.Tensor, cache: list[LayerCache] | None = None
               ) -> tuple[torch.Tensor, list[LayerCache]]:
        """Logits ``(batch, new, vocab_size)`` of new ``tokens`` after the cached prefix. Chapter 4.

        The key-value cache of generation: ``cache`` holds every layer's keys and
        values of the tokens read so far (None: nothing yet), so only the new
        positions are computed. Causal models only, dropout off (call it in
        evaluation mode); the whole text stays within ``max_len`` positions.
        """
        if not self.config.causal:
            raise ValueError("a key-value cache needs a causal model; this one reads both sides")
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, new); got shape {tuple(tokens.shape)}")
        seen = 0 if cache is None else cache[0][0].shape[2]
        if seen + tokens.shape[1] > self.config.max_len:
            raise ValueError(f"the text would exceed max_len={self.config.max_len} positions")
        positions = torch.arange(seen, seen + tokens.shape[1], device=tokens.device)
        x = self.embedding(tokens) + self.position(positions)  # (batch, new, d_model)
        caches = []
        for i, block in enumerate(self.blocks):
            x, layer_cache = block.forward_cached(x, None if cache is None else cache[i])
            caches.append(layer_cache)
        return self.decoder(self.norm(x)), caches

    @torch.no_grad()
    def attention_weights(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's attention probabilities ``(batch, heads, seq, seq)``, dropout off."""
        with eval_mode(self):
            x, keep, maps = self._embed(tokens), self._keep(tokens), []
            for block in self.blocks:
                maps.append(block.attention.weights(block.norm1(x), keep))
                x = block(x, keep)
        return maps
