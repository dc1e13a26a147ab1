"""Small RGB images whose content is known exactly, and their captions. Chapter 10.

Every image is drawn from a *scene*: a list of objects, each with a colour, a
shape, a size and a place on a 2 × 2 grid of cells. Its caption comes from a
small grammar, so what an image shows and what its caption says are both known
without any labelling. Three kinds of scene:

- ``single``: one object, e.g. "a big red circle on the left"; size and side
  are each said only some of the time, and now and then the colour or the
  shape is left out ("a red shape", "a circle"), so a short prompt "a red
  circle" is a true description too;
- ``pair``: two objects side by side, "a red circle left of a blue square";
  its swaps ("a blue circle left of a red square", "a blue square left of a
  red circle") are false, which is what a bag of words cannot tell apart;
- ``count``: one to three copies of one object, "two green triangles".

Two knobs make the training set a biased sample of the world: ``held_out``
colour–shape combinations never appear in it (to test composition), and
``correlation`` makes one shape take one colour most of the time (to test
what a planted correlation does to the minority combinations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["COLOURS", "SHAPES", "SIZES", "CAPTION_WORDS", "PAD", "ImageObject", "Scene",
           "ImageConfig", "ImageSet", "render", "caption", "generate_images", "encode_captions",
           "combinations"]

# Pure, well-separated colours: a pixel's colour is read back by the nearest one.
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.9, 0.1, 0.1), "green": (0.1, 0.8, 0.1),
    "blue": (0.15, 0.25, 0.95), "yellow": (0.9, 0.85, 0.1)}
SHAPES = ("circle", "square", "triangle")
SIZES = {"small": 2, "big": 3}  # half-width in pixels: a 5 × 5 or a 7 × 7 box
BACKGROUND = 0.05
CELL = 8  # a 16 × 16 image is a 2 × 2 grid of 8 × 8 cells, one object per cell
NUMBERS = ("one", "two", "three")
PAD = "<pad>"
CAPTION_WORDS = (PAD, "<cls>", "a", "left", "of", "on", "the", "right", "shape", *NUMBERS, *SIZES,
                 *COLOURS, *SHAPES, *(s + "s" for s in SHAPES))


@dataclass(frozen=True)
class ImageObject:
    """One shape: colour, shape, size word, and its cell ``(row, col)`` on the 2 × 2 grid."""

    colour: str
    shape: str
    size: str
    cell: tuple[int, int]
    offset: tuple[int, int] = (0, 0)  # a jitter of the centre inside its cell, in pixels


@dataclass(frozen=True)
class Scene:
    """What an image shows: its kind (single, pair or count) and its objects."""

    kind: str
    objects: tuple[ImageObject, ...]


@dataclass(frozen=True)
class ImageConfig:
    """How many images of which kinds, and how the sample is biased. Chapter 10.

    ``kinds`` gives the share of each scene kind. ``held_out`` lists
    (colour, shape) pairs that never occur; ``correlation`` is (shape, colour,
    p): that shape takes that colour with probability ``p``, the other colours
    share the rest. ``mention`` is the probability that a single object's caption
    says its size, and separately its side; ``partial`` the probability that it
    leaves out its colour (half the time) or its shape (the other half).
    """

    n: int = 1000
    kinds: tuple[tuple[str, float], ...] = (("single", 0.5), ("pair", 0.3), ("count", 0.2))
    held_out: tuple[tuple[str, str], ...] = ()
    correlation: tuple[str, str, float] | None = None
    mention: float = 0.5
    partial: float = 0.3
    noise: float = 0.03
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be positive; got {self.n}")
        if not self.kinds or any(k not in ("single", "pair", "count") or w < 0
                                 for k, w in self.kinds) or sum(w for _, w in self.kinds) <= 0:
            raise ValueError(f"kinds must be (single|pair|count, weight >= 0); got {self.kinds}")
        for colour, shape in self.held_out:
            if colour not in COLOURS or shape not in SHAPES:
                raise ValueError(f"unknown held-out combination {(colour, shape)}")
        if len(set(self.held_out)) >= len(COLOURS) * len(SHAPES) - 1:
            raise ValueError("hold out fewer combinations: pairs need two allowed ones")
        if self.correlation is not None:
            shape, colour, p = self.correlation
            if shape not in SHAPES or colour not in COLOURS or not 0.0 <= p <= 1.0:
                raise ValueError(f"correlation must be (shape, colour, p in [0, 1]); "
                                 f"got {self.correlation}")
        if not (0.0 <= self.mention <= 1.0 and 0.0 <= self.partial <= 1.0) or self.noise < 0:
            raise ValueError("mention and partial must be in [0, 1] and noise >= 0")


@dataclass
class ImageSet:
    """Images ``(n, 3, 16, 16)`` float32 in [0, 1], their captions and their scenes."""

    images: np.ndarray
    captions: list[str]
    scenes: list[Scene] = field(repr=False)


def combinations(held_out: tuple[tuple[str, str], ...] = ()) -> list[tuple[str, str]]:
    """Every (colour, shape) pair, in a fixed order, less the held-out ones."""
    return [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in set(held_out)]


def _mask(shape: str, half: int) -> np.ndarray:
    """The boolean footprint of a shape in a ``(2 half + 1)`` square box."""
    dy, dx = np.mgrid[-half:half + 1, -half:half + 1]
    if shape == "square":
        return np.ones_like(dy, dtype=bool)
    if shape == "circle":
        return dy ** 2 + dx ** 2 <= half ** 2 + half  # a round disc, not a diamond, at r = 2
    if shape == "triangle":  # apex up: row r from the top is 2 * (r // 2) + 1 pixels wide
        return np.abs(dx) <= (dy + half) // 2
    raise ValueError(f"unknown shape {shape!r}")


def render(scene: Scene, noise: float = 0.0, rng: np.random.Generator | None = None
           ) -> np.ndarray:
    """Draw a scene as a ``(3, 16, 16)`` float32 image; ``noise`` adds Gaussian pixel noise."""
    image = np.full((3, 2 * CELL, 2 * CELL), BACKGROUND, dtype=np.float32)
    for obj in scene.objects:
        half = SIZES[obj.size]
        cy = obj.cell[0] * CELL + CELL // 2 + obj.offset[0]
        cx = obj.cell[1] * CELL + CELL // 2 + obj.offset[1]
        box = (slice(cy - half, cy + half + 1), slice(cx - half, cx + half + 1))
        footprint = _mask(obj.shape, half)
        for channel, value in enumerate(COLOURS[obj.colour]):
            image[channel][box][footprint] = value
    if noise > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        image = image + rng.normal(0.0, noise, image.shape).astype(np.float32)
    return np.clip(image, 0.0, 1.0)


def _plural(shape: str) -> str:
    return shape + "s"


def caption(scene: Scene, mention: tuple[bool, bool] = (True, True), leave_out: str = "") -> str:
    """The grammar's caption of a scene. Single objects only: ``mention`` = (say the size,
    say the side); ``leave_out`` = "colour" or "shape" drops that word ("a red shape")."""
    first = scene.objects[0]
    if scene.kind == "single":
        colour = [] if leave_out == "colour" else [first.colour]
        shape = "shape" if leave_out == "shape" else first.shape
        words = ["a"] + ([first.size] if mention[0] else []) + colour + [shape]
        if mention[1]:
            words += ["on", "the", "left" if first.cell[1] == 0 else "right"]
        return " ".join(words)
    if scene.kind == "pair":
        left, right = sorted(scene.objects, key=lambda o: o.cell[1])
        return f"a {left.colour} {left.shape} left of a {right.colour} {right.shape}"
    if scene.kind == "count":
        n = len(scene.objects)
        noun = first.shape if n == 1 else _plural(first.shape)
        return f"{NUMBERS[n - 1]} {first.colour} {noun}"
    raise ValueError(f"unknown scene kind {scene.kind!r}")


def _draw_combination(config: ImageConfig, rng: np.random.Generator) -> tuple[str, str]:
    allowed = combinations(config.held_out)
    weights = np.ones(len(allowed))
    if config.correlation is not None:
        shape, colour, p = config.correlation
        with_shape = [i for i, (c, s) in enumerate(allowed) if s == shape]
        favoured = [i for i in with_shape if allowed[i][0] == colour]
        others = [i for i in with_shape if allowed[i][0] != colour]
        share = len(with_shape)  # the shape keeps its overall share; only its colours change
        for i in favoured:
            weights[i] = share * p / len(favoured) if others else share
        for i in others:
            weights[i] = share * (1 - p) / len(others) if favoured else share / len(others)
    colour, shape = allowed[rng.choice(len(allowed), p=weights / weights.sum())]
    return colour, shape


def _object(colour: str, shape: str, cell: tuple[int, int], rng: np.random.Generator
            ) -> ImageObject:
    size = str(rng.choice(list(SIZES)))
    slack = CELL // 2 - SIZES[size] - 1  # keep the shape inside its cell
    offset = tuple(int(v) for v in rng.integers(-slack, slack + 1, size=2))
    return ImageObject(colour, shape, size, cell, offset)  # type: ignore[arg-type]


def _scene(kind: str, config: ImageConfig, rng: np.random.Generator) -> Scene:
    if kind == "single":
        cell = (int(rng.integers(2)), int(rng.integers(2)))
        return Scene(kind, (_object(*_draw_combination(config, rng), cell, rng),))
    if kind == "pair":
        row = int(rng.integers(2))
        first = _draw_combination(config, rng)
        second = _draw_combination(config, rng)
        while second == first:  # two different objects, so the swap is a different caption
            second = _draw_combination(config, rng)
        return Scene(kind, (_object(*first, (row, 0), rng), _object(*second, (row, 1), rng)))
    n = int(rng.integers(1, 4))
    cells = [(r, c) for r in range(2) for c in range(2)]
    chosen = rng.choice(4, size=n, replace=False)
    colour, shape = _draw_combination(config, rng)
    return Scene(kind, tuple(_object(colour, shape, cells[i], rng) for i in sorted(chosen)))


def generate_images(config: ImageConfig) -> ImageSet:
    """``config.n`` images, captions and scenes drawn from ``config.seed``. Chapter 10."""
    rng = np.random.default_rng(config.seed)
    kinds = [k for k, _ in config.kinds]
    shares = np.array([w for _, w in config.kinds], dtype=float)
    images, captions, scenes = [], [], []
    for _ in range(config.n):
        scene = _scene(kinds[rng.choice(len(kinds), p=shares / shares.sum())], config, rng)
        said = tuple(bool(v) for v in rng.random(2) < config.mention)
        leave_out = str(rng.choice(["colour", "shape"])) if rng.random() < config.partial else ""
        images.append(render(scene, config.noise, rng))
        captions.append(caption(scene, said, leave_out))  # type: ignore[arg-type]
        scenes.append(scene)
    return ImageSet(np.stack(images), captions, scenes)


def encode_captions(captions: list[str], max_len: int = 12) -> np.ndarray:
    """Word ids ``(n, max_len)``: ``<cls>`` first, then the words, then ``<pad>``."""
    index = {w: i for i, w in enumerate(CAPTION_WORDS)}
    out = np.full((len(captions), max_len), index[PAD], dtype=np.int64)
    for row, text in enumerate(captions):
        words = ["<cls>", *text.split()]
        if len(words) > max_len:
            raise ValueError(f"caption longer than {max_len - 1} words: {text!r}")
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(f"words outside the caption grammar: {unknown}")
        out[row, :len(words)] = [index[w] for w in words]
    return out
