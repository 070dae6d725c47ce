"""Turning image files into the pixel tensors a CLIP model expects, fast and safely.

The output matches ``CLIPImageProcessor`` (convert to RGB, resize the shortest side with bicubic resampling,
centre crop, rescale to [0, 1], normalise, channels first). What makes it faster and safer than calling the
processor:

- Only the formats xmr indexes are ever parsed (``decode_formats``): a file named ``holiday.jpg`` that is
  really EPS, PSD or FITS is refused from its first bytes, and Ghostscript never runs.
- JPEGs are decoded with Pillow's draft mode at the smallest DCT scale still at least the target size (a 4 MP
  photo decodes at 1/8 scale, several times faster).
- Images are checked against a pixel cap from their header before any pixel is decoded.
- Decoded pixels of all decoder threads share one budget (``DECODE_BUDGET``): an image larger than the
  budget waits until it can be decoded alone.
- The centre crop is taken before resizing and before the conversion to RGB, so an aspect-ratio bomb (a
  1×100000 PNG, which CLIP's resize-then-crop would blow up to 224×22,400,000) costs no more than its own pixels.
- Decoding checks a deadline and a cancel flag between the chunks Pillow reads (``DECODE_DEADLINE_S``).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import logging
import math
import os
import stat
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from xmr_desktop.config import MAX_FILE_BYTES, MAX_IMAGE_PIXELS

log = logging.getLogger(__name__)

_EXIF_ORIENTATION = 0x0112
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# The formats xmr indexes, as Pillow's openers name them; every other decoder stays unreachable from a photo
# folder. JPEG includes MPO (a JPEG with a multi-picture index, which many cameras write): the JPEG opener
# returns those with ``format == "MPO"``. HEIF comes with pillow-heif (see ``heif_enabled``).
INDEXED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
HEIF_FORMATS: tuple[str, ...] = ("HEIF",)

# Seconds one file may spend decoding (after its turn in the memory budget came) before it is given up with a
# skip reason. A 120 MP PNG decodes in a few seconds on a slow laptop; a pathological file never ends.
DECODE_DEADLINE_S = 30.0

# Decoded pixels that all decoder threads of the process may hold at once. Pillow keeps RGB as 4 bytes a pixel,
# so this is about 130 MP: two 50 MP photos at a time, one 120 MP panorama alone. Draft-decoded JPEGs need a
# few MiB each and never wait.
DECODE_BUDGET_BYTES = 512 * 2**20

# Images converted to RGB band by band (see resize_converted) above this size, in bands of this many pixels.
_BANDS_FROM_PIXELS = 4_000_000
_BAND_PIXELS = 1_000_000

# Resized images up to this many crop areas are resized whole (exactly CLIP's pixels); beyond, only the crop.
_WHOLE_RESIZE_AREAS = 16

# Source pixels kept around the crop box so the resampling filter sees the same neighbours as a resize of the
# whole image would (bicubic reads 2 source pixels each side per unit of scale, Lanczos 3).
_FILTER_SUPPORT = 3.0


class ImageRejected(Exception):
    """A file that cannot become an embedding; ``str()`` is the reason shown to the user."""


class DecodeCancelled(Exception):
    """Decoding was stopped from outside (the run is closing); the file stays pending, it is not skipped."""


class DecodeBudget:
    """Bytes of decoded pixels that the decoder threads of this process may hold at once, handed out in order.

    A request larger than the whole budget waits until nothing else holds any of it and then runs alone, so
    big images are decoded one at a time while small ones share. Waiting is first come, first served, so a
    big image is not starved by a stream of small ones.

    Attributes:
        limit_bytes: the budget.
        in_use: bytes reserved right now.
        peak: the most bytes ever reserved at once (for tests and benchmarks).
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit_bytes = int(limit_bytes)
        self.in_use = 0
        self.peak = 0
        self._turns: deque[object] = deque()
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def reserve(self, nbytes: int, cancel: threading.Event | None = None) -> Iterator[None]:
        """Hold ``nbytes`` (capped at the whole budget) for the ``with`` block; raises DecodeCancelled if
        ``cancel`` is set while waiting."""
        need = max(0, min(int(nbytes), self.limit_bytes))
        turn = object()
        with self._changed:
            self._turns.append(turn)
            try:
                while True:
                    if cancel is not None and cancel.is_set():
                        raise DecodeCancelled("decoding cancelled")
                    if self._turns[0] is turn and self.in_use + need <= self.limit_bytes:
                        break
                    self._changed.wait(0.1 if cancel is not None else None)
            finally:
                self._turns.remove(turn)
                self._changed.notify_all()
            self.in_use += need
            self.peak = max(self.peak, self.in_use)
        try:
            yield
        finally:
            with self._changed:
                self.in_use -= need
                self._changed.notify_all()


