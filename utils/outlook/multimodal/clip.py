"""A tiny CLIP: a Vision Transformer, a text Transformer, one contrastive loss. Chapter 10.

- ``patchify`` cuts an image into non-overlapping ``p × p`` patches, row by
  row, each flattened channel-first; a linear layer then embeds each patch as
  a token (Dosovitskiy et al., 2021). The same as a convolution with kernel
  and stride ``p``, written out so the order of the numbers is visible.
- Both encoders are stacks of the course's pre-norm Transformer block
  (``utils.lm.transformer.Block``), bidirectional; each reads out the state of
  a ``<cls>`` token in front and projects it to a shared embedding space.
- ``clip_loss`` is CLIP's symmetric loss (Radford et al., 2021): over a batch of
  n matching pairs, cross-entropy of the n × n cosine-similarity matrix times a
  learned inverse temperature, once image→text (rows) and once text→image
  (columns), averaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from utils.data.images import CAPTION_WORDS, PAD
from utils.lm.transformer import Block, TransformerConfig
from utils.runtime import eval_mode

__all__ = ["ClipConfig", "TinyClip", "VisionTransformer", "TextEncoder", "patchify",
           "clip_loss", "MAX_LOGIT_SCALE"]

MAX_LOGIT_SCALE = math.log(100.0)  # CLIP clips the inverse temperature at 100


@dataclass(frozen=True)
class ClipConfig:
    """Sizes of both encoders; ``temperature`` is the learned one's starting value."""

    image_size: int = 16
    patch: int = 4
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 1
    d_ff: int = 64
    embed_dim: int = 32
    text_len: int = 12
    temperature: float = 0.07

    def __post_init__(self) -> None:
        if self.image_size % self.patch:
            raise ValueError(f"patch ({self.patch}) must divide image_size ({self.image_size})")
        if not 0 < self.temperature:
            raise ValueError(f"temperature must be positive; got {self.temperature}")

    def block(self, max_len: int) -> TransformerConfig:
        """The course Transformer's sizes, bidirectional, without dropout."""
        return TransformerConfig(vocab_size=1, d_model=self.d_model, n_heads=self.n_heads,
                                 n_layers=self.n_layers, d_ff=self.d_ff, max_len=max_len,
                                 memory=0, dropout=0.0, causal=False)


def patchify(images: torch.Tensor, patch: int) -> torch.Tensor:
    """``(batch, C, H, W)`` → ``(batch, H/p · W/p, C · p · p)``: patches row by row.

    Patch ``i * (W/p) + j`` is rows ``i·p … i·p+p-1`` and columns
    ``j·p … j·p+p-1``; inside it the numbers run channel, then row, then
    column, as in a convolution's weight.
    """
    batch, channels, height, width = images.shape
    if height % patch or width % patch:
        raise ValueError(f"patch {patch} must divide the image size {height}×{width}")
    grid = images.reshape(batch, channels, height // patch, patch, width // patch, patch)
    grid = grid.permute(0, 2, 4, 1, 3, 5)  # (batch, rows, cols, C, p, p)
    return grid.reshape(batch, (height // patch) * (width // patch), channels * patch * patch)


class _Encoder(nn.Module):
    """A ``<cls>`` token in front, learned positions, blocks, a norm, a projection."""

    def __init__(self, config: ClipConfig, max_len: int) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, config.d_model))
        self.position = nn.Parameter(torch.randn(1, max_len, config.d_model) * 0.02)
        self.blocks = nn.ModuleList(Block(config.block(max_len)) for _ in range(config.n_layers))
        self.norm = nn.LayerNorm(config.d_model)
        self.project = nn.Linear(config.d_model, config.embed_dim, bias=False)

    def states(self, tokens: torch.Tensor, keep: torch.Tensor | None = None,
               maps: list | None = None) -> torch.Tensor:
        """The last block's normalised states ``(batch, 1 + seq, d_model)``."""
        x = torch.cat([self.cls.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        x = x + self.position[:, :x.shape[1]]
        for block in self.blocks:
            if maps is not None:
                maps.append(block.attention.weights(block.norm1(x), keep))
            x = block(x, keep)
        return self.norm(x)

    def embed(self, tokens: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        return self.project(self.states(tokens, keep)[:, 0])  # (batch, embed_dim)


class VisionTransformer(_Encoder):
    """Patches → linear patch embedding → Transformer blocks → the ``<cls>`` state. Chapter 10."""

    def __init__(self, config: ClipConfig) -> None:
        n_patches = (config.image_size // config.patch) ** 2
        super().__init__(config, 1 + n_patches)
        self.patch = config.patch
        self.patch_embedding = nn.Linear(3 * config.patch ** 2, config.d_model)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(self.patch_embedding(patchify(images, self.patch)))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """The ``<cls>`` state before the projection (what a linear probe reads)."""
        return self.states(self.patch_embedding(patchify(images, self.patch)))[:, 0]

    @torch.no_grad()
    def attention_weights(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Each layer's attention ``(batch, heads, 1 + patches, 1 + patches)``; 0 is ``<cls>``."""
        maps: list[torch.Tensor] = []
        with eval_mode(self):
            self.states(self.patch_embedding(patchify(images, self.patch)), maps=maps)
        return maps


class TextEncoder(_Encoder):
    """Word embeddings → Transformer blocks → the ``<cls>`` state. Chapter 10.

    Token ids come from ``utils.data.images.encode_captions``, which puts
    ``<cls>`` first and pads after the caption; padding is masked out.
    """

    def __init__(self, config: ClipConfig) -> None:
        super().__init__(config, config.text_len)
        self.words = nn.Embedding(len(CAPTION_WORDS), config.d_model)
        self.pad_id = CAPTION_WORDS.index(PAD)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        keep = tokens != self.pad_id  # padding is never attended to
        # The <cls> id only marks the first slot; the learned <cls> vector fills it.
        states = self.states(self.words(tokens[:, 1:]), keep)
        return self.project(states[:, 0])


class TinyClip(nn.Module):
    """An image encoder and a text encoder into one space, and a learned temperature."""

    def __init__(self, config: ClipConfig) -> None:
        super().__init__()
        self.config = config
        self.image_encoder = VisionTransformer(config)
        self.text_encoder = TextEncoder(config)
        # Stored as log(1 / temperature), as in CLIP, so it stays positive while it learns.
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / config.temperature)))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Unit-length image embeddings ``(batch, embed_dim)``."""
        return F.normalize(self.image_encoder(images), dim=-1)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        """Unit-length caption embeddings ``(batch, embed_dim)``."""
        return F.normalize(self.text_encoder(tokens), dim=-1)

    def forward(self, images: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The symmetric contrastive loss of a batch of matching pairs."""
        scale = self.logit_scale.clamp(max=MAX_LOGIT_SCALE).exp()
        return clip_loss(self.encode_image(images), self.encode_text(tokens), scale)


def clip_loss(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor,
              logit_scale: torch.Tensor | float) -> torch.Tensor:
    """CLIP's loss for unit-length embeddings ``(n, d)`` whose row i match. Chapter 10.

    ``logits[i, j] = scale · cos(image i, text j)``; the loss is the mean of
    the cross-entropy that picks text i for image i (rows) and the one that
    picks image i for text i (columns).
    """
    logits = logit_scale * image_embeddings @ text_embeddings.T  # (n, n)
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
