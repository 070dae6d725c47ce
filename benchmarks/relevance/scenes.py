"""Drawn scenes with four attributes each (colour × shape × count × background) and captions naming any of them.

A scene is one or two objects of one colour and shape on one kind of background. A caption names a subset of the
four attributes in a fixed order: ``"two red circle on stripes"`` (all four), ``"red circle"``, ``"on dark"``. So the
relevant set of a query is known exactly: every image whose attributes include the ones the query names.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 205, 20),
    "purple": (150, 40, 200),
}
SHAPES = ("circle", "square", "triangle", "bar")
COUNTS = ("one", "two")
BACKGROUNDS = ("plain", "dark", "stripes")
ATTRIBUTES = ("count", "colour", "shape", "background")
VALUES: dict[str, tuple[str, ...]] = {
    "count": COUNTS,
    "colour": tuple(COLOURS),
    "shape": SHAPES,
    "background": BACKGROUNDS,
}
SIZE = 64


@dataclass(frozen=True)
class Scene:
    """One combination of attribute values.

    Attributes:
        count: ``"one"`` or ``"two"`` objects.
        colour: the objects' colour name.
        shape: the objects' shape.
        background: ``"plain"`` (light grey), ``"dark"`` or ``"stripes"`` (grey bands).
    """

    count: str
    colour: str
    shape: str
    background: str

    def value(self, attribute: str) -> str:
        return str(getattr(self, attribute))

    def matches(self, named: dict[str, str]) -> bool:
        return all(self.value(a) == v for a, v in named.items())


def all_scenes() -> list[Scene]:
    return [Scene(*values) for values in itertools.product(COUNTS, COLOURS, SHAPES, BACKGROUNDS)]


def caption(named: dict[str, str]) -> str:
    """Words for the named attributes in a fixed order: count, colour, shape, then ``on <background>``."""
    words = [named[a] for a in ("count", "colour", "shape") if a in named]
    if "background" in named:
        words.append(f"on {named['background']}")
    return " ".join(words)


def patterns() -> list[tuple[str, ...]]:
    """Every non-empty subset of the attributes, in a fixed order."""
    return [p for r in range(1, len(ATTRIBUTES) + 1) for p in itertools.combinations(ATTRIBUTES, r)]


def pattern_captions(pattern: tuple[str, ...]) -> list[dict[str, str]]:
    """Every assignment of values to ``pattern``'s attributes (the captions that name exactly these)."""
    return [dict(zip(pattern, values)) for values in itertools.product(*(VALUES[a] for a in pattern))]


def pattern_label(scene: Scene, pattern: tuple[str, ...]) -> int:
    """Index of ``scene``'s own caption among ``pattern_captions(pattern)``."""
    index = 0
    for attribute in pattern:
        values = VALUES[attribute]
        index = index * len(values) + values.index(scene.value(attribute))
    return index


def draw(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """One 64×64 image of ``scene``: objects jittered in place, size, angle and shade; backgrounds noisy."""
    image = _background(scene.background, rng)
    pen = ImageDraw.Draw(image)
    rgb = COLOURS[scene.colour]
    if scene.count == "one":
        radius = rng.uniform(0.22, 0.28) * SIZE
        centres = [(rng.uniform(radius + 1, SIZE - radius - 1), rng.uniform(radius + 1, SIZE - radius - 1))]
    else:
        radius = rng.uniform(0.15, 0.19) * SIZE
        centres = _two_apart(radius, rng)
    for cx, cy in centres:
        fill = tuple(int(np.clip(v + rng.integers(-15, 16), 0, 255)) for v in rgb)
        _shape(pen, scene.shape, cx, cy, radius, fill, rng)
    return image


def _two_apart(radius: float, rng: np.random.Generator) -> list[tuple[float, float]]:
    lo, hi = radius + 1, SIZE - radius - 1
    first = (rng.uniform(lo, hi), rng.uniform(lo, hi))
    for _ in range(100):
        second = (rng.uniform(lo, hi), rng.uniform(lo, hi))
        if math.dist(first, second) > 2.3 * radius:
            return [first, second]
    # Opposite corners always fit: 2 * 0.19 * 64 is well under the diagonal.
    return [(lo, lo), (hi, hi)]


def _background(kind: str, rng: np.random.Generator) -> Image.Image:
    noise = rng.normal(0.0, 6.0, size=(SIZE, SIZE, 1))
    if kind == "plain":
        pixels = rng.uniform(200, 245) + noise
    elif kind == "dark":
        pixels = rng.uniform(20, 60) + noise
    else:
        y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
        angle = rng.uniform(0, math.pi)
        bands = np.sin(2 * math.pi * rng.uniform(3, 6) * (x * math.cos(angle) + y * math.sin(angle)))[..., None]
        pixels = 140 + 60 * np.sign(bands) + noise
    return Image.fromarray(np.clip(pixels, 0, 255).repeat(3, axis=2).astype(np.uint8), "RGB")


def _shape(pen: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, radius: float, fill: tuple, rng: np.random.Generator) -> None:
    if shape == "circle":
        pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
        return
    if shape == "bar":
        angle = rng.uniform(0, math.pi)
        corners = [(radius, radius * 0.35), (-radius, radius * 0.35), (-radius, -radius * 0.35), (radius, -radius * 0.35)]
        c, s = math.cos(angle), math.sin(angle)
        pen.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in corners], fill=fill)
        return
    sides = 4 if shape == "square" else 3
    start = -math.pi / 2 + (math.pi / sides if sides == 4 else 0.0) + rng.uniform(-0.2, 0.2)
    pen.polygon(
        [(cx + radius * math.cos(start + 2 * math.pi * k / sides), cy + radius * math.sin(start + 2 * math.pi * k / sides)) for k in range(sides)],
        fill=fill,
    )
