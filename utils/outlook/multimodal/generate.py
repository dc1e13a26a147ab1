"""Text to image in miniature: a caption, then an image one token at a time. Chapter 10.

The closest small relative of DALL·E's first version. An image becomes 17
discrete tokens: its colour, then the on/off pattern of each of its 4 × 4
patches, row by row (a vocabulary of the patterns seen in training, standing in
for DALL·E's learned discrete autoencoder; exact for single-object images,
whose lit pixels share one colour). The course's causal Transformer language
model (chapter 4) reads the caption's words and learns to continue them with
the image's tokens. Sampling continues a prompt token by token; the tokens are
painted back into pixels, which ``reader.caption_holds`` then judges exactly.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from utils.data.images import (
    BACKGROUND,
    CAPTION_WORDS,
    COLOURS,
    ImageConfig,
    encode_captions,
    generate_images,
)
from utils.lm.transformer import TransformerConfig, TransformerLanguageModel
from utils.outlook.multimodal.clip import patchify
from utils.outlook.multimodal.training import HELD_OUT
from utils.runtime import Run, TrainingRecord, cached_run, thin

__all__ = ["GeneratorConfig", "PatchGenerator", "generator_trainer", "trained_generator",
           "unpatchify"]

PATCH, SIDE = 4, 16
N_PATCHES = (SIDE // PATCH) ** 2
_PALETTE = torch.tensor(list(COLOURS.values()))  # (4, 3)


def _default_images() -> ImageConfig:
    # Single objects, each caption naming both colour and shape: a prompt is an instruction.
    return ImageConfig(n=2000, kinds=(("single", 1.0),), held_out=HELD_OUT, partial=0.0)


@dataclass(frozen=True)
class GeneratorConfig:
    """The generator's data (single objects), pattern vocabulary, sizes and training length."""

    version: ClassVar[int] = 1  # bump when the recipe below changes what a config produces

    images: ImageConfig = field(default_factory=_default_images)
    max_patterns: int = 256
    text_len: int = 12
    d_model: int = 64
    n_layers: int = 2
    steps: int = 300
    batch_size: int = 48
    lr: float = 3e-3
    seed: int = 0


