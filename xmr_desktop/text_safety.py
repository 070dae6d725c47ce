"""File names as text that cannot forge lines, move the cursor or hide characters: for terminals and logs.

A file name may hold any byte but ``/`` and NUL: a newline makes ``xmr search`` print a line that looks like
another result, an escape sequence can rewrite the terminal, a bidi override can show ``gpj.exe`` as
``exe.jpg``, and bytes that are not UTF-8 (decoded by Python as lone surrogates) make ``print`` raise.
``printable`` shows all of those as visible escapes; everything else is kept as it is, so ordinary names,
accents and non-Latin scripts read normally.
"""

from __future__ import annotations

import os
import re

# C0 and C1 controls and DEL; line/paragraph separators; bidi embeddings, overrides and isolates; and the
# lone surrogates that stand for undecodable bytes of a POSIX file name.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the original byte of a non-UTF-8 name
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def printable(path: str | bytes | os.PathLike[str] | os.PathLike[bytes]) -> str:
    """``path`` as one line of visible text: control, bidi and undecodable characters become escapes.

    ``printable("a\\nb.jpg") == "a\\\\nb.jpg"`` (a backslash and an ``n``); a Latin-1 ``café.jpg`` on a UTF-8
    system prints as ``caf\\xe9.jpg``. On POSIX a literal backslash is doubled, so the escaped text names one
    file only; on Windows, where it is the path separator, it is kept.
    """
    text = os.fsdecode(os.fspath(path))
    if os.sep != "\\":
        text = text.replace("\\", "\\\\")
    return _UNSAFE.sub(_escape, text)


def printable_text(text: str) -> str:
    """Like ``printable`` for any message text that may quote a file name, backslashes left alone."""
    return _UNSAFE.sub(_escape, text)


def is_printable(text: str) -> bool:
    """Whether ``text`` needs no escaping (no control, bidi or undecodable characters)."""
    return _UNSAFE.search(text) is None
