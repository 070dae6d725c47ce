"""Procedural captioned images: one coloured shape on a light background.

Small enough to draw thousands per second, varied enough (position, size, rotation, background) that a
tiny CLIP has to learn colour and shape rather than memorise pixels. Everything takes an explicit
``numpy.random.Generator`` so fixtures are reproducible.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# Saturated, far apart in RGB so a 32x32 model separates them after CLIP normalisation.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 40),
    "blue": (30, 60, 220),
    "yellow": (235, 205, 20),
}

# Number of polygon corners; 0 means a circle. Corners are what tells the shapes apart at low resolution.
SHAPES: dict[str, int] = {
    "circle": 0,
    "square": 4,
    "triangle": 3,
}


def caption(colour: str, shape: str) -> str:
    """The caption a person would type for this image, e.g. ``"a red circle"``."""
    return f"a {colour} {shape}"


def all_items() -> list[tuple[str, str]]:
    """Every (colour, shape) pair, in a fixed order."""
    return [(c, s) for c in COLOURS for s in SHAPES]


def draw_shape(colour: str, shape: str, size: int = 64, rng: np.random.Generator | None = None) -> Image.Image:
    """Draw one ``shape`` in ``colour`` on a ``size`` x ``size`` RGB image.

    The shape's centre and radius are jittered, its angle wobbles slightly and the light-grey background
    carries faint noise, so no two images are identical while the object stays fully visible and dominant.
    """
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; expected one of {sorted(COLOURS)}")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {sorted(SHAPES)}")
    rng = rng if rng is not None else np.random.default_rng()

    grey = rng.uniform(200, 245)
    noise = rng.normal(0.0, 6.0, size=(size, size, 1))
    background = np.clip(grey + noise, 0, 255).repeat(3, axis=2).astype(np.uint8)
    image = Image.fromarray(background)  # uint8 (h, w, 3): RGB

    radius = rng.uniform(0.25, 0.4) * size
    margin = radius + 1
    cx = rng.uniform(margin, size - margin)
    cy = rng.uniform(margin, size - margin)
    fill = tuple(int(np.clip(v + rng.integers(-15, 16), 0, 255)) for v in COLOURS[colour])

    draw = ImageDraw.Draw(image)
    corners = SHAPES[shape]
    if corners == 0:
        draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=fill)
    else:
        # Upright with a little wobble: at 32x32 a freely rotated square and triangle are too alike for a
        # model trained in seconds.
        start = -math.pi / 2 + (math.pi / corners if corners % 2 == 0 else 0.0) + rng.uniform(-0.15, 0.15)
        angles = [start + 2 * math.pi * k / corners for k in range(corners)]
        points = [(cx + radius * math.cos(a), cy + radius * math.sin(a)) for a in angles]
        draw.polygon(points, fill=fill)
    return image


def make_folder(
    dir: Path,
    items: list[tuple[str, str]],
    ext: str = ".png",
    rng: np.random.Generator | None = None,
    size: int = 64,
) -> list[Path]:
    """Write one image per (colour, shape) item into ``dir`` as ``{colour}_{shape}_{n}{ext}``.

    ``n`` counts repeats of the same item, so ``[("red", "circle")] * 2`` gives ``red_circle_0.png`` and
    ``red_circle_1.png``. Returns the paths in the order of ``items``.
    """
    if ext not in (".png", ".jpg"):
        raise ValueError(f"ext must be '.png' or '.jpg', not {ext!r}")
    rng = rng if rng is not None else np.random.default_rng()
    dir = Path(dir)
    dir.mkdir(parents=True, exist_ok=True)
    seen: dict[tuple[str, str], int] = {}
    paths = []
    for colour, shape in items:
        n = seen.get((colour, shape), 0)
        seen[(colour, shape)] = n + 1
        path = dir / f"{colour}_{shape}_{n}{ext}"
        image = draw_shape(colour, shape, size=size, rng=rng)
        if ext == ".jpg":
            image.save(path, quality=90)
        else:
            image.save(path)
        paths.append(path)
    return paths
