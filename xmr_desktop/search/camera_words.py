"""Which of the library's cameras some words name: ``iphone``, ``iPhone 12``, ``fuji``, ``X-T3``, ``佳能``.

Words match a camera by a family word (``metadata.camera.CAMERA_WORDS``: a brand or a line such as iPhone or
Pixel) or by the start of its model name, compared without case, spaces or hyphens (``xt3`` is ``X-T3``),
optionally after the brand (``fuji x-t3``, ``canon eos r5``). A model match must hold a digit or follow the
brand, so ordinary words that begin some model name ("one", "mate") never do.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from xmr_desktop.metadata.camera import CAMERA_WORDS
from xmr_desktop.search.vocabulary import CameraName

MAX_CAMERA_WORDS = 4
_NON_ALNUM = re.compile(r"[\W_]+", re.UNICODE)
_LABELS = {"iphone": "iPhone", "ipad": "iPad", "fuji": "FUJIFILM", "gopro": "GoPro", "dji": "DJI", "pixel": "Pixel"}


def compact(text: str) -> str:
    return _NON_ALNUM.sub("", text.casefold())


@dataclass(frozen=True)
class CameraMatch:
    """``words`` consecutive words name ``cameras``; ``label`` is how a chip shows them."""

    words: int
    cameras: frozenset[str]
    label: str


def _family(word: str, cameras: Sequence[CameraName]) -> frozenset[str]:
    brand, model_word = CAMERA_WORDS[word]
    return frozenset(
        c.camera for c in cameras
        if c.brand == brand and (model_word is None or model_word in (c.model or c.camera).casefold())
    )


def _model_prefixes(camera: CameraName) -> list[tuple[str, bool]]:
    """Compact prefixes of the camera's name a query may type: ``(text, holds a digit or the brand)``."""
    model_tokens = (camera.model or "").split()
    brand = compact(camera.brand or "")
    found = []
    for n in range(1, len(model_tokens) + 1):
        prefix = "".join(compact(t) for t in model_tokens[:n])
        found.append((prefix, any(ch.isdigit() for ch in prefix)))
        if brand:
            found.append((brand + prefix, True))
    return found


def match_at(words: Sequence[str], start: int, cameras: Sequence[CameraName]) -> CameraMatch | None:
    """The longest run of ``words`` from ``start`` that names cameras of the library, if any."""
    for length in range(min(MAX_CAMERA_WORDS, len(words) - start), 0, -1):
        run = words[start : start + length]
        typed = compact("".join(run))
        if not typed:
            continue
        matched: set[str] = set()
        first = compact(run[0])
        if length == 1 and first in CAMERA_WORDS:
            matched |= _family(first, cameras)
        elif first in CAMERA_WORDS and length > 1:
            # "fuji x-t3": a family word, then the start of a model of that family.
            rest = "".join(compact(w) for w in run[1:])
            family = _family(first, cameras)
            matched |= {c.camera for c in cameras if c.camera in family and any(rest == p for p, _ in _model_prefixes(c))}
        for camera in cameras:
            if any(typed == prefix and strong for prefix, strong in _model_prefixes(camera)):
                matched.add(camera.camera)
        if matched:
            if length == 1 and first in CAMERA_WORDS:
                label = _LABELS.get(first, CAMERA_WORDS[first][0])
            elif len(matched) == 1:
                label = next(iter(matched))
            else:
                label = " ".join(run)
            return CameraMatch(length, frozenset(matched), label)
    return None


def cameras_matching(text: str, cameras: Sequence[CameraName]) -> frozenset[str]:
    """The library's cameras that ``text`` as a whole names (for ``--camera``); empty if none."""
    words = text.split()
    match = match_at(words, 0, cameras) if words else None
    return match.cameras if match is not None and match.words == len(words) else frozenset()


def family_in_han(text: str, cameras: Sequence[CameraName]) -> list[tuple[int, int, CameraMatch]]:
    """Chinese camera words inside text without spaces (``用佳能拍的``): ``(start, end, match)`` spans."""
    found = []
    for word in (w for w in CAMERA_WORDS if not w.isascii()):
        for hit in re.finditer(re.escape(word), text):
            matched = _family(word, cameras)
            if matched:
                found.append((hit.start(), hit.end(), CameraMatch(1, matched, CAMERA_WORDS[word][0])))
    return found
