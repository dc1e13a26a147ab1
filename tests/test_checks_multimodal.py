"""Lab 10's checks pass every right answer and fail each plausible wrong one.

Right answers accepted, at several seeds: two independent implementations of
each exercise (PyTorch's cross-entropy and a hand-written log-sum-exp; a
matrix of cosines and a loop; a reshape-and-permute and a loop over patches),
float32 or float64, an answer that normalises its inputs in place.

Wrong answers caught, each with a message naming the problem:

- contrastive_loss: one direction (rows or columns), no temperature, the
  temperature multiplied, unnormalised embeddings, a sum over the batch, the two
  directions added, a naive softmax that overflows at temperature 0.01.
- zero_shot_predict: prompts not normalised, the argmax over the images,
  similarity scores returned.
- patchify: patches numbered column by column, (row, column, channel) inside a
  patch, a reshape without a permute.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from utils.checks import CheckFailed
from utils.checks.multimodal import (
    check_contrastive_loss,
    check_patchify,
    check_zero_shot_predict,
)

SEEDS = (0, 1, 2)


# ---------------------------------------------------------------- contrastive loss
def loss_with_cross_entropy(images, texts, temperature):
    u, v = F.normalize(images, dim=1), F.normalize(texts, dim=1)
    logits = u @ v.T / temperature
    target = torch.arange(len(u))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def loss_by_hand(images, texts, temperature):
    images /= images.norm(dim=1, keepdim=True)  # in place: the check's copy, not its case
    texts = texts / texts.norm(dim=1, keepdim=True)
    s = (images.double() @ texts.double().T) / temperature
    rows = (s.logsumexp(1) - s.diag()).mean()
    cols = (s.logsumexp(0) - s.diag()).mean()
    return 0.5 * rows + 0.5 * cols


def one_direction(images, texts, temperature):
    logits = F.normalize(images, dim=1) @ F.normalize(texts, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(images)))


def no_temperature(images, texts, temperature):
    return loss_with_cross_entropy(images, texts, 1.0)


def times_temperature(images, texts, temperature):
    return loss_with_cross_entropy(images, texts, 1 / temperature)


def unnormalised(images, texts, temperature):
    logits = images @ texts.T / temperature
    target = torch.arange(len(images))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def summed(images, texts, temperature):
    return loss_with_cross_entropy(images, texts, temperature) * len(images)


def naive_softmax(images, texts, temperature):
    u, v = F.normalize(images, dim=1), F.normalize(texts, dim=1)
    e = (u @ v.T / temperature).exp()
    rows = -(e.diag() / e.sum(1)).log().mean()
    cols = -(e.diag() / e.sum(0)).log().mean()
    return (rows + cols) / 2


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [loss_with_cross_entropy, loss_by_hand])
def test_right_losses_pass(right, seed):
    assert check_contrastive_loss(right, seed=seed).passed


@pytest.mark.parametrize("wrong,message", [
    (one_direction, "only the image-to-text"), (no_temperature, "ignores the temperature"),
    (times_temperature, "multiplied by the temperature"), (unnormalised, "not normalised"),
    (summed, "summed over the batch"), (naive_softmax, "overflows")])
def test_wrong_losses_fail_with_their_reason(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_contrastive_loss(wrong)


# ---------------------------------------------------------------- zero-shot
def predict_with_cosines(images, prompts):
    return (F.normalize(images, dim=1) @ F.normalize(prompts, dim=1).T).argmax(dim=1)


def predict_in_a_loop(images, prompts):
    out = []
    for image in images:
        best = max(range(len(prompts)), key=lambda c: float(
            image @ prompts[c] / (image.norm() * prompts[c].norm())))
        out.append(best)
    return torch.tensor(out)


def predict_unnormalised(images, prompts):
    return (images @ prompts.T).argmax(dim=1)


def predict_wrong_axis(images, prompts):
    return (F.normalize(images, dim=1) @ F.normalize(prompts, dim=1).T).argmax(dim=0)


def predict_scores(images, prompts):
    return F.normalize(images, dim=1) @ F.normalize(prompts, dim=1).T


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [predict_with_cosines, predict_in_a_loop])
def test_right_zero_shot_passes(right, seed):
    assert check_zero_shot_predict(right, seed=seed).passed


@pytest.mark.parametrize("wrong,message", [
    (predict_unnormalised, "not normalised"), (predict_wrong_axis, "over the prompts"),
    (predict_scores, "similarity scores")])
def test_wrong_zero_shot_fails_with_its_reason(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_zero_shot_predict(wrong)


# ---------------------------------------------------------------- patchify
def patchify_by_permute(images, patch):
    b, c, h, w = images.shape
    grid = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return grid.permute(0, 2, 4, 1, 3, 5).reshape(b, -1, c * patch * patch)


def patchify_in_a_loop(images, patch):
    b, c, h, w = images.shape
    rows = [images[:, :, i:i + patch, j:j + patch].reshape(b, -1)
            for i in range(0, h, patch) for j in range(0, w, patch)]
    return torch.stack(rows, dim=1)


def patchify_columns_first(images, patch):
    b, c, h, w = images.shape
    grid = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return grid.permute(0, 4, 2, 1, 3, 5).reshape(b, -1, c * patch * patch)


def patchify_channel_last(images, patch):
    b, c, h, w = images.shape
    grid = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return grid.permute(0, 2, 4, 3, 5, 1).reshape(b, -1, c * patch * patch)


def patchify_reshape_only(images, patch):
    b, c, h, w = images.shape
    return images.reshape(b, (h // patch) * (w // patch), c * patch * patch)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("right", [patchify_by_permute, patchify_in_a_loop])
def test_right_patchify_passes(right, seed):
    assert check_patchify(right, seed=seed).passed


@pytest.mark.parametrize("wrong,message", [
    (patchify_columns_first, "column by column"), (patchify_channel_last, "channel first"),
    (patchify_reshape_only, "reshape alone")])
def test_wrong_patchify_fails_with_its_reason(wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check_patchify(wrong)


def test_the_course_implementation_is_forbidden():
    from utils.outlook.multimodal import clip

    with pytest.raises(CheckFailed, match="asks you to write yourself"):
        check_patchify(lambda images, patch: clip.patchify(images, patch))
