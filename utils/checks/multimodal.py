"""Checks for lab 10 (multimodal): CLIP's loss, zero-shot classification, patches.

Used in chapter 10. Each exercise is data (`EXERCISES`): cases from a seed, a
run that calls the student's function on private copies, and a judge that
computes the answer from the case and, when the student's differs, names the
mistake by comparing with the mistakes themselves:

- ``contrastive_loss``: one direction only (rows or columns), no temperature,
  the temperature multiplied instead of divided, embeddings not normalised, a
  sum instead of a mean; features of very different lengths, a temperature of
  0.01 (exp overflows in float32 without a stable log-sum-exp), one pair.
- ``zero_shot_predict``: prompt embeddings not normalised (their lengths
  differ tenfold, so a dot product picks the longest), the argmax over the
  wrong axis, scores instead of indices.
- ``patchify``: patches numbered column by column, the numbers inside a patch
  in (row, column, channel) order, a reshape with no permute; non-square
  images, one channel and three, one patch per image.

The course's own implementations are forbidden while the student's code runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from utils.checks._core import Case, Exercise, Wrong, checker
from utils.checks._judging import as_array, expect_shape
from utils.i18n import _

__all__ = ["EXERCISES", "check_contrastive_loss", "check_patchify", "check_zero_shot_predict"]

_COURSE = ("utils.outlook.multimodal.clip.clip_loss", "utils.outlook.multimodal.clip_loss",
           "utils.outlook.multimodal.clip.patchify", "utils.outlook.multimodal.patchify",
           "utils.outlook.multimodal.measure.zero_shot", "utils.outlook.multimodal.zero_shot")


def _t(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy())


# ---------------------------------------------------------------- contrastive loss
def _loss_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for n, d, temperature in ((6, 5, 0.07), (5, 8, 0.5), (4, 3, 2.0), (7, 4, 0.01), (1, 4, 0.1)):
        lengths = rng.uniform(0.2, 5.0, size=(n, 1))  # rows of very different lengths
        cases.append({"images": rng.normal(size=(n, d)) * lengths,
                      "texts": rng.normal(size=(n, d)) * rng.uniform(0.2, 5.0, size=(n, 1)),
                      "temperature": temperature})
    # float32 features: the loss must not overflow at temperature 0.01
    cases[3] = {**cases[3], "images": cases[3]["images"].astype(np.float32),
                "texts": cases[3]["texts"].astype(np.float32)}
    return cases


def _directions(images: np.ndarray, texts: np.ndarray, scale: float, normalise: bool = True
                ) -> tuple[float, float]:
    """The mean cross-entropy of rows (image → text) and of columns (text → image)."""
    u, v = images.astype(np.float64), texts.astype(np.float64)
    if normalise:
        u = u / np.linalg.norm(u, axis=1, keepdims=True)
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
    logits = scale * u @ v.T

    def ce(m: np.ndarray) -> float:
        top = m.max(axis=1, keepdims=True)
        lse = (top + np.log(np.exp(m - top).sum(axis=1, keepdims=True)))[:, 0]
        return float(np.mean(lse - np.diag(m)))
    return ce(logits), ce(logits.T)


def _run_loss(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["contrastive_loss"](_t(case["images"]), _t(case["texts"]),
                                  float(case["temperature"]))


def _judge_loss(case: Case, output: Any) -> str | None:
    value = as_array(output, _("your loss"))
    if value.shape != ():
        raise Wrong(_("return the loss as one number (a 0-d tensor), not shape {shape}").format(
            shape=value.shape))
    value = float(value)
    images, texts, tau = case["images"], case["texts"], float(case["temperature"])
    n = len(images)
    rows, cols = _directions(images, texts, 1 / tau)
    if np.isclose(value, (rows + cols) / 2, rtol=1e-4, atol=1e-5):
        return None
    if not np.isfinite(value):
        return _("your loss is nan or inf at a small temperature: exp of the logits overflows. "
                 "Compute each cross-entropy with a log-sum-exp, e.g. F.cross_entropy")
    diagnoses = [
        (rows, _("you used only the image-to-text direction (rows); CLIP averages it with the "
                 "text-to-image direction (columns)")),
        (cols, _("you used only the text-to-image direction (columns); CLIP averages it with the "
                 "image-to-text direction (rows)")),
        (sum(_directions(images, texts, 1.0)) / 2, _("your loss ignores the temperature: divide "
                                                     "the cosine similarities by it")),
        (sum(_directions(images, texts, tau)) / 2, _("you multiplied by the temperature; divide "
                                                     "the cosine similarities by it")),
        (sum(_directions(images, texts, 1 / tau, normalise=False)) / 2,
         _("your embeddings are not normalised: divide each row by its length, so that the "
           "similarity is a cosine")),
        (n * (rows + cols) / 2, _("you summed over the batch; take the mean over the pairs")),
        (rows + cols, _("you added the two directions; CLIP takes their mean")),
    ]
    for wrong, message in diagnoses:
        if np.isclose(value, wrong, rtol=1e-4, atol=1e-5):
            return message
    if n == 1:
        return _("for a batch of one pair the loss is 0: the only caption is the right one")
    return _("your loss is not CLIP's: normalise both embeddings, divide their cosine "
             "similarities by the temperature, and average the cross-entropy of each image "
             "picking its caption with that of each caption picking its image")


# ---------------------------------------------------------------- zero-shot
def _zero_shot_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    cases = []
    for n_images, n_classes, d in ((40, 5, 8), (30, 12, 6), (8, 8, 4), (1, 3, 5)):
        prompts = rng.normal(size=(n_classes, d))
        prompts *= np.geomspace(0.3, 3.0, n_classes)[rng.permutation(n_classes)][:, None]
        images = rng.normal(size=(n_images, d)) * rng.uniform(0.5, 2.0, size=(n_images, 1))
        cases.append({"images": images, "prompts": prompts})
    return cases


def _run_zero_shot(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["zero_shot_predict"](_t(case["images"]), _t(case["prompts"]))


def _judge_zero_shot(case: Case, output: Any) -> str | None:
    images, prompts = case["images"], case["prompts"]
    result = as_array(output, _("your predictions"))
    cos = (images / np.linalg.norm(images, axis=1, keepdims=True)) @ (
        prompts / np.linalg.norm(prompts, axis=1, keepdims=True)).T
    if result.shape == cos.shape and not np.array_equal(result, np.round(result)):
        return _("you returned the similarity scores; return each image's class index (argmax)")
    if result.shape == (len(prompts),) and len(prompts) != len(images):
        return _("you returned one value per prompt: take the argmax over the prompts, for "
                 "each image (dim=1)")
    expect_shape(result, (len(images),), _("your predictions"))
    if np.array_equal(result, cos.argmax(axis=1)):
        return None
    if np.array_equal(result, (images @ prompts.T).argmax(axis=1)):
        return _("your prompt embeddings are not normalised: the longest prompt wins a dot "
                 "product; compare cosines")
    if len(prompts) == len(images) and np.array_equal(result, cos.argmax(axis=0)):
        return _("you took the argmax over the images; take it over the prompts (dim=1)")
    return _("some images get a class other than the prompt of highest cosine similarity")


# ---------------------------------------------------------------- patchify
def _patch_cases(seed: int) -> list[Case]:
    rng = np.random.default_rng(seed)
    shapes = (((2, 3, 8, 12), 4), ((1, 1, 6, 4), 2), ((3, 3, 4, 4), 4), ((2, 2, 6, 9), 3))
    return [{"images": rng.normal(size=shape), "patch": patch} for shape, patch in shapes]


def _reference_patches(images: np.ndarray, p: int, order: str = "ok") -> np.ndarray:
    b, c, h, w = images.shape
    grid = images.reshape(b, c, h // p, p, w // p, p)
    axes = {"ok": (0, 2, 4, 1, 3, 5), "columns first": (0, 4, 2, 1, 3, 5),
            "channel last": (0, 2, 4, 3, 5, 1)}[order]
    return grid.transpose(axes).reshape(b, (h // p) * (w // p), c * p * p)


def _run_patchify(ns: Mapping[str, Any], case: Case) -> Any:
    return ns["patchify"](_t(case["images"]), int(case["patch"]))


def _judge_patchify(case: Case, output: Any) -> str | None:
    images, p = case["images"], int(case["patch"])
    b, c, h, w = images.shape
    result = as_array(output, _("your patches"))
    expect_shape(result, (b, (h // p) * (w // p), c * p * p), _("your patches"))
    if np.allclose(result, _reference_patches(images, p)):
        return None
    if np.allclose(result, _reference_patches(images, p, "columns first")):
        return _("your patches are numbered column by column; number them row by row, left "
                 "to right, as a text is read")
    if np.allclose(result, _reference_patches(images, p, "channel last")):
        return _("inside each patch your numbers run (row, column, channel); flatten each "
                 "patch channel first, then row, then column, as a convolution's weight")
    if np.allclose(result, images.reshape(result.shape)):
        return _("a reshape alone does not cut patches: each 'patch' is a run of consecutive "
                 "numbers; reshape to (batch, C, H/p, p, W/p, p) and permute first")
    return _("your patches do not hold the right pixels in the right order")


# ---------------------------------------------------------------- the lab's exercises
EXERCISES: dict[str, Exercise] = {e.name: e for e in (
    Exercise("contrastive_loss", ("contrastive_loss",), _loss_cases, _run_loss, _judge_loss,
             forbidden=_COURSE),
    Exercise("zero_shot_predict", ("zero_shot_predict",), _zero_shot_cases, _run_zero_shot,
             _judge_zero_shot, forbidden=_COURSE),
    Exercise("patchify", ("patchify",), _patch_cases, _run_patchify, _judge_patchify,
             forbidden=_COURSE),
)}


check_contrastive_loss = checker(EXERCISES, "contrastive_loss")
check_zero_shot_predict = checker(EXERCISES, "zero_shot_predict")
check_patchify = checker(EXERCISES, "patchify")
