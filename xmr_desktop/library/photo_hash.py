"""Perceptual hashes of photos: what tells "the same shot" from "the same place, another moment".

Two 64-bit DCT hashes (``imagehash.phash``) of the upright, greyscale photo: of all of it, and of its centre
(``CENTRE`` of each side). Re-encoding, resizing and light colour edits keep the whole-photo hashes within a few
bits; a copy cropped by a few percent is close to the original's centre instead, so :func:`distance` takes the
best of whole-vs-whole and centre-vs-whole either way. Another frame of the same place flips about half the bits.
The hash sees only brightness, so a colour variant of one picture (the same design in blue and in green) would
pass; each photo also keeps the mean colour of its four quarters, and :func:`colour_shift` must stay within
``MAX_COLOUR_SHIFT`` too. A photo with almost no detail (a flat sky, a blank page) has no reliable hash: its
hash is None, so it is never confirmed as the same shot by the hash.
Photos are decoded with the indexer's safe decoder (size cap, JPEG draft mode at 1/8 scale, EXIF orientation),
and hashes are cached by (path, size, modification time) so a second search for duplicates decodes nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, open_image, read_file_bytes

log = logging.getLogger(__name__)

HASH_BITS = 64
# The centre hash covers this share of each side: the original's centre matches a copy cropped by ~4% a side.
CENTRE = 0.92
# The largest move of a quarter's mean colour (RGB distance, 0-255 scale) that is still a light edit: ±12%
# brightness, contrast and saturation move it by up to ~45 (measured in benchmarks/duplicates); recoloured
# variants of one design (blue vs green) by well over 100.
MAX_COLOUR_SHIFT = 60.0
# Greyscale standard deviation (0-255) at 32×32 below which a photo is too flat to hash.
MIN_DETAIL = 3.0
# phash reduces the photo to 32×32 first: decoding at 128 px (JPEG draft) keeps the centre crop as sharp.
_DECODE = ImageSpec(shortest_edge=128, crop=(128, 128))

CacheKey = tuple[str, int, int]


@dataclass(frozen=True)
class PhotoHash:
    """The two hashes of one photo.

    Attributes:
        whole: phash of the whole photo.
        centre: phash of its centre ``CENTRE`` × ``CENTRE``.
        colours: mean RGB of its four quarters (top left, top right, bottom left, bottom right), 12 values 0-255.
    """

    whole: int
    centre: int
    colours: tuple[int, ...] = ()


def hamming(a: int, b: int) -> int:
    """Bits that differ between two 64-bit hashes (0 = identical, 32 = unrelated on average)."""
    return (a ^ b).bit_count()


def distance(a: PhotoHash, b: PhotoHash) -> int:
    """How far apart two photos are, forgiving a small crop of either: the least of whole-vs-whole and
    centre-vs-whole both ways."""
    return min(hamming(a.whole, b.whole), hamming(a.centre, b.whole), hamming(a.whole, b.centre))


def colour_shift(a: PhotoHash, b: PhotoHash) -> float:
    """The largest RGB distance between the mean colours of corresponding quarters (0 when unknown)."""
    if len(a.colours) != 12 or len(b.colours) != 12:
        return 0.0
    diff = np.asarray(a.colours, np.float32).reshape(4, 3) - np.asarray(b.colours, np.float32).reshape(4, 3)
    return float(np.sqrt((diff**2).sum(axis=1)).max())


def same_shot(a: PhotoHash, b: PhotoHash, bits: int) -> bool:
    """Whether two hashed photos are the same shot: hashes within ``bits`` and colours within a light edit."""
    return distance(a, b) <= bits and colour_shift(a, b) <= MAX_COLOUR_SHIFT


class PerceptualHasher:
    """Hashes photo files, caching each by path, size and modification time.

    Attributes:
        cache: ``(path, size, mtime_ns) -> hash`` (None for a photo too flat to hash); pass a persistent mapping
            to keep hashes between runs.
        decoded: how many files this hasher decoded (the rest came from the cache).
    """

    def __init__(self, cache: MutableMapping[CacheKey, PhotoHash | None] | None = None) -> None:
        self.cache: MutableMapping[CacheKey, PhotoHash | None] = {} if cache is None else cache
        self.decoded = 0

    def hash(self, path: str) -> PhotoHash | None:
        """The photo's hashes, or None when it cannot be read or decoded or is too flat (the reason is logged)."""
        try:
            info = os.stat(path)
        except OSError as error:
            log.info("cannot hash %s: %s", path, error)
            return None
        key = (path, info.st_size, info.st_mtime_ns)
        if key in self.cache:
            return self.cache[key]
        try:
            value = hash_image_bytes(read_file_bytes(path))
        except (ImageRejected, OSError) as error:
            log.info("cannot hash %s: %s", path, error)
            return None
        self.decoded += 1
        if value is None:
            log.info("not hashed (too little detail to compare): %s", path)
        self.cache[key] = value
        return value


def hash_image_bytes(data: bytes) -> PhotoHash | None:
    """The hashes of an encoded image, None when it is too flat. Raises ``ImageRejected`` for undecodable data."""
    image, _ = open_image(data, _DECODE)
    return hash_image(image)


def hash_image(image: Image.Image) -> PhotoHash | None:
    """The hashes of a decoded image, None when it is too flat to tell from another."""
    import imagehash  # scipy comes with it: imported only when duplicates are looked for

    grey = image.convert("L")
    if float(np.asarray(grey.resize((32, 32), Image.Resampling.BOX), np.float32).std()) < MIN_DETAIL:
        return None
    w, h = grey.size
    mx, my = w * (1 - CENTRE) / 2, h * (1 - CENTRE) / 2
    centre = grey.crop((round(mx), round(my), round(w - mx), round(h - my)))
    quarters = np.asarray(image.convert("RGB").resize((2, 2), Image.Resampling.BOX), np.uint8).reshape(-1)
    return PhotoHash(int(str(imagehash.phash(grey)), 16), int(str(imagehash.phash(centre)), 16), tuple(int(v) for v in quarters))
