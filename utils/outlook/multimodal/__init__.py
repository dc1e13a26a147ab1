"""Beyond text: a tiny CLIP, what it can and cannot do, and text to image. Chapter 10.

Layer: part of the outlook chapter; uses ``utils.lm``, ``utils.data`` and ``utils.runtime``.
"""

from __future__ import annotations

from utils.outlook.multimodal.clip import (  # noqa: F401
    ClipConfig,
    TextEncoder,
    TinyClip,
    VisionTransformer,
    clip_loss,
    patchify,
)
from utils.outlook.multimodal.generate import (  # noqa: F401
    GeneratorConfig,
    PatchGenerator,
    generator_trainer,
    trained_generator,
    unpatchify,
)
from utils.outlook.multimodal.measure import (  # noqa: F401
    binding_accuracy,
    combination_labels,
    embed,
    linear_probe,
    retrieval_chance,
    retrieval_recall,
    swap_attributes,
    swap_objects,
    train_from_scratch,
    zero_shot,
)
from utils.outlook.multimodal.reader import caption_holds, parse_caption, read_image  # noqa: F401
from utils.outlook.multimodal.training import (  # noqa: F401
    HELD_OUT,
    ClipTrainConfig,
    clip_temperature,
    clip_trainer,
    trained_clip,
)

__all__ = [
    "HELD_OUT", "ClipConfig", "ClipTrainConfig", "GeneratorConfig", "PatchGenerator",
    "TextEncoder", "TinyClip", "VisionTransformer", "binding_accuracy",
    "caption_holds", "clip_loss", "clip_temperature", "clip_trainer", "combination_labels",
    "embed", "linear_probe",
    "parse_caption", "patchify", "read_image", "retrieval_chance", "retrieval_recall",
    "swap_attributes", "swap_objects", "train_from_scratch", "trained_clip",
    "generator_trainer", "trained_generator", "unpatchify", "zero_shot",
]
