"""The synthetic captioned images of chapter 10: known content, grammar, knobs."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from utils.data.images import (
    CAPTION_WORDS,
    COLOURS,
    ImageConfig,
    ImageObject,
    Scene,
    caption,
    combinations,
    encode_captions,
    generate_images,
    render,
)


def test_same_seed_same_images_other_seed_other_images():
    a, b = generate_images(ImageConfig(n=50, seed=3)), generate_images(ImageConfig(n=50, seed=3))
    c = generate_images(ImageConfig(n=50, seed=4))
    assert np.array_equal(a.images, b.images) and a.captions == b.captions
    assert not np.array_equal(a.images, c.images)


def test_render_paints_each_object_in_its_colour_and_nothing_else():
    scene = Scene("pair", (ImageObject("red", "square", "big", (0, 0)),
                           ImageObject("blue", "circle", "small", (0, 1))))
    image = render(scene)
    assert image.shape == (3, 16, 16) and image.dtype == np.float32
    # The big square fills its 7 × 7 box around the centre of cell (0, 0).
    assert np.allclose(image[:, 1:8, 1:8].reshape(3, -1).T, COLOURS["red"])
    lit = image.max(axis=0) > 0.5
    assert lit[:, :8].sum() == 49 and lit[:, 8:].sum() == 21  # 5 × 5 disc without its corners
    assert caption(scene) == "a red square left of a blue circle"


@pytest.mark.parametrize("shape,pixels", [("square", 25), ("circle", 21), ("triangle", 13)])
def test_shapes_have_their_own_footprints(shape, pixels):
    image = render(Scene("single", (ImageObject("green", shape, "small", (1, 1)),)))
    assert (image.max(axis=0) > 0.5).sum() == pixels


def test_held_out_combinations_never_occur():
    held = (("red", "square"), ("blue", "circle"))
    data = generate_images(ImageConfig(n=400, held_out=held, seed=1))
    seen = {(o.colour, o.shape) for s in data.scenes for o in s.objects}
    assert not seen & set(held)
    assert seen == set(combinations(held))


def test_planted_correlation_sets_the_share_and_keeps_the_shape_share():
    plain = generate_images(ImageConfig(n=3000, kinds=(("single", 1.0),), seed=2))
    biased = generate_images(ImageConfig(n=3000, kinds=(("single", 1.0),),
                                         correlation=("circle", "red", 0.9), seed=2))

    def counts(data):
        return Counter((s.objects[0].colour, s.objects[0].shape) for s in data.scenes)

    circles = sum(v for (c, s), v in counts(biased).items() if s == "circle")
    assert counts(biased)[("red", "circle")] / circles == pytest.approx(0.9, abs=0.03)
    plain_circles = sum(v for (c, s), v in counts(plain).items() if s == "circle")
    assert counts(plain)[("red", "circle")] / plain_circles == pytest.approx(0.25, abs=0.04)
    assert circles / 3000 == pytest.approx(1 / 3, abs=0.03)


def test_every_caption_is_true_of_its_scene():
    data = generate_images(ImageConfig(n=300, seed=5))
    for text, scene in zip(data.captions, data.scenes, strict=True):
        words = text.split()
        if scene.kind == "pair":
            left, right = sorted(scene.objects, key=lambda o: o.cell[1])
            assert words == ["a", left.colour, left.shape, "left", "of", "a", right.colour,
                             right.shape]
            assert (left.colour, left.shape) != (right.colour, right.shape)
        elif scene.kind == "count":
            assert words[0] == ["one", "two", "three"][len(scene.objects) - 1]
            assert len({(o.colour, o.shape) for o in scene.objects}) == 1
        else:
            obj = scene.objects[0]
            assert obj.colour in words or obj.shape in words
            assert not set(words) & (set(COLOURS) - {obj.colour})
            if "left" in words or "right" in words:
                assert words[-1] == ("left" if obj.cell[1] == 0 else "right")


def test_encode_captions_puts_cls_first_and_pads():
    ids = encode_captions(["a red circle"], max_len=6)
    assert [CAPTION_WORDS[i] for i in ids[0]] == ["<cls>", "a", "red", "circle", "<pad>", "<pad>"]
    with pytest.raises(ValueError, match="outside"):
        encode_captions(["a purple circle"])


@pytest.mark.parametrize("bad", [dict(n=0), dict(held_out=(("pink", "circle"),)),
                                 dict(correlation=("circle", "red", 1.5)), dict(noise=-1.0)])
def test_bad_configs_are_refused(bad):
    with pytest.raises(ValueError):
        ImageConfig(**bad)