# One per process: the indexer's decoder threads, thumbnails and query images all draw from it.
DECODE_BUDGET = DecodeBudget(DECODE_BUDGET_BYTES)


@functools.cache
def heif_enabled() -> bool:
    """Whether HEIC/HEIF decodes here: ``pillow_heif`` imports and its Pillow plugin is registered."""
    try:
        import pillow_heif
    except (ImportError, OSError) as error:
        log.debug("HEIC/HEIF not decoded: pillow_heif unavailable (%s)", error)
        return False
    register = getattr(pillow_heif, "register_heif_opener", None)
    if register is None:
        log.debug("HEIC/HEIF not decoded: this pillow_heif has no register_heif_opener")
        return False
    register()
    return True


def decode_formats() -> tuple[str, ...]:
    """The Pillow format names every ``Image.open`` in xmr passes as ``formats=``."""
    return INDEXED_FORMATS + HEIF_FORMATS if heif_enabled() else INDEXED_FORMATS


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


def open_image(
    data: bytes,
    spec: ImageSpec,
    max_pixels: int = MAX_IMAGE_PIXELS,
    *,
    deadline_s: float | None = DECODE_DEADLINE_S,
    cancel: threading.Event | None = None,
) -> tuple[Image.Image, tuple[int, int]]:
    """Decode ``data`` into an upright image (any mode), at reduced JPEG scale when that still covers ``spec``.

    Returns the image and the photo's full upright size (draft mode may have decoded it smaller). The image is
    not converted to RGB: ``pixels_for_model`` converts only the part it keeps. The decode itself takes its
    share of ``DECODE_BUDGET``; the caller holds the result outside it (``load_for_embedding`` does not).
    """
    with _decoded(data, spec, max_pixels, deadline_s, cancel) as (image, full_size):
        return image, full_size


@contextlib.contextmanager
def _decoded(
    data: bytes, spec: ImageSpec, max_pixels: int, deadline_s: float | None, cancel: threading.Event | None
) -> Iterator[tuple[Image.Image, tuple[int, int]]]:
    """The upright decoded image and its full size, while its bytes are reserved in ``DECODE_BUDGET``."""
    with open_checked(data, max_pixels) as image:
        width, height = image.size  # before draft mode shrinks it
        if image.format in ("JPEG", "MPO"):
            # The target is square, so orientation does not change which DCT scale covers it.
            image.draft(image.mode if image.mode in ("RGB", "L") else "RGB", (spec.shortest_edge, spec.shortest_edge))
        with DECODE_BUDGET.reserve(decoded_bytes(image), cancel):
            decoded = load_pixels(image, deadline_s=deadline_s, cancel=cancel)
            if decoded.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):  # loaded: reads no more pixels
                width, height = height, width
            yield _upright(decoded), (width, height)


def header_orientation(image: Image.Image) -> int:
    """The EXIF orientation known from the header alone (1 if none), without decoding any pixel.

    ``Image.getexif()`` decodes a whole PNG to look for an EXIF chunk after the pixels; this never does.
    """
    if image.format == "PNG":
        raw = image.info.get("exif")
        if not raw:
            return 1
        exif = Image.Exif()
        exif.load(raw)
        return int(exif.get(_EXIF_ORIENTATION, 1))
    return int(image.getexif().get(_EXIF_ORIENTATION, 1))


