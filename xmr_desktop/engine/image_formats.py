"""The Pillow formats xmr opens: exactly those of the file extensions the scanner indexes.

A photo folder is data: a file named ``holiday.jpg`` may hold anything, and Pillow would otherwise try every
decoder it has (PostScript, PSD, ICNS, …). Passing ``formats=decode_formats()`` to ``Image.open`` keeps every
other decoder unreachable. The list is derived from ``library.scanner.image_extensions()`` so that the two can
never disagree: a format is openable here if and only if its files are indexed.
"""

from __future__ import annotations

import functools
import logging

from xmr_desktop.library.scanner import image_extensions

log = logging.getLogger(__name__)

# Extensions Pillow maps only once a plugin registers them (pillow-heif); the scanner lists them only when that
# plugin imports.
_PLUGIN_FORMATS = {".heic": "HEIF", ".heif": "HEIF"}


@functools.cache
def decode_formats() -> tuple[str, ...]:
    """Pillow format names (``"JPEG"``, ``"PNG"``, …) for ``Image.open(..., formats=...)``, in a stable order.

    JPEG covers MPO too (Pillow's JPEG opener returns multi-picture files, which many cameras write). HEIF is
    included, and its opener registered, only when the scanner indexes ``.heic`` files.
    """
    from PIL import Image

    Image.init()
    registered = Image.registered_extensions()
    if any(extension in _PLUGIN_FORMATS for extension in image_extensions()):
        _register_heif()
        registered = Image.registered_extensions()
    formats: list[str] = []
    for extension in sorted(image_extensions()):
        name = registered.get(extension) or _PLUGIN_FORMATS.get(extension)
        if name is None or name not in Image.OPEN:
            log.debug("no Pillow decoder for %s; such files will not be shown", extension)
            continue
        if name not in formats:
            formats.append(name)
    return tuple(formats)


def _register_heif() -> None:
    try:
        import pillow_heif
    except (ImportError, OSError) as error:  # the scanner checked the import already; keep going without HEIF
        log.debug("pillow_heif unavailable: %s", error)
        return
    register = getattr(pillow_heif, "register_heif_opener", None)
    if register is not None:
        register()
