"""The OCR child process: Tesseract (through tesserocr) with its language models loaded once.

Run by :class:`xmr_desktop.ocr.engine.OcrEngine` as ``python -m xmr_desktop.ocr.worker TESSDATA LANGS``; never
imported by the app. It says ``{"ready": true, "version": ...}`` on stdout, then answers each request (one JSON
header line ``{"width", "height", "timeout_ms"}`` followed by width × height bytes of 8-bit grey pixels on stdin)
with one JSON line ``{"lines": [[[word, confidence], ...], ...]}`` or ``{"error": "..."}``.

A separate process because a hostile image must never hang or crash the app: the parent kills this process when
an answer is late, and Tesseract's own cancellation (``Recognize(timeout=...)``) does not cover layout analysis.
"""

from __future__ import annotations

import json
import os
import sys

# Background work: one thread, so OCR never takes a core the embedder or the window needs.
os.environ["OMP_THREAD_LIMIT"] = "1"


def _words(api, tesserocr) -> list[list[list[object]]]:  # noqa: ANN001 (tesserocr objects are untyped)
    lines: list[list[list[object]]] = []
    iterator = api.GetIterator()
    if iterator is None:
        return lines
    word_level, line_level = tesserocr.RIL.WORD, tesserocr.RIL.TEXTLINE
    current: list[list[object]] = []
    for word in tesserocr.iterate_level(iterator, word_level):
        try:
            text = word.GetUTF8Text(word_level)
        except RuntimeError:  # a word box with no text: tesserocr raises instead of returning ""
            continue
        current.append([text, round(float(word.Confidence(word_level)), 1)])
        if word.IsAtFinalElement(line_level, word_level):
            lines.append(current)
            current = []
    if current:
        lines.append(current)
    return lines


def main(argv: list[str]) -> int:
    tessdata, langs = argv[1], argv[2]
    import tesserocr
    from PIL import Image

    out = sys.stdout
    try:
        # Sparse text finds words anywhere (signs, screenshots, receipts); automatic page segmentation missed
        # short lines on a rendered Chinese invoice and a sign on a photo (measured in docs/keyword-search.md).
        api = tesserocr.PyTessBaseAPI(path=tessdata, lang=langs, psm=tesserocr.PSM.SPARSE_TEXT)
    except RuntimeError as error:
        out.write(json.dumps({"ready": False, "error": str(error)}) + "\n")
        out.flush()
        return 1
    out.write(json.dumps({"ready": True, "version": tesserocr.tesseract_version().splitlines()[0]}) + "\n")
    out.flush()
    source = sys.stdin.buffer
    while header := source.readline():
        request = json.loads(header)
        width, height = int(request["width"]), int(request["height"])
        pixels = source.read(width * height)
        if len(pixels) != width * height:
            return 0  # the parent went away mid-request
        try:
            api.SetImage(Image.frombytes("L", (width, height), pixels))
            if not api.Recognize(timeout=int(request["timeout_ms"])):
                reply: dict[str, object] = {"error": "Tesseract stopped (time limit reached)"}
            else:
                reply = {"lines": _words(api, tesserocr)}
        except RuntimeError as error:
            reply = {"error": f"Tesseract failed: {error}"}
        out.write(json.dumps(reply, ensure_ascii=False) + "\n")
        out.flush()
    api.End()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
