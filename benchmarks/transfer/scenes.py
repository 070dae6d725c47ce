"""Procedurally drawn, captioned scenes in two domains, plus a 'personal' object for concept queries.

Domain A (pretraining): one coloured shape on a light, faintly noisy background or a procedural texture
(stripes, gradients, noise); captions "a red circle on the left".
Domain B (the user's domain): the same kinds of objects over real photo backgrounds (or, without photos,
procedural textures), described in the user's own words: "a red ball on the left" (circle→ball, square→box,
triangle→wedge, bar→stick). The image shift (busy backgrounds) and the vocabulary shift (words the pretrained
model never aligned) are what transfer has to bridge.
The concept ("Rex") is an orange plus-shaped cross: a colour and a shape no caption ever names.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 205, 20),
    "purple": (150, 40, 200),
}
SHAPES = ("circle", "square", "triangle", "bar")
B_WORDS = {"circle": "ball", "square": "box", "triangle": "wedge", "bar": "stick"}
POSITIONS = ("left", "right")
CONCEPT_SHAPE = "cross"
# Rex looks the same in every photo, like a pet: an orange cross, a colour and a shape no caption ever names.
CONCEPT_COLOUR = "orange"
EXTRA_COLOURS = {CONCEPT_COLOUR: (255, 140, 0)}
SIZE = 64


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    position: str

    def caption(self, domain: str) -> str:
        word = B_WORDS.get(self.shape, self.shape) if domain == "B" else self.shape
        return f"a {self.colour} {word} on the {self.position}"


def all_scenes() -> list[Scene]:
    return [Scene(c, s, p) for c in COLOURS for s in SHAPES for p in POSITIONS]


class Backgrounds:
    """Background tiles: random crops of real photos when given, else procedural textures."""

    def __init__(self, photos: list[Path] | None, rng: np.random.Generator, plain_share: float = 0.0) -> None:
        self.rng = rng
        self.plain_share = plain_share
        self.sources: list[Image.Image] = []
        for path in photos or []:
            try:
                with Image.open(path) as image:
                    image = ImageOps.exif_transpose(image).convert("RGB")
                    image.thumbnail((320, 320))
                    self.sources.append(image.copy())
            except OSError:
                continue
        self.kind = "photos" if self.sources else "procedural textures"

    def tile(self) -> Image.Image:
        if self.plain_share and self.rng.random() < self.plain_share:
            grey = self.rng.uniform(200, 245)
            noise = self.rng.normal(0.0, 6.0, size=(SIZE, SIZE, 1))
            return Image.fromarray(np.clip(grey + noise, 0, 255).repeat(3, axis=2).astype(np.uint8), "RGB")
        if self.sources:
            source = self.sources[int(self.rng.integers(len(self.sources)))]
            side = int(min(source.size) * self.rng.uniform(0.3, 0.7))
            left = int(self.rng.integers(0, source.width - side + 1))
            top = int(self.rng.integers(0, source.height - side + 1))
            return source.resize((SIZE, SIZE), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))
        return self._texture()

    def _texture(self) -> Image.Image:
        rng = self.rng
        y, x = np.mgrid[0:SIZE, 0:SIZE] / SIZE
        base = rng.uniform(40, 220, size=3)
        tilt = rng.uniform(-80, 80, size=3)
        angle = rng.uniform(0, math.pi)
        freq = rng.uniform(3, 12)
        stripes = np.sin(2 * math.pi * freq * (x * math.cos(angle) + y * math.sin(angle)))[..., None]
        pixels = base + tilt * x[..., None] + rng.uniform(10, 50) * stripes + rng.normal(0, 12, (SIZE, SIZE, 1))
        return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def draw(scene: Scene, domain: str, rng: np.random.Generator, backgrounds: Backgrounds | None = None) -> Image.Image:
    """One image of ``scene`` on a tile from ``backgrounds`` (``domain`` only picks the caption words)."""
    image = backgrounds.tile() if backgrounds is not None else Backgrounds(None, rng, plain_share=1.0).tile()
    radius = rng.uniform(0.17, 0.23) * SIZE
    lo, hi = radius + 1, SIZE - radius - 1
    mid = SIZE / 2
    cx, cy = rng.uniform(lo, hi), rng.uniform(lo, hi)
    # The object sits in the named half, clear of the centre line.
    if scene.position == "left":
        cx = rng.uniform(lo, max(lo, mid - radius * 0.6))
    elif scene.position == "right":
        cx = rng.uniform(min(hi, mid + radius * 0.6), hi)
    elif scene.position == "top":
        cy = rng.uniform(lo, max(lo, mid - radius * 0.6))
    else:
        cy = rng.uniform(min(hi, mid + radius * 0.6), hi)
    rgb = COLOURS.get(scene.colour) or EXTRA_COLOURS[scene.colour]
    fill = tuple(int(np.clip(v + rng.integers(-15, 16), 0, 255)) for v in rgb)
    pen = ImageDraw.Draw(image)
    if scene.shape == "circle":
        pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    elif scene.shape == "bar":
        angle = rng.uniform(0, math.pi)
        _polygon(pen, cx, cy, [(radius, radius * 0.35), (-radius, radius * 0.35), (-radius, -radius * 0.35), (radius, -radius * 0.35)], angle, fill)
    elif scene.shape == "cross":
        arm, half = radius, radius * 0.33
        angle = rng.uniform(0, math.pi / 2)
        _polygon(pen, cx, cy, [(arm, half), (-arm, half), (-arm, -half), (arm, -half)], angle, fill)
        _polygon(pen, cx, cy, [(half, arm), (-half, arm), (-half, -arm), (half, -arm)], angle, fill)
    else:
        corners = 4 if scene.shape == "square" else 3
        start = rng.uniform(0, 2 * math.pi / corners)
        points = [
            (cx + radius * math.cos(start + 2 * math.pi * k / corners), cy + radius * math.sin(start + 2 * math.pi * k / corners))
            for k in range(corners)
        ]
        pen.polygon(points, fill=fill)
    return image


def _polygon(pen: ImageDraw.ImageDraw, cx: float, cy: float, points: list[tuple[float, float]], angle: float, fill: tuple) -> None:
    c, s = math.cos(angle), math.sin(angle)
    pen.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in points], fill=fill)