@contextlib.contextmanager
def open_checked(source: bytes | str, max_pixels: int = MAX_IMAGE_PIXELS) -> Iterator[Image.Image]:
    """Open ``source`` (bytes, or a path) for decoding in a format xmr indexes, its size checked from the header.

    Nothing is decoded yet. Raises ImageRejected naming what the content really is when it is another format.
    """
    if isinstance(source, bytes):
        handle: Any = _DecodeStream(source)
    else:
        handle = _DecodeStream(read_file_bytes(source))
    try:
        try:
            image = Image.open(handle, formats=list(decode_formats()))
        except Image.UnidentifiedImageError as error:
            raise ImageRejected(_unindexed_reason(handle.getvalue()[:16])) from error
        except Image.DecompressionBombError as error:
            raise ImageRejected(f"image too large ({error})") from error
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as error:
            raise ImageRejected(_decode_reason(error)) from error
        width, height = image.size
        if width * height > max_pixels:
            raise ImageRejected(f"image too large ({width}×{height} pixels; limit {max_pixels / 1e6:.0f} MP)")
        yield image
    finally:
        handle.close()


def decoded_bytes(image: Image.Image) -> int:
    """What decoding ``image`` at its current (draft) size holds in memory, counted generously.

    The decoded pixels, their upright copy if the photo is rotated, and a converted copy for small images
    (large ones are converted band by band, ``resize_converted``).
    """
    width, height = image.size
    per_pixel = 1 if image.mode in ("1", "L", "P") else 4  # Pillow stores 3-band images in 4 bytes a pixel
    copies = 2 if header_orientation(image) != 1 else 1  # the upright copy
    converted = 4 if image.mode != "RGB" and width * height <= _BANDS_FROM_PIXELS else 0
    return width * height * (per_pixel * copies + converted) + (1 << 20)


def load_pixels(
    image: Image.Image, *, deadline_s: float | None = DECODE_DEADLINE_S, cancel: threading.Event | None = None
) -> Image.Image:
    """Decode an image from ``open_checked``, checking ``deadline_s`` and ``cancel`` between the chunks Pillow reads.

    Raises ImageRejected (undecodable, or over the deadline) or DecodeCancelled.
    """
    stream = image.fp if isinstance(image.fp, _DecodeStream) else None
    if stream is not None:
        stream.stop_at = None if deadline_s is None else time.monotonic() + deadline_s
        stream.deadline_s = DECODE_DEADLINE_S if deadline_s is None else deadline_s
        stream.cancel = cancel
    try:
        image.load()
    except (DecodeCancelled, ImageRejected):
        raise
    except Image.DecompressionBombError as error:
        raise ImageRejected(f"image too large ({error})") from error
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as error:
        # Pillow signals undecodable input with all of these, depending on the format plugin.
        raise ImageRejected(_decode_reason(error)) from error
    finally:
        if stream is not None:
            stream.stop_at = stream.cancel = None
    return image


