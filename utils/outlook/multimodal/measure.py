"""What a tiny CLIP can and cannot do, measured on images whose content is known. Chapter 10.

- ``zero_shot``: classify an image by the prompt ("a red circle") whose
  embedding is nearest, among every colour–shape combination;
- ``retrieval_recall``: recall@k from images to captions and back, where a
  retrieved item counts when its caption is the query's own (many images share
  a description), with the exact chance rate of a random ranking beside it;
- ``binding_accuracy``: how often the true caption of a two-object image
  scores above its swaps (Yuksekgonul et al., 2023), chance one half;
- ``linear_probe`` and ``train_from_scratch``: few labels, a frozen encoder
  read by a logistic regression, against the same network trained from nothing.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from torch import nn

from utils.data.images import ImageSet, combinations, encode_captions
from utils.outlook.multimodal.clip import ClipConfig, TinyClip, VisionTransformer
from utils.runtime import local_seed

__all__ = ["embed", "zero_shot", "retrieval_recall", "retrieval_chance", "binding_accuracy",
           "swap_attributes", "swap_objects", "linear_probe", "train_from_scratch",
           "combination_labels"]


@torch.no_grad()
def embed(model: TinyClip, images: np.ndarray | None = None,
          captions: list[str] | None = None) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Unit-length image and caption embeddings (either may be left out)."""
    model.eval()
    image_e = model.encode_image(torch.from_numpy(images)) if images is not None else None
    text_e = (model.encode_text(torch.from_numpy(encode_captions(captions,
                                                                 model.config.text_len)))
              if captions is not None else None)
    return image_e, text_e


def combination_labels(data: ImageSet) -> np.ndarray:
    """Index into ``combinations()`` of each single-object image's colour and shape."""
    combos = combinations()
    return np.array([combos.index((s.objects[0].colour, s.objects[0].shape))
                     for s in data.scenes])


def zero_shot(model: TinyClip, images: np.ndarray, template: str = "a {colour} {shape}"
              ) -> np.ndarray:
    """The index (into ``combinations()``) of each image's nearest prompt."""
    prompts = [template.format(colour=c, shape=s) for c, s in combinations()]
    image_e, text_e = embed(model, images, prompts)
    return (image_e @ text_e.T).argmax(dim=1).numpy()


def retrieval_recall(model: TinyClip, images: np.ndarray, captions: list[str],
                     ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Recall@k image→text and text→image; a hit is any item with the query's caption."""
    image_e, text_e = embed(model, images, captions)
    similarity = (image_e @ text_e.T).numpy()  # (n images, n captions)
    same = np.array(captions)[:, None] == np.array(captions)[None, :]
    out = {}
    for direction, scores in (("image→text", similarity), ("text→image", similarity.T)):
        order = np.argsort(-scores, axis=1, kind="stable")
        hits = np.take_along_axis(same, order, axis=1)
        for k in ks:
            out[f"{direction} R@{k}"] = float(hits[:, :k].any(axis=1).mean())
    return out


def retrieval_chance(captions: list[str], k: int) -> float:
    """Recall@k of a uniformly random ranking: 1 - C(n - m, k) / C(n, k), averaged."""
    n = len(captions)
    _, counts = np.unique(captions, return_counts=True)
    per_query = [1 - math.comb(n - m, k) / math.comb(n, k) for m in counts for _ in range(m)]
    return float(np.mean(per_query))


def swap_attributes(text: str) -> str:
    """"a red circle left of a blue square" → "a blue circle left of a red square"."""
    w = text.split()
    return " ".join([w[0], w[6], w[2], w[3], w[4], w[5], w[1], w[7]])


def swap_objects(text: str) -> str:
    """"a red circle left of a blue square" → "a blue square left of a red circle"."""
    w = text.split()
    return " ".join([w[0], w[6], w[7], w[3], w[4], w[5], w[1], w[2]])


def binding_accuracy(model: TinyClip, images: np.ndarray, captions: list[str]
                     ) -> dict[str, float]:
    """Share of two-object images whose true caption beats each swap (chance: 0.5).

    Images whose swap reads the same as the truth (two objects of one colour,
    colours swapped) are left out of that swap's share.
    """
    out = {}
    image_e, true_e = embed(model, images, captions)
    for name, swap in (("attributes swapped", swap_attributes),
                       ("order swapped", swap_objects)):
        swapped = [swap(c) for c in captions]
        differs = torch.tensor([a != b for a, b in zip(captions, swapped, strict=True)])
        _, swapped_e = embed(model, None, swapped)
        wins = (image_e * true_e).sum(-1) > (image_e * swapped_e).sum(-1)
        out[name] = float(wins[differs].float().mean())
    return out


@torch.no_grad()
def _features(encoder: VisionTransformer, images: np.ndarray) -> np.ndarray:
    encoder.eval()
    return encoder.features(torch.from_numpy(images)).numpy()


def linear_probe(encoder: VisionTransformer, train_images: np.ndarray, train_labels: np.ndarray,
                 test_images: np.ndarray, test_labels: np.ndarray) -> float:
    """Test accuracy of a logistic regression on the frozen encoder's ``<cls>`` features."""
    probe = LogisticRegression(max_iter=2000, C=10.0)
    probe.fit(_features(encoder, train_images), train_labels)
    return float((probe.predict(_features(encoder, test_images)) == test_labels).mean())


def train_from_scratch(config: ClipConfig, train_images: np.ndarray, train_labels: np.ndarray,
                       test_images: np.ndarray, test_labels: np.ndarray, *, steps: int = 300,
                       lr: float = 3e-3, seed: int = 0) -> float:
    """Test accuracy of the same Vision Transformer plus a head, trained on the few labels."""
    n_classes = len(combinations())
    with local_seed(seed):
        encoder = VisionTransformer(config)
        head = nn.Linear(config.d_model, n_classes)
        params = [*encoder.parameters(), *head.parameters()]
        optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
        x, y = torch.from_numpy(train_images), torch.from_numpy(train_labels)
        encoder.train()
        for _ in range(steps):  # the whole small labelled set is one batch
            loss = F.cross_entropy(head(encoder.features(x)), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    encoder.eval()
    with torch.no_grad():
        predictions = head(encoder.features(torch.from_numpy(test_images))).argmax(1).numpy()
    return float((predictions == test_labels).mean())
