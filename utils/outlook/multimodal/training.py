"""Train the tiny CLIP on captioned synthetic images, once per configuration. Chapter 10.

``trained_clip`` trains through the course's one cached-run function
(``utils.runtime.cached_run``): the first call trains (seconds on a CPU) and
saves the weights under a key made from the whole configuration; later calls
load them. ``clip_trainer`` is the training recipe, given as the run's trainer.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from utils.data.images import ImageConfig, encode_captions, generate_images
from utils.outlook.multimodal.clip import MAX_LOGIT_SCALE, ClipConfig, TinyClip
from utils.runtime import Run, TrainingRecord, cached_run, thin

__all__ = ["ClipTrainConfig", "HELD_OUT", "clip_temperature", "clip_trainer", "trained_clip"]

# One held-out colour per shape (blue keeps all three), so each shape is seen in three colours.
HELD_OUT = (("red", "square"), ("green", "triangle"), ("yellow", "circle"))


def _default_images() -> ImageConfig:
    return ImageConfig(n=3000, held_out=HELD_OUT)


@dataclass(frozen=True)
class ClipTrainConfig:
    """What the tiny CLIP sees and how long it trains. Chapter 10."""

    version: ClassVar[int] = 1  # bump when the recipe below changes what a config produces
    images: ImageConfig = field(default_factory=_default_images)
    model: ClipConfig = field(default_factory=ClipConfig)
    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    seed: int = 0


def clip_trainer(model: TinyClip, config: ClipTrainConfig) -> TrainingRecord:
    """AdamW with a one-cycle schedule over random batches of the training pairs."""
    data = generate_images(dataclasses.replace(config.images, seed=config.seed))
    images = torch.from_numpy(data.images)
    tokens = torch.from_numpy(encode_captions(data.captions, config.model.text_len))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                   total_steps=config.steps, pct_start=0.1)
    rng = np.random.default_rng(config.seed)
    start, losses = time.perf_counter(), []
    model.train()
    for _ in range(config.steps):
        batch = torch.from_numpy(rng.choice(len(images), config.batch_size, replace=False))
        loss = model(images[batch], tokens[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return TrainingRecord(steps=config.steps, train_time_s=time.perf_counter() - start,
                          train_loss=thin(losses),
                          measured={"final_loss": float(np.mean(losses[-20:]))})


def clip_temperature(model: TinyClip) -> float:
    """The learned temperature, as the loss uses it (1 / exp of the capped log-scale)."""
    return math.exp(-min(float(model.logit_scale.detach()), MAX_LOGIT_SCALE))


def trained_clip(config: ClipTrainConfig | None = None) -> Run[ClipTrainConfig, TinyClip]:
    """The tiny CLIP trained on ``config`` (loaded from the course cache when there). Chapter 10."""
    config = config or ClipTrainConfig()
    return cached_run("clip", config, lambda c: TinyClip(c.model), clip_trainer)
