"""Turning image files into the pixel tensors a CLIP model expects, fast and safely.

The output matches ``CLIPImageProcessor`` (convert to RGB, resize the shortest side with bicubic resampling,
centre crop, rescale to [0, 1], normalise, channels first). Two things make it faster and safer than calling the
processor: JPEGs are decoded with Pillow's draft mode at the smallest DCT scale still at least the target size
(a 4 MP photo decodes at 1/8 scale, several times faster), and images are checked against a pixel cap from their
header before any pixel is decoded, so a decompression bomb costs nothing.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from xmr_desktop.config import MAX_FILE_BYTES, MAX_IMAGE_PIXELS

_EXIF_ORIENTATION = 0x0112
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class ImageRejected(Exception):
    """A file that cannot become an embedding; ``str()`` is the reason shown to the user."""


@dataclass(frozen=True)
class ImageSpec:
    """How a model wants its pixels.

    Attributes:
        shortest_edge: the shortest side is resized to this many pixels.
        crop: (height, width) of the centre crop.
        mean, std: per-channel normalisation after rescaling to [0, 1].
        resample: Pillow resampling filter (CLIP uses bicubic).
    """

    shortest_edge: int = 224
    crop: tuple[int, int] = (224, 224)
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    std: tuple[float, float, float] = OPENAI_CLIP_STD
    resample: int = int(Image.Resampling.BICUBIC)

    @classmethod
    def from_processor_config(cls, config: dict[str, Any]) -> "ImageSpec":
        """Read a ``preprocessor_config.json`` as written by ``CLIPImageProcessor.save_pretrained``."""
        size = config.get("size", 224)
        shortest = size.get("shortest_edge", min(size.get("height", 224), size.get("width", 224))) if isinstance(size, dict) else int(size)
        crop = config.get("crop_size", shortest)
        crop_hw = (crop["height"], crop["width"]) if isinstance(crop, dict) else (int(crop), int(crop))
        return cls(
            shortest_edge=int(shortest),
            crop=(int(crop_hw[0]), int(crop_hw[1])),
            mean=tuple(config.get("image_mean", OPENAI_CLIP_MEAN)),  # type: ignore[arg-type]
            std=tuple(config.get("image_std", OPENAI_CLIP_STD)),  # type: ignore[arg-type]
            resample=int(config.get("resample", Image.Resampling.BICUBIC)),
        )


@dataclass(frozen=True)
class LoadedFile:
    """A photo read from disk: its content hash, and its pixels unless the embedding is already known.

    Attributes:
        content_hash: 16-byte BLAKE2b digest of the file's bytes.
        pixels: (3, H, W) float32 ready for the model, or None when the caller already knows this hash.
        width, height: pixel size after EXIF orientation (0 when not decoded).
    """

    content_hash: bytes
    pixels: np.ndarray | None
    width: int
    height: int


def read_file_bytes(path: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """Read a whole regular file; refuse FIFOs, devices and oversized files without blocking on them."""
    # O_NONBLOCK: a FIFO that replaced a photo since the scan must not hang the indexer on open().
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageRejected("not a regular file")
        if info.st_size > max_bytes:
            raise ImageRejected(f"file too large ({info.st_size / 2**20:.0f} MiB; limit {max_bytes / 2**20:.0f} MiB)")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return handle.read(max_bytes + 1)
    finally:
        os.close(fd)


def content_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def open_image(data: bytes, spec: ImageSpec, max_pixels: int = MAX_IMAGE_PIXELS) -> tuple[Image.Image, tuple[int, int]]:
    """Decode ``data`` into an upright RGB image, at reduced JPEG scale when that still covers ``spec``.

    Returns the image and the photo's full upright size (draft mode may have decoded it smaller).
    """
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(f"image too large ({width}×{height} pixels; limit {max_pixels / 1e6:.0f} MP)")
        if image.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):
            width, height = height, width
        if image.format == "JPEG":
            # The target is square, so orientation does not change which DCT scale covers it.
            image.draft("RGB", (spec.shortest_edge, spec.shortest_edge))
        image = ImageOps.exif_transpose(image)
        if image.mode != "RGB":
            image = image.convert("RGB")
        image.load()
        return image, (width, height)
    except ImageRejected:
        raise
    except Image.DecompressionBombError as error:
        raise ImageRejected(f"image too large ({error})") from error
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as error:
        # Pillow signals undecodable input with all of these, depending on the format plugin.
        raise ImageRejected(_decode_reason(error)) from error


def pixels_for_model(image: Image.Image, spec: ImageSpec) -> np.ndarray:
    """Resize, centre-crop and normalise exactly as ``CLIPImageProcessor`` does; returns (3, H, W) float32."""
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = spec.shortest_edge, int(spec.shortest_edge * long / short)
    new_size = (new_short, new_long) if width <= height else (new_long, new_short)
    if new_size != image.size:
        image = image.resize(new_size, resample=spec.resample)
    crop_h, crop_w = spec.crop
    top, left = (image.height - crop_h) // 2, (image.width - crop_w) // 2
    if top < 0 or left < 0:
        image = _pad_to(image, max(image.width, crop_w), max(image.height, crop_h))
        top, left = (image.height - crop_h) // 2, (image.width - crop_w) // 2
    array = np.asarray(image.crop((left, top, left + crop_w, top + crop_h)), dtype=np.float32)
    array *= np.float32(1 / 255)
    array -= np.asarray(spec.mean, dtype=np.float32)
    array /= np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def load_for_embedding(
    path: str, spec: ImageSpec, known_hashes: frozenset[bytes] | set[bytes] = frozenset(), max_pixels: int = MAX_IMAGE_PIXELS
) -> LoadedFile:
    """Read, hash and (unless the hash is already embedded) decode one photo. Raises ImageRejected or OSError."""
    data = read_file_bytes(path)
    digest = content_hash(data)
    if digest in known_hashes:
        return LoadedFile(digest, None, *_header_size(data))
    image, (width, height) = open_image(data, spec, max_pixels)
    return LoadedFile(digest, pixels_for_model(image, spec), width, height)


def _header_size(data: bytes) -> tuple[int, int]:
    """Upright pixel size from the header alone (no decoding); (0, 0) if the header cannot be parsed."""
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        swapped = image.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return 0, 0
    return (height, width) if swapped else (width, height)


def _pad_to(image: Image.Image, width: int, height: int) -> Image.Image:
    canvas = Image.new("RGB", (width, height))
    canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    return canvas


def _decode_reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "cannot identify image file" in text:
        return "not an image Pillow can read (unknown format or damaged header)"
    if "truncated" in text:
        return "image file is truncated"
    return f"cannot decode image: {text}"
