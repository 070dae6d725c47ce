"""Decoding one photo to fit a box, for the viewer: few pixels, bounded memory, every failure a reason. Qt-free.

A 40-megapixel JPEG shown in a 600-pixel pane needs 0.2 MP, not 40: the size is read from the header, the
displayed size is computed first, and Pillow's draft mode then decodes the JPEG at the smallest DCT scale (1/2,
1/4, 1/8) that still covers it, so the full-resolution pixels are never materialised. Everything else comes
from the indexer's own safe decoding (``engine.preprocess``): only the formats xmr indexes are opened, the file
is read without blocking on FIFOs, the pixel cap is checked from the header, decoded pixels count against the
process-wide ``DECODE_BUDGET``, palette images are converted band by band, and a decode can be cancelled
between the chunks Pillow reads (the viewer does so when the user has moved on).
"""

from __future__ import annotations

import os
import stat
import threading
from dataclasses import dataclass

from PIL import Image

from xmr_desktop.config import MAX_IMAGE_PIXELS
from xmr_desktop.engine.preprocess import (
    DECODE_BUDGET,
    DecodeCancelled,
    ImageRejected,
    decoded_bytes,
    header_orientation,
    load_pixels,
    open_checked,
    resize_converted,
)

__all__ = ["DecodeCancelled", "DecodedPhoto", "FileVersion", "PhotoUnreadable", "decode_to_fit", "file_version", "fit_size"]

_SWAPPING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that turn the stored image by 90°
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


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
        version: the file's size and mtime, from a ``stat`` just before it was read.
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
    if stat.S_ISDIR(info.st_mode):
        raise PhotoUnreadable("This is a folder, not a photo.")
    if not stat.S_ISREG(info.st_mode):
        raise PhotoUnreadable("This is not a regular file.")
    return FileVersion(info.st_size, info.st_mtime_ns)


def decode_to_fit(
    path: str, box: tuple[int, int], *, max_pixels: int = MAX_IMAGE_PIXELS, cancel: threading.Event | None = None
) -> DecodedPhoto:
    """Decode ``path`` scaled to fit ``box`` (width, height in pixels).

    Raises PhotoUnreadable with the reason, or DecodeCancelled when ``cancel`` is set meanwhile.
    """
    version = file_version(path)
    try:
        with open_checked(path, max_pixels) as opened:
            return _decode(opened, box, version, cancel)
    except ImageRejected as error:
        raise PhotoUnreadable(_sentence(str(error))) from error
    except OSError as error:  # read_file_bytes: the file went away or became unreadable since the stat
        raise PhotoUnreadable(_os_reason(error)) from error


def _decode(opened: Image.Image, box: tuple[int, int], version: FileVersion, cancel: threading.Event | None) -> DecodedPhoto:
    orientation = header_orientation(opened)
    swapped = orientation in _SWAPPING_ORIENTATIONS
    stored_w, stored_h = opened.size
    full = (stored_h, stored_w) if swapped else (stored_w, stored_h)
    target = fit_size(full, box)
    stored_target = (target[1], target[0]) if swapped else target
    image_format = opened.format or "?"
    # JPEG only (a no-op elsewhere): the smallest DCT scale that still covers the fitted size, each side.
    opened.draft("RGB" if opened.mode not in ("L", "RGB") else opened.mode, stored_target)
    with DECODE_BUDGET.reserve(decoded_bytes(opened), cancel):
        image = load_pixels(opened, cancel=cancel)
        decoded = (image.height, image.width) if swapped else image.size
        image = _resized(image, stored_target)
    if orientation in _TRANSPOSE:  # small by now: the turned copy costs little
        image = image.transpose(_TRANSPOSE[orientation])
    return DecodedPhoto(image, full, decoded, version, image_format)


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """RGB, or RGBA where the photo has transparency, at ``size``; palettes and 16-bit converted band by band."""
    transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    mode = "RGBA" if transparent else "RGB"
    if image.mode in ("RGB", "RGBA", "L", "LA"):
        if image.size != size:
            image = image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        return image if image.mode == mode else image.convert(mode)
    return resize_converted(image, size, Image.Resampling.BICUBIC, mode)


def _sentence(reason: str) -> str:
    """preprocess's lower-case reasons ("image file is truncated") as a sentence for the viewer."""
    reason = reason.strip().rstrip(".")
    return f"{reason[:1].upper()}{reason[1:]}." if reason else "The photo cannot be decoded."


def _os_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "The file is no longer there (moved, renamed or deleted)."
    if isinstance(error, PermissionError):
        return "xmr is not allowed to read this file."
    if isinstance(error, IsADirectoryError):
        return "This is a folder, not a photo."
    return f"The file cannot be read: {error.strerror or error}."
