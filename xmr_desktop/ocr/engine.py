"""Text in photos: finding Tesseract, preparing a photo for it, and reading its words in a child process.

Tesseract runs through tesserocr (which binds libtesseract; its wheels carry the library) in one long-lived
child process per set of languages (:mod:`xmr_desktop.ocr.worker`): the language models load once (~0.4 s for
English + Chinese, which a process per photo would pay every time, as pytesseract does), and a photo that takes
longer than its time limit gets the process killed and restarted, so no image can hang or crash the app.
The language data comes from the system: Debian's ``tesseract-ocr-eng`` / ``tesseract-ocr-chi-sim`` packages,
Homebrew's ``tesseract``, the Windows installer, or ``TESSDATA_PREFIX``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from xmr_desktop.engine.preprocess import ImageRejected, ImageSpec, open_image, read_file_bytes
from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

DEFAULT_LANGS = ("eng", "chi_sim")
DEFAULT_TIMEOUT_S = 20.0
# Longest side Tesseract sees. Text on a page photographed at 12 MP is still ~20 px high at 2400 px, and the
# time Tesseract takes grows with the pixel count.
MAX_SIDE = 2400
# Smaller images (thumbnails, small screenshots) are enlarged to this (at most 2x): Tesseract misreads text
# under ~10 px. Larger ones are not: 1.6x made a rendered Chinese invoice read worse (合计 became "Sit").
UPSCALE_TO = 1000
# Words Tesseract is less sure of than this are dropped: on photos without text, sparse-text mode "reads"
# textures as short words, nearly all under 80% confidence; real words on a page score 90+.
MIN_CONFIDENCE = 80.0
_SEARCH_PATHS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
    "/opt/homebrew/share/tessdata",
    "/opt/local/share/tessdata",
    r"C:\Program Files\Tesseract-OCR\tessdata",
)
# How long a child may take to start and load its languages before it counts as broken.
_START_TIMEOUT_S = 60.0
# Beyond the photo's own limit (which Tesseract enforces on recognition itself) before the child is killed.
_KILL_GRACE_S = 5.0


class OcrUnavailableError(XmrError):
    """Tesseract or the requested language data is not installed."""


class OcrFailed(Exception):
    """One photo could not be read (undecodable, too slow, Tesseract error); ``str()`` is the reason."""


@dataclass(frozen=True)
class OcrSetup:
    """Where Tesseract's language data is and which languages it has.

    Attributes:
        tessdata: the folder holding ``*.traineddata``.
        languages: the language codes found there (``eng``, ``chi_sim``, ...).
    """

    tessdata: str
    languages: frozenset[str]


def find_tessdata() -> OcrSetup | None:
    """The first language folder found (``TESSDATA_PREFIX`` first, then the usual install places), or None."""
    candidates = []
    prefix = os.environ.get("TESSDATA_PREFIX")
    if prefix:
        candidates += [prefix, os.path.join(prefix, "tessdata")]
    candidates += list(_SEARCH_PATHS)
    for folder in candidates:
        path = Path(folder)
        languages = frozenset(p.name[: -len(".traineddata")] for p in path.glob("*.traineddata")) if path.is_dir() else frozenset()
        languages -= {"osd"}  # orientation detection, not a language
        if languages:
            return OcrSetup(str(path), languages)
    return None


def binding_installed() -> bool:
    return importlib.util.find_spec("tesserocr") is not None


def ocr_available(langs: tuple[str, ...] = ("eng",)) -> str | None:
    """None when OCR in ``langs`` can run here, else the reason it cannot (one line, for the user)."""
    if not binding_installed():
        return "the tesserocr package is not installed (pip install 'xmr-desktop[ocr]')"
    setup = find_tessdata()
    if setup is None:
        return "no Tesseract language data found (install tesseract-ocr-eng, or set TESSDATA_PREFIX)"
    missing = [lang for lang in langs if lang not in setup.languages]
    if missing:
        return f"Tesseract has no language data for {', '.join(missing)} in {setup.tessdata}"
    return None


def installed_langs(wanted: tuple[str, ...] = DEFAULT_LANGS) -> tuple[str, ...]:
    """The languages of ``wanted`` that are installed, in order (empty when OCR is unavailable)."""
    setup = find_tessdata()
    if setup is None or not binding_installed():
        return ()
    return tuple(lang for lang in wanted if lang in setup.languages)


def prepare_image(image: Image.Image) -> Image.Image:
    """Grey pixels at a size Tesseract reads well: at most :data:`MAX_SIDE`, small images enlarged."""
    grey = image.convert("L")
    longest = max(grey.size)
    if longest > MAX_SIDE:
        scale = MAX_SIDE / longest
    elif longest < UPSCALE_TO:
        scale = min(2.0, UPSCALE_TO / longest)
    else:
        return grey
    size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
    return grey.resize(size, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)


def load_for_ocr(path: str) -> Image.Image:
    """Read one photo as :func:`prepare_image` makes it; raises :class:`OcrFailed` for files we cannot decode."""
    try:
        # The indexer's checks apply: regular files only, size and pixel caps before any pixel is decoded.
        # JPEG draft decoding stops at the smallest scale still covering MAX_SIDE.
        image, _ = open_image(read_file_bytes(path), ImageSpec(shortest_edge=MAX_SIDE, crop=(MAX_SIDE, MAX_SIDE)))
    except (ImageRejected, OSError) as error:
        raise OcrFailed(str(error)) from error
    return prepare_image(image)


def words_to_text(lines: list[list[tuple[str, float]]], min_confidence: float = MIN_CONFIDENCE) -> str:
    """Text from Tesseract's lines of ``(word, confidence)``: sure words only, one line per line of text.

    Words without a letter or digit are dropped; CJK words next to each other are joined without a space
    (Tesseract's sparse mode cuts Chinese text into single characters).
    """
    out_lines = []
    for line in lines:
        kept = [word for word, confidence in line if confidence >= min_confidence and _has_alnum(word)]
        text = ""
        for word in kept:
            if text and not (_is_cjk_char(text[-1]) and _is_cjk_char(word[0])):
                text += " "
            text += word
        if text:
            out_lines.append(text)
    return "\n".join(out_lines)


def _has_alnum(word: str) -> bool:
    return any(c.isalnum() for c in word)


def _is_cjk_char(char: str) -> bool:
    return unicodedata.category(char) == "Lo" and ord(char) >= 0x2E80


class OcrEngine:
    """One Tesseract child process for one set of languages, started on first use and restarted after a kill.

    Not thread-safe: one caller at a time (the core's background job).

    Attributes:
        langs: Tesseract language codes, e.g. ``("eng", "chi_sim")``.
        version: Tesseract's version line once the child has started (``"tesseract 5.5.4"``), else None.
    """

    def __init__(self, langs: tuple[str, ...] = DEFAULT_LANGS, setup: OcrSetup | None = None) -> None:
        reason = ocr_available(langs)
        if reason:
            raise OcrUnavailableError(f"OCR is not available: {reason}")
        self.langs = tuple(langs)
        self._setup = setup or find_tessdata()
        self.version: str | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[bytes] = queue.Queue()

    def engine_version(self) -> str:
        """Tesseract's version (starts the child if needed)."""
        self._ensure_started()
        assert self.version is not None
        return self.version

    def read(self, image: Image.Image, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """The text of a prepared image (:func:`prepare_image`); raises :class:`OcrFailed`."""
        grey = image if image.mode == "L" else image.convert("L")
        process = self._ensure_started()
        header = json.dumps({"width": grey.width, "height": grey.height, "timeout_ms": int(timeout * 1000)})
        try:
            assert process.stdin is not None
            process.stdin.write(header.encode() + b"\n" + grey.tobytes())
            process.stdin.flush()
        except OSError as error:
            self._kill()
            raise OcrFailed(f"the OCR process stopped ({error})") from error
        reply = self._reply(timeout + _KILL_GRACE_S)
        if reply is None:
            self._kill()
            raise OcrFailed(f"OCR took longer than {timeout:g} s")
        if "error" in reply:
            raise OcrFailed(str(reply["error"]))
        return words_to_text([[(str(w), float(c)) for w, c in line] for line in reply["lines"]])

    def read_file(self, path: str, timeout: float = DEFAULT_TIMEOUT_S) -> str:
        """The text in one photo file; raises :class:`OcrFailed`."""
        return self.read(load_for_ocr(path), timeout)

    def close(self) -> None:
        """Stop the child process (a later call starts a new one)."""
        process, self._process = self._process, None
        if process is None:
            return
        try:
            assert process.stdin is not None
            process.stdin.close()
            process.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            process.kill()
            process.wait()

    def __enter__(self) -> OcrEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        assert self._setup is not None
        command = [sys.executable, "-m", "xmr_desktop.ocr.worker", self._setup.tessdata, "+".join(self.langs)]
        log.info("starting OCR process for %s", "+".join(self.langs))
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._process = process
        self._replies = queue.Queue()
        # Reading on a thread gives a portable timeout (select() does not work on pipes on Windows).
        threading.Thread(target=_pump, args=(process, self._replies), daemon=True, name="ocr-replies").start()
        ready = self._reply(_START_TIMEOUT_S)
        if not ready or not ready.get("ready"):
            self._kill()
            detail = ready.get("error") if ready else "no answer"
            raise OcrUnavailableError(f"OCR is not available: Tesseract did not start ({detail})")
        self.version = str(ready["version"])
        return process

    def _reply(self, timeout: float) -> dict[str, object] | None:
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            return None
        if not line:
            return {"error": "the OCR process ended unexpectedly"}
        return json.loads(line)

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            log.warning("killing the OCR process")
            process.kill()
            process.wait()


def _pump(process: subprocess.Popen[bytes], replies: queue.Queue[bytes]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        replies.put(line)
    replies.put(b"")  # end of output: the process exited


_engines: dict[tuple[str, ...], OcrEngine] = {}


def run_ocr(path: str, langs: tuple[str, ...] = DEFAULT_LANGS, timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """The text in one photo, read by a shared engine for ``langs`` (kept running; :func:`close_engines`).

    Raises :class:`OcrUnavailableError` when Tesseract or a language is missing, :class:`OcrFailed` for a photo
    that cannot be read.
    """
    engine = _engines.get(tuple(langs))
    if engine is None:
        engine = _engines[tuple(langs)] = OcrEngine(tuple(langs))
    return engine.read_file(path, timeout)


def close_engines() -> None:
    """Stop every engine :func:`run_ocr` started."""
    while _engines:
        _engines.popitem()[1].close()
