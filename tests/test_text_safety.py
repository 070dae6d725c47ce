"""File names cannot forge lines in text output or logs; Pillow's noise about damaged photos stays out of the terminal."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xmr_desktop.logs import SafeFormatter
from xmr_desktop.text_safety import is_printable, printable


@pytest.mark.parametrize(
    "name, shown",
    [
        ("beach.jpg", "beach.jpg"),
        ("café 東京.jpg", "café 東京.jpg"),  # ordinary non-ASCII names read normally
        ("a\nxmr: 0.99 /home/me/fake.jpg", "a\\nxmr: 0.99 /home/me/fake.jpg"),
        ("tab\there\rcr", "tab\\there\\rcr"),
        ("\x1b[2Jcleared.jpg", "\\x1b[2Jcleared.jpg"),
        ("gpj\u202eexe.jpg", "gpj\\u202eexe.jpg"),  # a right-to-left override hides the real extension
        ("line\u2028sep", "line\\u2028sep"),
        ("del\x7f c1\x85", "del\\x7f c1\\x85"),
    ],
)
def test_printable_escapes_what_could_forge_or_hide_text(name: str, shown: str) -> None:
    assert printable(name) == shown
    assert "\n" not in printable(name) and is_printable(printable(name))


@pytest.mark.skipif(os.name == "nt", reason="POSIX names are bytes")
def test_a_non_utf8_name_shows_its_byte_and_can_be_printed() -> None:
    path = os.fsdecode(b"/photos/caf\xe9.jpg")  # Latin-1 on a UTF-8 system: a lone surrogate in Python
    assert printable(path) == "/photos/caf\\xe9.jpg"
    assert printable(os.fsencode(path)) == "/photos/caf\\xe9.jpg"
    printable(path).encode("utf-8")  # what print() does; the raw str would raise UnicodeEncodeError


@pytest.mark.skipif(os.name == "nt", reason="the backslash is the separator on Windows")
def test_escaped_names_stay_unambiguous() -> None:
    assert printable("a\\nb") != printable("a\nb")


def test_log_lines_stay_one_line_whatever_the_file_name(tmp_path: Path) -> None:
    record = logging.LogRecord("xmr_desktop.test", logging.INFO, __file__, 1, "skipped %s: %s (%d bytes)",
                               ("evil\nxmr INFO forged line.jpg", "bad\rreason", 12), None)
    line = SafeFormatter("%(levelname)s %(message)s").format(record)
    assert line == "INFO skipped evil\\nxmr INFO forged line.jpg: bad\\rreason (12 bytes)"
    bare = logging.LogRecord("x", logging.WARNING, __file__, 1, "cannot read evil\nname", None, None)
    assert "\n" not in SafeFormatter("%(message)s").format(bare)


def test_tracebacks_keep_their_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed on %s", ("a\nb",), sys.exc_info())
    text = SafeFormatter("%(message)s").format(record)
    assert text.startswith("failed on a\\nb\nTraceback") and "ValueError: boom" in text


_NOISY_DECODE = r"""
import sys, logging
from pathlib import Path
from xmr_desktop.logs import setup_logging
setup_logging(Path(sys.argv[1]), verbosity=int(sys.argv[3]))
from xmr_desktop.engine.preprocess import ImageSpec, load_for_embedding
from PIL import Image
for path in sys.argv[2].split(","):
    try:
        load_for_embedding(path, ImageSpec())
    except Exception as error:
        print("skipped", type(error).__name__)
import warnings
warnings.warn("not from Pillow", UserWarning)
"""


def test_pillow_warnings_about_damaged_photos_go_to_the_log_not_the_terminal(tmp_path: Path) -> None:
    from PIL import Image

    bad_exif = tmp_path / "bad exif.jpg"
    # An EXIF block whose one tag points past its end: Pillow warns "Tag data larger than file".
    exif = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x01\x01\x0f\x00\x02\x00\x00\x10\x00\x00\x00\x00\x1a"
    Image.new("RGB", (64, 48), "red").save(bad_exif, exif=exif)
    big = tmp_path / "big.png"
    Image.new("1", (10_000, 9_000)).save(big)  # 90 MP: over Pillow's own bomb-warning size, under xmr's cap
    logs = tmp_path / "logs"
    logs.mkdir()
    for verbosity in ("0", "2"):  # -vv: the log keeps DEBUG lines
        result = subprocess.run([sys.executable, "-W", "default", "-c", _NOISY_DECODE, str(logs), f"{bad_exif},{big}",
                                 verbosity], capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        if verbosity == "0":
            assert "Tag data larger than file" not in result.stderr and "DecompressionBomb" not in result.stderr
            assert "not from Pillow" in result.stderr  # other warnings are still shown
    log = (logs / "xmr.log").read_text(encoding="utf-8")
    assert "DEBUG" in log and "Tag data larger than file" in log and "DecompressionBombWarning" in log
    assert "STREAM" not in log  # nor Pillow's chunk-by-chunk debug chatter
