"""Photos and their near-duplicates for duplicate-finding tests and ``benchmarks/duplicates``.

``scene`` draws a photo-like image (smooth gradients, blobs, fine noise); ``EDITS`` turn one shot into the copies
a phone library collects (re-encoded, resized, cropped a little, recoloured, a burst neighbour), and
``another_moment`` gives the same place framed differently. ``pixel_vector`` is an image vector that needs no
model: the photo at 16×16, mean-centred and normalised, so copies land close together and other photos do not.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


def scene(rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A random photo-like image: a tilted two-colour gradient, a few soft blobs and sensor noise."""
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    angle = rng.uniform(0, np.pi)
    t = (x * np.cos(angle) + y * np.sin(angle))[..., None]
    a, b = rng.uniform(20, 235, 3), rng.uniform(20, 235, 3)
    pixels = a * (1 - t) + b * t
    for _ in range(int(rng.integers(3, 7))):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 0.75), rng.uniform(0.05, 0.25)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r * r))[..., None]
        pixels = pixels * (1 - blob) + rng.uniform(0, 255, 3) * blob
    pixels += rng.normal(0, 4, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def reencode(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    import io

    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(rng.integers(55, 75)))
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def resize(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    scale = rng.uniform(0.35, 0.6)
    return image.resize((int(image.width * scale), int(image.height * scale)), Image.Resampling.LANCZOS)


def crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Cut 2–6% off each side."""
    w, h = image.size
    left, right, top, bottom = (rng.uniform(0.02, 0.06) for _ in range(4))
    return image.crop((int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom))))


def recolour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A light edit: brightness, contrast and saturation each moved by up to 12%."""
    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(0.88, 1.12))
    return image


def burst(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The next frame of a burst: the camera moved by 1–2% and the exposure shifted a little."""
    w, h = image.size
    dx, dy = (int(v) for v in rng.uniform(0.01, 0.02, 2) * (w, h) * rng.choice([-1, 1], 2))
    moved = image.transform(image.size, Image.Transform.AFFINE, (1, 0, dx, 0, 1, dy), Image.Resampling.BILINEAR)
    moved = moved.crop((abs(dx), abs(dy), w - abs(dx), h - abs(dy))).resize((w, h))
    return ImageEnhance.Brightness(moved.filter(ImageFilter.GaussianBlur(0.5))).enhance(rng.uniform(0.95, 1.05))


EDITS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "reencoded": reencode,
    "resized": resize,
    "cropped": crop,
    "recoloured": recolour,
    "burst": burst,
}


def another_moment(source: Image.Image, rng: np.random.Generator, shift: float = 0.3) -> tuple[Image.Image, Image.Image]:
    """Two framings of one place: crops of ``source`` ``shift`` of the width apart (same scene, different shot)."""
    w, h = source.size
    cw, ch = int(w * (1 - shift)), int(h * 0.85)
    top = int(rng.uniform(0, h - ch))
    return source.crop((0, top, cw, top + ch)), source.crop((w - cw, top, w, top + ch))


def pixel_vector(image: Image.Image) -> np.ndarray:
    """A model-free image vector: 16×16 RGB, minus its mean, unit length (768 values, float32)."""
    small = np.asarray(image.convert("RGB").resize((16, 16), Image.Resampling.BOX), np.float32).reshape(-1)
    small -= small.mean()
    return small / max(float(np.linalg.norm(small)), 1e-6)


def pixel_vectors(paths: list[Path]) -> np.ndarray:
    rows = []
    for path in paths:
        with Image.open(path) as image:
            rows.append(pixel_vector(image))
    return np.stack(rows)


def planted_vectors(n: int, dim: int = 64, seed: int = 0, noise: float = 0.35) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Clustered unit vectors (groups of ~50 alike, as photo embeddings are) with n/50 planted near-copies.

    A copy is its original plus Gaussian noise of ``noise`` per value: cosine about 0.97 to it (0.35), about
    what CLIP gives a re-encoded photo. Returns float16 rows and the planted ``(i, j)`` pairs, ``i < j``.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(1, n // 50), dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(size=(n, dim)).astype(np.float32)
    pairs = rng.permutation(n)[: 2 * (n // 50)].reshape(-1, 2)
    x[pairs[:, 1]] = x[pairs[:, 0]] + noise * rng.normal(size=(len(pairs), dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float16), {(min(a, b), max(a, b)) for a, b in pairs.tolist()}
