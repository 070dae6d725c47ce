"""How place names are compared: folded keys (no accents, case, hyphens) and names in Chinese characters."""

from __future__ import annotations

import re
import unicodedata

_HAN_ONLY = re.compile(r"^[\u3400-\u9fff\uf900-\ufaff]+$")
_SEPARATORS = re.compile(r"[\s\-‐_'’.·]+")
_LATIN = re.compile(r"^[\u0000-\u024f\u1e00-\u1eff]+$")


def fold(name: str) -> str:
    """The key a place name is looked up by: accents, case, hyphens and apostrophes do not matter."""
    if name.isascii():
        return _SEPARATORS.sub(" ", name.lower()).strip()
    decomposed = unicodedata.normalize("NFKD", name)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", stripped.casefold()).strip()


def is_han(text: str) -> bool:
    return bool(_HAN_ONLY.match(text))