def _lit_and_colour(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Which pixels are lit ``(batch, 1, H, W)`` and the commonest lit colour ``(batch,)``."""
    lit = images.amax(dim=1, keepdim=True) > 0.5
    nearest = torch.cdist(images.permute(0, 2, 3, 1).reshape(len(images), -1, 3),
                          _PALETTE.expand(len(images), -1, -1)).argmin(-1)  # (batch, H·W)
    votes = F.one_hot(nearest, len(COLOURS)) * lit.reshape(len(images), -1, 1)
    return lit, votes.sum(1).argmax(-1)


class PatchGenerator(nn.Module):
    """A vocabulary of patch patterns and a causal Transformer over words, colour, patterns."""

    def __init__(self, config: GeneratorConfig) -> None:
        super().__init__()
        self.config = config
        self.n_words, self.n_colours = len(CAPTION_WORDS), len(COLOURS)
        self.register_buffer("patterns", torch.zeros(config.max_patterns, PATCH * PATCH))
        self.lm = TransformerLanguageModel(TransformerConfig(
            vocab_size=self.n_words + self.n_colours + config.max_patterns,
            d_model=config.d_model, n_heads=4, n_layers=config.n_layers,
            d_ff=2 * config.d_model, max_len=config.text_len + 1 + N_PATCHES, memory=0,
            dropout=0.0, causal=True))

    def fit_patterns(self, images: torch.Tensor) -> None:
        """The ``max_patterns`` commonest patch patterns of these images (empty first)."""
        lit, _ = _lit_and_colour(images)
        flat = patchify(lit.float(), PATCH).reshape(-1, PATCH * PATCH)
        unique, counts = flat.unique(dim=0, return_counts=True)
        order = torch.argsort(counts, descending=True, stable=True)[:self.config.max_patterns]
        self.patterns.zero_()
        self.patterns[:len(order)] = unique[order]

    def tokenize(self, images: torch.Tensor) -> torch.Tensor:
        """Colour token then 16 pattern tokens (the nearest known pattern) ``(batch, 17)``."""
        lit, colour = _lit_and_colour(images)
        patches = patchify(lit.float(), PATCH)  # (batch, 16, 16)
        nearest = torch.cdist(patches, self.patterns.expand(len(images), -1, -1)).argmin(-1)
        colour_token = (colour + self.n_words)[:, None]
        return torch.cat([colour_token, nearest + self.n_words + self.n_colours], dim=1)

    def paint(self, tokens: torch.Tensor) -> torch.Tensor:
        """Images ``(batch, 3, 16, 16)`` from colour and pattern tokens."""
        colour = _PALETTE[tokens[:, 0] - self.n_words]  # (batch, 3)
        lit = self.patterns[tokens[:, 1:] - self.n_words - self.n_colours]  # (batch, 16, 16)
        lit = unpatchify(lit, PATCH)  # (batch, 1, 16, 16)
        return BACKGROUND + lit * (colour[:, :, None, None] - BACKGROUND)

    def loss(self, words: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of each image token given the caption and the tokens before it."""
        image_tokens = self.tokenize(images)
        logits, _ = self.lm(torch.cat([words, image_tokens], dim=1)[:, :-1])
        return F.cross_entropy(logits[:, -image_tokens.shape[1]:].reshape(-1, logits.shape[-1]),
                               image_tokens.reshape(-1))

    def _allowed(self, step: int) -> slice:
        """Token ids that may come at image position ``step``: a colour first, then patterns."""
        first = self.n_words + self.n_colours
        return slice(self.n_words, first) if step == 0 else slice(first, None)

    @torch.no_grad()
    def sample(self, captions: list[str], generator: torch.Generator,
               temperature: float = 1.0) -> np.ndarray:
        """One image ``(n, 3, 16, 16)`` per caption, drawn token by token."""
        self.eval()
        tokens = torch.from_numpy(encode_captions(captions, self.config.text_len))
        for step in range(1 + N_PATCHES):
            allowed = self._allowed(step)
            logits, _ = self.lm(tokens)
            probs = torch.softmax(logits[:, -1, allowed] / temperature, dim=-1)
            token = torch.multinomial(probs, 1, generator=generator) + allowed.start
            tokens = torch.cat([tokens, token], dim=1)
        return self.paint(tokens[:, -(1 + N_PATCHES):]).numpy()

    @torch.no_grad()
    def reconstruct(self, images: np.ndarray) -> np.ndarray:
        """Images through the tokens alone: the best the generator's tokens can draw."""
        return self.paint(self.tokenize(torch.from_numpy(images))).numpy()


def unpatchify(patches: torch.Tensor, patch: int = PATCH) -> torch.Tensor:
    """The inverse of ``clip.patchify``: ``(batch, n, C·p·p)`` → ``(batch, C, H, W)``."""
    batch, n, size = patches.shape
    side, channels = int(round(n ** 0.5)), size // (patch * patch)
    grid = patches.reshape(batch, side, side, channels, patch, patch)
    return grid.permute(0, 3, 1, 4, 2, 5).reshape(batch, channels, side * patch, side * patch)


def generator_trainer(model: PatchGenerator, config: GeneratorConfig) -> TrainingRecord:
    """The pattern vocabulary from the training images, then AdamW on the token loss."""
    data = generate_images(dataclasses.replace(config.images, seed=config.seed))
    images = torch.from_numpy(data.images)
    model.fit_patterns(images)
    words = torch.from_numpy(encode_captions(data.captions, config.text_len))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                   total_steps=config.steps, pct_start=0.1)
    rng, start, losses = np.random.default_rng(config.seed), time.perf_counter(), []
    model.train()
    for _ in range(config.steps):
        batch = torch.from_numpy(rng.choice(len(images), config.batch_size, replace=False))
        loss = model.loss(words[batch], images[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return TrainingRecord(steps=config.steps, train_time_s=time.perf_counter() - start,
                          train_loss=thin(losses),
                          measured={"final_loss": float(np.mean(losses[-20:]))})


def trained_generator(config: GeneratorConfig | None = None
                      ) -> Run[GeneratorConfig, PatchGenerator]:
    """The generator trained on ``config`` (or loaded from the course cache). Chapter 10."""
    config = config or GeneratorConfig()
    return cached_run("text2image", config, PatchGenerator, generator_trainer)
