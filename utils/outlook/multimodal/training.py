"""Train the tiny CLIP on captioned synthetic images, once per configuration. Chapter 10.

``cached_model`` is the one function that trains and caches, for the CLIP
and for the text-to-image generator alike: the first call trains (seconds on a
CPU) and saves the weights under a key made from the whole configuration
(``utils.lm.load_or_create``); later calls load them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from utils.data.images import ImageConfig, encode_captions, generate_images
from utils.lm.cache import config_key, load_or_create
from utils.lm.scoped import local_seed
from utils.outlook.multimodal.clip import MAX_LOGIT_SCALE, ClipConfig, TinyClip

__all__ = ["ClipTrainConfig", "TrainedClip", "trained_clip", "cached_model", "HELD_OUT"]

FORMAT_VERSION = 1  # bump when a change here changes what a cached model holds

# One held-out colour per shape (blue keeps all three), so each shape is seen in three colours.
HELD_OUT = (("red", "square"), ("green", "triangle"), ("yellow", "circle"))


def _default_images() -> ImageConfig:
    return ImageConfig(n=3000, held_out=HELD_OUT)


@dataclass(frozen=True)
class ClipTrainConfig:
    """What the tiny CLIP sees and how long it trains. Chapter 10."""

    images: ImageConfig = field(default_factory=_default_images)
    model: ClipConfig = field(default_factory=ClipConfig)
    steps: int = 300
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.05
    seed: int = 0


@dataclass
class TrainedClip:
    """A trained model with its final training loss, temperature and time."""

    model: TinyClip
    loss: float
    temperature: float
    train_time_s: float
    from_cache: bool


def _train(model: TinyClip, config: ClipTrainConfig) -> tuple[float, float]:
    """Adam over random batches of the training pairs; returns (last loss, seconds)."""
    data = generate_images(dataclasses.replace(config.images, seed=config.seed))
    images = torch.from_numpy(data.images)
    tokens = torch.from_numpy(encode_captions(data.captions, config.model.text_len))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                   total_steps=config.steps, pct_start=0.1)
    rng = np.random.default_rng(config.seed)
    start, losses = time.perf_counter(), []
    for _ in range(config.steps):
        batch = torch.from_numpy(rng.choice(len(images), config.batch_size, replace=False))
        loss = model(images[batch], tokens[batch])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return float(np.mean(losses[-20:])), time.perf_counter() - start


def cached_model(prefix: str, config: Any, model: nn.Module,
                 train: Callable[[], dict]) -> tuple[dict, bool]:
    """Train ``model`` in place with ``train()`` (which returns a JSON record), or load it.

    Returns the record and whether it came from the cache. ``train`` runs under
    ``local_seed(config.seed)``, so a run is the same whether or not it was cached.
    """
    key = f"{prefix}-" + config_key({"config": config, "format": FORMAT_VERSION})
    trained_now = False

    def create() -> tuple[dict, dict]:
        nonlocal trained_now
        trained_now = True
        with local_seed(config.seed):
            record = train()
        return model.state_dict(), record

    state, record = load_or_create(key, create)
    if not trained_now:
        model.load_state_dict(state)
    model.eval()
    return record, not trained_now


def trained_clip(config: ClipTrainConfig | None = None) -> TrainedClip:
    """The tiny CLIP trained on ``config`` (loaded from the course cache when there). Chapter 10."""
    config = config or ClipTrainConfig()
    with local_seed(config.seed):
        model = TinyClip(config.model)

    def train() -> dict:
        loss, seconds = _train(model, config)
        return {"loss": loss, "train_time_s": seconds}

    record, from_cache = cached_model("clip", config, model, train)
    scale = min(float(model.logit_scale.detach()), MAX_LOGIT_SCALE)
    return TrainedClip(model, record["loss"], math.exp(-scale), record["train_time_s"],
                       from_cache)
