"""Read what a synthetic image shows, exactly, and whether a caption is true of it. Chapter 10.

No learning: a pixel is lit when its brightest channel is above one half; its
colour is the nearest of the four; same-coloured lit pixels that touch make
one object; the share of its bounding box an object fills tells its shape
(a square fills all of it, a disc about four fifths, a triangle about half).
On every image ``utils.data.images`` draws, the reader is right; on a
generated image it is the judge of whether the caption was followed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from utils.data.images import COLOURS, NUMBERS, SHAPES, SIZES

__all__ = ["SeenObject", "read_image", "caption_holds", "parse_caption"]

_PALETTE = np.array(list(COLOURS.values()), dtype=np.float32)  # (4, 3)
_NAMES = list(COLOURS)
_MIN_PIXELS = 4  # smaller specks are noise, not objects


@dataclass(frozen=True)
class SeenObject:
    """An object as read: colour, shape ('blob' when none fits), box side, left or right."""

    colour: str
    shape: str
    side: int  # the box's larger side, in pixels
    left: bool


def _shape(fill: float, height: int, width: int) -> str:
    if height != width:
        return "blob"
    if fill >= 0.95:
        return "square"
    if 0.68 <= fill < 0.95:
        return "circle"
    if 0.40 <= fill < 0.62:
        return "triangle"
    return "blob"


def read_image(image: np.ndarray) -> list[SeenObject]:
    """The objects in a ``(3, H, W)`` image, left to right, then top to bottom."""
    image = np.asarray(image, dtype=np.float32)
    lit = image.max(axis=0) > 0.5
    distance = ((image.transpose(1, 2, 0)[:, :, None, :] - _PALETTE) ** 2).sum(-1)
    nearest = distance.argmin(-1)  # (H, W) colour index of each pixel
    found = []
    for index, name in enumerate(_NAMES):
        labels, count = ndimage.label(lit & (nearest == index))
        for box, label in zip(ndimage.find_objects(labels), range(1, count + 1), strict=True):
            pixels = int((labels[box] == label).sum())
            if pixels < _MIN_PIXELS:
                continue
            height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
            centre = (box[1].start + box[1].stop - 1) / 2
            found.append((box[1].start, box[0].start, SeenObject(
                name, _shape(pixels / (height * width), height, width), max(height, width),
                centre < image.shape[2] / 2)))
    return [obj for *_, obj in sorted(found, key=lambda t: (t[0], t[1]))]


def parse_caption(text: str) -> dict:
    """The grammar read backwards: the objects (and size, side) a caption asks for."""
    words = text.split()
    if "left" in words and "of" in words:  # "a C S left of a C S"
        return {"objects": [(words[1], words[2]), (words[6], words[7])], "relation": True}
    if words[0] in NUMBERS:  # "two red circles"
        shape = words[2][:-1] if words[2].endswith("s") else words[2]
        return {"objects": [(words[1], shape)] * (NUMBERS.index(words[0]) + 1)}
    words = words[1:]  # "a [size] [colour] shape [on the side]"
    side = None
    if words[-3:-1] == ["on", "the"]:
        side, words = words[-1], words[:-3]
    size = words.pop(0) if words[0] in SIZES else None
    colour = words[0] if words[0] in COLOURS else None
    shape = words[-1] if words[-1] in SHAPES else None
    return {"objects": [(colour, shape)], "size": size, "side": side}


def caption_holds(image: np.ndarray, text: str) -> bool:
    """Whether ``text`` is exactly true of ``image``: the objects it names and no others."""
    want, seen = parse_caption(text), read_image(image)
    if len(seen) != len(want["objects"]):
        return False
    if want.get("relation"):
        (c1, s1), (c2, s2) = want["objects"]
        first, second = seen
        return ((first.colour, first.shape, second.colour, second.shape) == (c1, s1, c2, s2)
                and first.left and not second.left)
    for obj, (colour, shape) in zip(seen, want["objects"], strict=True):
        if (colour and obj.colour != colour) or (shape and obj.shape != shape) or \
                obj.shape == "blob":
            return False
    obj = seen[0]
    if want.get("size") and obj.side != 2 * SIZES[want["size"]] + 1:
        return False
    return not (want.get("side") and obj.left != (want["side"] == "left"))