class _DecodeStream(io.BytesIO):
    """The file's bytes for Pillow; every read checks the deadline and cancel flag of the decode in progress.

    Pillow's decoders pull their input through ``read`` in chunks, so a decode that runs too long is stopped
    at its next chunk (libtiff, which reads all at once, only before it starts).
    """

    stop_at: float | None = None
    cancel: threading.Event | None = None

    deadline_s: float = DECODE_DEADLINE_S

    def read(self, size: int | None = -1) -> bytes:
        if self.cancel is not None and self.cancel.is_set():
            raise DecodeCancelled("decoding cancelled")
        if self.stop_at is not None and time.monotonic() > self.stop_at:
            raise ImageRejected(f"decoding took longer than {self.deadline_s:g} s (damaged or hostile file?)")
        return super().read(size)


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says; the same object when it is upright already
    (``ImageOps.exif_transpose`` would return a full copy: 480 MB more for a 120 MP photo)."""
    try:
        if image.getexif().get(_EXIF_ORIENTATION, 1) in (1, None):
            return image
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError) as error:
        raise ImageRejected(_decode_reason(error)) from error


def pixels_for_model(image: Image.Image, spec: ImageSpec) -> np.ndarray:
    """Resize, centre-crop and normalise as ``CLIPImageProcessor`` does; returns (3, H, W) float32.

    The crop is computed first. Where the resized whole image would be large (an aspect ratio beyond about
    16:1, such as a 1×100000 PNG that CLIP's way would blow up to 224×22,400,000), only the source pixels
    under the crop (plus the filter's reach) are converted to RGB and resampled, at a memory cost bounded by
    the crop; the result then equals resize-then-crop but for rounding (Pillow's resampling box is float32:
    under 0.5% of the values move by one grey level, very rarely two). Usual photos are resized whole,
    exactly as CLIP does.
    """
    width, height = image.size
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = spec.shortest_edge, int(spec.shortest_edge * long / short)
    new_width, new_height = (new_short, new_long) if width <= height else (new_long, new_short)
    crop_h, crop_w = spec.crop
    first_x, out_w = _crop_axis(new_width, crop_w)
    first_y, out_h = _crop_axis(new_height, crop_h)
    if (new_width, new_height) == (width, height):
        kept = _as_rgb(image.crop((first_x, first_y, first_x + out_w, first_y + out_h)))
    elif new_width * new_height <= _WHOLE_RESIZE_AREAS * crop_w * crop_h:
        # Usual aspect ratios: the resized whole costs little, and resizing it is exactly what CLIP does.
        resized = resize_converted(image, (new_width, new_height), spec.resample)
        kept = resized.crop((first_x, first_y, first_x + out_w, first_y + out_h))
    else:
        # The crop's span in source coordinates.
        scale_x, scale_y = width / new_width, height / new_height
        x0, x1 = first_x * scale_x, (first_x + out_w) * scale_x
        y0, y1 = first_y * scale_y, (first_y + out_h) * scale_y
        # Source region the filter reads for this box, clamped to the image as a whole-image resize clamps it.
        reach_x = _FILTER_SUPPORT * max(width / new_width, 1.0) + 1
        reach_y = _FILTER_SUPPORT * max(height / new_height, 1.0) + 1
        left, top = max(0, math.floor(x0 - reach_x)), max(0, math.floor(y0 - reach_y))
        right, bottom = min(width, math.ceil(x1 + reach_x)), min(height, math.ceil(y1 + reach_y))
        region = _as_rgb(image.crop((left, top, right, bottom)))
        box = (x0 - left, y0 - top, x1 - left, y1 - top)
        # One axis at a time, in the order Pillow's resize of the whole image would take: each pass rounds and
        # clips to 8 bits, so the other order differs by several grey levels where the filter overshoots.
        if _resize_goes_vertical_first(width, height, new_width, new_height):
            kept = region.resize((region.width, out_h), spec.resample, box=(0, box[1], region.width, box[3]))
            kept = kept.resize((out_w, out_h), spec.resample, box=(box[0], 0, box[2], out_h))
        else:
            kept = region.resize((out_w, region.height), spec.resample, box=(box[0], 0, box[2], region.height))
            kept = kept.resize((out_w, out_h), spec.resample, box=(0, box[1], out_w, box[3]))
    if (out_w, out_h) != (crop_w, crop_h):  # smaller than the crop: centred on black, as the processor pads
        kept = _pad_to(kept, crop_w, crop_h)
    array = np.asarray(kept, dtype=np.float32)
    array *= np.float32(1 / 255)
    array -= np.asarray(spec.mean, dtype=np.float32)
    array /= np.asarray(spec.std, dtype=np.float32)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


def resize_converted(image: Image.Image, size: tuple[int, int], resample: int, mode: str = "RGB") -> Image.Image:
    """``image.convert(mode).resize(size, resample)``, pixel for pixel, without converting the whole image at once.

    A 120 MP palette PNG is 120 MB decoded but 480 MB as RGB. Pillow resizes in two passes, and the first
    pass treats each row (or column) on its own, so converting and resampling band by band gives the same
    pixels as converting everything first, at the memory of one band.
    """
    width, height = image.size
    if image.mode == mode or width * height <= _BANDS_FROM_PIXELS:
        return (image if image.mode == mode else image.convert(mode)).resize(size, resample)
    new_width, new_height = size
    if _resize_goes_vertical_first(width, height, new_width, new_height):
        between = Image.new(mode, (width, new_height))
        step = max(1, _BAND_PIXELS // height)
        for left in range(0, width, step):
            band = image.crop((left, 0, min(width, left + step), height)).convert(mode)
            between.paste(band.resize((band.width, new_height), resample), (left, 0))
    else:
        between = Image.new(mode, (new_width, height))
        step = max(1, _BAND_PIXELS // width)
        for top in range(0, height, step):
            band = image.crop((0, top, width, min(height, top + step))).convert(mode)
            between.paste(band.resize((new_width, band.height), resample), (0, top))
    return between.resize(size, resample)  # the second pass only: the first one's size already matches


def _resize_goes_vertical_first(width: int, height: int, new_width: int, new_height: int) -> bool:
    """Whether this Pillow's two-pass resize from (width, height) to the new size does the vertical pass first."""
    # Pillow 13 goes vertical first when the height shrinks by more than twice as many pixels as the width;
    # earlier versions always go horizontal first.
    shrink = height - new_height
    return _pillow_can_go_vertical_first() and shrink > 0 and shrink > 2 * (width - new_width)


@functools.cache
def _pillow_can_go_vertical_first() -> bool:
    """Ask the installed Pillow once, on a small noise image that the vertical-first rule would apply to."""
    noise = Image.frombytes("L", (10, 100), bytes((i * 7919) % 251 for i in range(1000)))
    whole = noise.resize((9, 10), Image.Resampling.BICUBIC).tobytes()
    vertical = noise.resize((10, 10), Image.Resampling.BICUBIC).resize((9, 10), Image.Resampling.BICUBIC).tobytes()
    horizontal = noise.resize((9, 100), Image.Resampling.BICUBIC).resize((9, 10), Image.Resampling.BICUBIC).tobytes()
    return whole == vertical and whole != horizontal


def _crop_axis(resized: int, crop: int) -> tuple[int, int]:
    """Along one axis of the resized image: where the centre crop starts and how many pixels it keeps (all of
    them when the image is smaller than the crop, which is then padded)."""
    if resized <= crop:
        return 0, resized
    return (resized - crop) // 2, crop


def _as_rgb(image: Image.Image) -> Image.Image:
    return image if image.mode == "RGB" else image.convert("RGB")


def load_for_embedding(
    path: str,
    spec: ImageSpec,
    known_hashes: frozenset[bytes] | set[bytes] = frozenset(),
    max_pixels: int = MAX_IMAGE_PIXELS,
    *,
    deadline_s: float | None = DECODE_DEADLINE_S,
    cancel: threading.Event | None = None,
) -> LoadedFile:
    """Read, hash and (unless the hash is already embedded) decode one photo.

    Raises ImageRejected (with the reason to record), DecodeCancelled (``cancel`` was set: leave it pending)
    or OSError. Safe to call from several threads: they share ``DECODE_BUDGET``.
    """
    data = read_file_bytes(path)
    digest = content_hash(data)
    if digest in known_hashes:
        return LoadedFile(digest, None, *_header_size(data))
    with _decoded(data, spec, max_pixels, deadline_s, cancel) as (image, (width, height)):
        pixels = pixels_for_model(image, spec)  # inside: the decoded image is alive until this returns
    return LoadedFile(digest, pixels, width, height)


def _header_size(data: bytes) -> tuple[int, int]:
    """Upright pixel size from the header alone (no decoding); (0, 0) if the header cannot be parsed."""
    try:
        with Image.open(io.BytesIO(data), formats=list(decode_formats())) as image:
            width, height = image.size
            swapped = header_orientation(image) in (5, 6, 7, 8)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return 0, 0
    return (height, width) if swapped else (width, height)


def _pad_to(image: Image.Image, width: int, height: int) -> Image.Image:
    canvas = Image.new("RGB", (width, height))
    canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
    return canvas


def _unindexed_reason(prefix: bytes) -> str:
    """Why a file was refused: what its first bytes say it is, when another (never run) Pillow plugin knows."""
    Image.init()
    indexed = set(decode_formats())
    for name, (_, accept) in Image.OPEN.items():
        if name in indexed or accept is None:
            continue
        try:
            # accept() is each plugin's check of the first bytes, nothing more: no decoder runs.
            if accept(prefix):
                return f"refused: the content is {name}, not a format xmr indexes"
        except Exception:  # noqa: BLE001  (a plugin's own prefix check failing only means 'not this one')
            continue
    return "not an image xmr can read (unknown format or damaged header)"


def _decode_reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "truncated" in text:
        return "image file is truncated"
    return f"cannot decode image: {text}"
