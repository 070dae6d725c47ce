"""Decoding one photo to fit a box, for the viewer: few pixels, bounded memory, every failure a reason. Qt-free.

A 40-megapixel JPEG shown in a 600-pixel pane needs 0.2 MP, not 40: the size is read from the header, the
displayed size is computed first, and Pillow's draft mode then decodes the JPEG at the smallest DCT scale (1/2,
1/4, 1/8) that still covers it, so the full-resolution pixels are never materialised. Other formats have no
reduced decode; they are checked against the pixel cap before any pixel is decoded. Only the formats xmr
indexes are opened (``engine.image_formats``), and the file is opened without blocking, so a FIFO or device
that took a photo's name cannot hang the decoding thread.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from PIL import Image, ImageOps

from xmr_desktop.config import MAX_FILE_BYTES, MAX_IMAGE_PIXELS
from xmr_desktop.engine.image_formats import decode_formats

_EXIF_ORIENTATION = 0x0112
_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that turn the stored image by 90°


class PhotoUnreadable(Exception):
    """The photo cannot be shown; ``str()`` is the reason, one sentence a user understands."""


@dataclass(frozen=True)
class FileVersion:
    """Which bytes were decoded: a photo that changes gets a new version (and a new decode).

    Attributes:
        size: bytes on disk.
        mtime_ns: modification time in nanoseconds.
    """

    size: int
    mtime_ns: int


@dataclass(frozen=True)
class DecodedPhoto:
    """A photo decoded to fit a box, upright (EXIF orientation applied).

    Attributes:
        image: RGB, or RGBA when the photo has transparency; never larger than the fitted size.
        full_size: (width, height) of the whole photo, upright.
        decoded_size: (width, height) the decoder produced before the final resize (draft mode for JPEG):
            the most pixels this decode ever held.
        version: the file's size and mtime when it was opened.
        format: Pillow's format name ("JPEG", "PNG", …).
    """

    image: Image.Image
    full_size: tuple[int, int]
    decoded_size: tuple[int, int]
    version: FileVersion
    format: str

    @property
    def reduced(self) -> bool:
        """Whether fewer pixels were kept than the photo has (a larger box would show more detail)."""
        return self.image.size[0] < self.full_size[0] or self.image.size[1] < self.full_size[1]


def fit_size(size: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """``size`` scaled down (never up) to fit ``box`` with its aspect ratio kept; at least 1×1."""
    width, height = size
    box_w, box_h = max(1, box[0]), max(1, box[1])
    scale = min(box_w / width, box_h / height, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def file_version(path: str) -> FileVersion:
    """The photo's current version (one ``stat``); raises PhotoUnreadable when it is gone or not a file."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise PhotoUnreadable(_os_reason(error)) from error
    if not stat.S_ISREG(info.st_mode):
        raise PhotoUnreadable("This is not a regular file any more.")
    return FileVersion(info.st_size, info.st_mtime_ns)


def decode_to_fit(
    path: str,
    box: tuple[int, int],
    *,
    max_pixels: int = MAX_IMAGE_PIXELS,
    max_bytes: int = MAX_FILE_BYTES,
    formats: tuple[str, ...] | None = None,
) -> DecodedPhoto:
    """Decode ``path`` scaled to fit ``box`` (width, height in pixels). Raises PhotoUnreadable with the reason."""
    try:
        # O_NONBLOCK: a FIFO that took the photo's name must not block open() until some writer appears.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise PhotoUnreadable(_os_reason(error)) from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise PhotoUnreadable("This is not a regular file.")
        if info.st_size > max_bytes:
            raise PhotoUnreadable(f"The file is too large to show ({info.st_size / 2**20:.0f} MiB; limit {max_bytes / 2**20:.0f} MiB).")
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    version = FileVersion(info.st_size, info.st_mtime_ns)
    with handle:
        try:
            return _decode(handle, box, version, max_pixels, formats if formats is not None else decode_formats())
        except PhotoUnreadable:
            raise
        except Image.DecompressionBombError as error:
            raise PhotoUnreadable(f"The image is too large to show ({error}).") from error
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, ZeroDivisionError) as error:
            # Pillow reports undecodable input with any of these, depending on the format plugin.
            raise PhotoUnreadable(_decode_reason(error)) from error


def _decode(handle: object, box: tuple[int, int], version: FileVersion, max_pixels: int, formats: tuple[str, ...]) -> DecodedPhoto:
    with Image.open(handle, formats=list(formats)) as opened:  # type: ignore[arg-type]
        stored_w, stored_h = opened.size
        if stored_w <= 0 or stored_h <= 0:
            raise PhotoUnreadable("The image has no pixels.")
        if stored_w * stored_h > max_pixels:
            raise PhotoUnreadable(
                f"The image is too large to show ({stored_w} × {stored_h} pixels; limit {max_pixels / 1e6:.0f} megapixels)."
            )
        swapped = opened.getexif().get(_EXIF_ORIENTATION, 1) in _SWAPPING_ORIENTATIONS
        full = (stored_h, stored_w) if swapped else (stored_w, stored_h)
        target = fit_size(full, box)
        if opened.format in ("JPEG", "MPO"):
            # Ask for the fitted size itself (in stored orientation): draft keeps each side at least that large.
            opened.draft("RGB", (target[1], target[0]) if swapped else target)
        image_format = opened.format or "?"
        opened.load()
        decoded = (opened.size[1], opened.size[0]) if swapped else opened.size
        image = ImageOps.exif_transpose(opened)
        image = _displayable(image)
        if image.size != target:
            image = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        return DecodedPhoto(image, full, decoded, version, image_format)


def _displayable(image: Image.Image) -> Image.Image:
    """RGB, or RGBA where the photo has transparency (palette transparency included)."""
    if image.mode in ("RGB", "RGBA"):
        return image
    if image.mode in ("LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    return image.convert("RGB")


def _os_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "The file is no longer there (moved, renamed or deleted)."
    if isinstance(error, PermissionError):
        return "xmr is not allowed to read this file."
    if isinstance(error, IsADirectoryError):
        return "This is a folder, not a photo."
    return f"The file cannot be read: {error.strerror or error}."


def _decode_reason(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if "cannot identify image file" in text:
        return "This is not a photo xmr can show (unknown format or damaged header)."
    if "truncated" in text:
        return "The image file is truncated (damaged, or still being copied)."
    return f"The image cannot be decoded: {text}."
