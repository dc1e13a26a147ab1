"""Chapter 10's tiny CLIP, its measurements, the exact reader and the text-to-image generator."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss

from utils.data.images import ImageConfig, generate_images
from utils.outlook.multimodal import (
    ClipConfig,
    ClipTrainConfig,
    GeneratorConfig,
    PatchGenerator,
    TinyClip,
    caption_holds,
    clip_loss,
    patchify,
    read_image,
    retrieval_chance,
    swap_attributes,
    swap_objects,
    trained_clip,
    unpatchify,
)


def _unit_pairs(n=6, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (F.normalize(torch.randn(n, d, generator=g), dim=1),
            F.normalize(torch.randn(n, d, generator=g), dim=1))


def test_clip_loss_is_the_mean_of_both_cross_entropies_as_sklearn_computes_them():
    # open_clip's ClipLoss cannot be imported offline here (it needs torchvision, whose
    # wheels want another torch), so the reference is the definition, via scikit-learn.
    images, texts = _unit_pairs()
    scale = 7.5
    logits = (scale * images @ texts.T).double()
    rows = log_loss(np.arange(6), torch.softmax(logits, 1).numpy(), labels=np.arange(6))
    cols = log_loss(np.arange(6), torch.softmax(logits.T, 1).numpy(), labels=np.arange(6))
    assert float(clip_loss(images, texts, scale)) == pytest.approx((rows + cols) / 2, rel=1e-5)
    # One direction only is a different number on a non-symmetric batch.
    assert float(clip_loss(images, texts, scale)) != pytest.approx(rows, rel=1e-3)


def test_clip_loss_is_log_n_for_equal_scores_and_small_for_matching_pairs():
    images, _ = _unit_pairs()
    assert float(clip_loss(images, images, 0.0)) == pytest.approx(np.log(6))
    assert float(clip_loss(images, images, 100.0)) < 0.05


def test_the_temperature_is_learned():
    model = TinyClip(ClipConfig())
    data = generate_images(ImageConfig(n=8, seed=0))
    from utils.data.images import encode_captions
    model(torch.from_numpy(data.images), torch.from_numpy(encode_captions(data.captions))
          ).backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad != 0


def test_patchify_is_a_strided_convolution_and_unpatchify_inverts_it():
    images = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    conv = torch.nn.Conv2d(3, 7, kernel_size=4, stride=4, bias=False)
    by_conv = conv(images).flatten(2).transpose(1, 2)  # (batch, 16 patches, 7)
    by_patches = patchify(images, 4) @ conv.weight.reshape(7, -1).T
    assert torch.allclose(by_conv, by_patches, atol=1e-5)
    assert torch.equal(unpatchify(patchify(images, 4)), images)
    # Patch 1 is the second patch of the top row, not of the left column.
    assert torch.equal(patchify(images, 4)[:, 1], images[:, :, :4, 4:8].reshape(2, -1))


def test_reader_reads_every_drawn_image_right_and_rejects_swaps():
    data = generate_images(ImageConfig(n=600, seed=11, noise=0.05))
    assert all(caption_holds(i, c) for i, c in zip(data.images, data.captions, strict=True))
    pairs = [(i, c) for i, c, s in zip(data.images, data.captions, data.scenes, strict=True)
             if s.kind == "pair"]
    assert pairs and not any(caption_holds(i, swap_attributes(c)) for i, c in pairs
                             if swap_attributes(c) != c)
    assert not any(caption_holds(i, swap_objects(c)) for i, c in pairs)
    assert read_image(np.full((3, 16, 16), 0.05, dtype=np.float32)) == []


def test_swaps_use_the_same_words():
    text = "a red circle left of a blue square"
    assert swap_attributes(text) == "a blue circle left of a red square"
    assert swap_objects(text) == "a blue square left of a red circle"
    assert sorted(swap_attributes(text).split()) == sorted(text.split())


def test_retrieval_chance_matches_a_random_ranking():
    captions = ["a"] * 3 + ["b"] * 2 + list("cdefg")
    rng = np.random.default_rng(0)
    same = np.array(captions)[:, None] == np.array(captions)[None, :]
    hits = [same[q, rng.permutation(10)[:2]].any() for q in range(10) for _ in range(4000)]
    assert retrieval_chance(captions, 2) == pytest.approx(np.mean(hits), abs=0.01)


def test_trained_clip_is_cached_and_reloads_the_same_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    config = ClipTrainConfig(images=dataclasses.replace(ClipTrainConfig().images, n=64),
                             steps=3, batch_size=16)
    first, second = trained_clip(config), trained_clip(config)
    assert not first.from_cache and second.from_cache
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)


def test_generator_tokens_paint_single_objects_back_exactly():
    data = generate_images(ImageConfig(n=200, kinds=(("single", 1.0),), seed=3))
    model = PatchGenerator(GeneratorConfig())
    model.fit_patterns(torch.from_numpy(data.images))
    painted = model.reconstruct(data.images)
    assert all(caption_holds(i, c) for i, c in zip(painted, data.captions, strict=True))
    samples = model.sample(["a red circle"] * 3, torch.Generator().manual_seed(0))
    assert samples.shape == (3, 3, 16, 16)
