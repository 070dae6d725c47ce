"""OCR cost and quality: photos/s on real photos and rendered documents, and what ``documents`` mode saves.

``python -m benchmarks.ocr_throughput [--photos DIR] [--max-photos 24] [--model CLIP_DIR]`` (needs Tesseract)

- Real photos: ``../shared/data/get-photos`` (Debian wallpapers: landscapes, abstract art, a few with a line of
  text), into ``benchmarks/.work/text-photos`` unless ``--photos`` is given.
- Rendered documents: pages, receipts and signs over those photos, with known words, so word recall is measured.
- Per language set (``eng``; ``eng+chi_sim``): engine start-up, seconds per photo (median) and photos/s for each
  kind, words kept per real photo (text "read" from photos without any: should be ~0), word recall on documents.
- ``documents`` mode: the selection itself is one matrix product over stored vectors (timed on 100k random
  512-d vectors). The share it selects needs a real CLIP: with ``--model`` the photos and documents are embedded
  and scored, and the share and the OCR time it saves against ``all`` are printed; without it only the cost side.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from benchmarks.common import REPO, WORK
from benchmarks.text_corpus import ENGLISH_WORDS
from xmr_desktop.ocr.documents import DOCUMENT_PROMPTS, OTHER_PROMPTS, select_documents
from xmr_desktop.ocr.engine import OcrEngine, OcrFailed, ocr_available

PHOTO_DIR = WORK / "text-photos"
LATIN_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def real_photos(folder: Path, limit: int) -> list[Path]:
    if not any(folder.glob("*")):
        subprocess.run([str(REPO.parent / "shared" / "data" / "get-photos"), str(folder)], check=True)
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]


def render_documents(out: Path, backgrounds: list[Path], count: int, seed: int = 0) -> list[tuple[Path, set[str]]]:
    """Pages, receipts and signs with random words; returns each file with the words on it."""
    rng = random.Random(seed)
    made = []
    for n in range(count):
        words = [rng.choice(ENGLISH_WORDS) for _ in range(rng.randint(8, 40))] + [str(rng.randint(100, 9999))]
        kind = n % 3
        if kind == 2 and backgrounds:  # a sign on a photo
            image = Image.open(backgrounds[n % len(backgrounds)]).convert("RGB")
            image.thumbnail((2000, 2000))
            words = words[:3]
            face = ImageFont.truetype(LATIN_FONT, max(24, image.width // 20))
            draw = ImageDraw.Draw(image)
            box = draw.textbbox((0, 0), " ".join(words).upper(), font=face)
            x, y = image.width // 6, image.height // 3
            draw.rectangle((x - 20, y - 20, x + box[2] + 20, y + box[3] + 20), fill=(245, 240, 225))
            draw.text((x, y), " ".join(words).upper(), fill=(20, 20, 20), font=face)
        else:
            width = 1200 if kind == 0 else 600
            image = Image.new("RGB", (width, 1600), "white")
            face = ImageFont.truetype(LATIN_FONT, 30 if kind == 0 else 24)
            draw = ImageDraw.Draw(image)
            line, y = "", 60
            for word in words:
                if draw.textlength(line + " " + word, font=face) > width - 120:
                    draw.text((60, y), line, fill="black", font=face)
                    line, y = word, y + 50
                else:
                    line = f"{line} {word}".strip()
            draw.text((60, y), line, fill="black", font=face)
        path = out / f"document_{n:02d}.jpg"
        image.save(path, quality=90)
        made.append((path, {w.lower() for w in words if len(w) >= 3}))
    return made


def timed_reads(engine: OcrEngine, paths: list[Path]) -> tuple[list[float], list[str]]:
    times, texts = [], []
    for path in paths:
        started = time.perf_counter()
        try:
            texts.append(engine.read_file(str(path)))
        except OcrFailed as error:
            texts.append("")
            print(f"  {path.name}: {error}")
        times.append(time.perf_counter() - started)
    return times, texts


def selection_cost_us(count: int = 100_000, dim: int = 512) -> float:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((count, dim)).astype(np.float16).astype(np.float32)
    prompts = rng.standard_normal((len(DOCUMENT_PROMPTS) + len(OTHER_PROMPTS), dim)).astype(np.float32)
    started = time.perf_counter()
    for start in range(0, count, 512):  # as next_ocr_batch scores them
        select_documents(vectors[start : start + 512], prompts[: len(DOCUMENT_PROMPTS)], prompts[len(DOCUMENT_PROMPTS) :])
    return (time.perf_counter() - started) / count * 1e6


def model_share(model_dir: str, photos: list[Path], documents: list[Path]) -> tuple[float, float, np.ndarray]:
    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.engine.preprocess import load_for_embedding

    embedder = load_embedder(model_dir, Path("/nonexistent"))
    paths = photos + documents
    pixels = np.stack([load_for_embedding(str(p), embedder.image_spec).pixels for p in paths])
    vectors = embedder.embed_images(pixels)
    selected, _ = select_documents(vectors, embedder.embed_texts(DOCUMENT_PROMPTS), embedder.embed_texts(OTHER_PROMPTS))
    return float(selected[: len(photos)].mean()), float(selected[len(photos) :].mean()), selected


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=Path, default=PHOTO_DIR)
    parser.add_argument("--max-photos", type=int, default=24)
    parser.add_argument("--documents", type=int, default=12)
    parser.add_argument("--model", help="a real CLIP folder, to measure the share documents mode selects")
    args = parser.parse_args(argv)
    if ocr_available(("eng",)):
        raise SystemExit(f"OCR benchmark needs Tesseract: {ocr_available(('eng',))}")
    args.photos.mkdir(parents=True, exist_ok=True)
    photos = real_photos(args.photos, args.max_photos)
    with tempfile.TemporaryDirectory() as work:
        rendered = render_documents(Path(work), photos, args.documents)
        documents = [p for p, _ in rendered]
        rows = []
        for langs in [("eng",), ("eng", "chi_sim")]:
            if ocr_available(langs):
                continue
            with OcrEngine(langs) as engine:
                started = time.perf_counter()
                version = engine.engine_version()
                startup = time.perf_counter() - started
                photo_times, photo_texts = timed_reads(engine, photos)
                doc_times, doc_texts = timed_reads(engine, documents)
            recall = statistics.mean(
                len(words & set(text.lower().split())) / len(words) for (_, words), text in zip(rendered, doc_texts)
            )
            garbage = statistics.mean(len(text.split()) for text in photo_texts)
            rows.append((langs, version, startup, photo_times, doc_times, recall, garbage))
        share = model_share(args.model, photos, documents) if args.model else None
    print(f"\nOCR: {len(photos)} real photos, {len(documents)} rendered documents (pages, receipts, signs)\n")
    print("| languages | start-up s | photo s (median) | photos/s | document s (median) | documents/s | word recall on documents | words kept per photo |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for langs, version, startup, photo_times, doc_times, recall, garbage in rows:
        print(
            f"| {'+'.join(langs)} ({version}) | {startup:.2f} | {statistics.median(photo_times):.2f} | "
            f"{len(photo_times) / sum(photo_times):.2f} | {statistics.median(doc_times):.2f} | "
            f"{len(doc_times) / sum(doc_times):.2f} | {recall:.2f} | {garbage:.1f} |"
        )
    cost = selection_cost_us()
    print(f"\nDocument selection from stored vectors: {cost:.1f} µs per photo (100k × 512-d, 19 prompts)")
    if rows:
        per_photo = statistics.mean(rows[-1][3])
        print(f"'all' reads every photo: {per_photo:.2f} s each with {'+'.join(rows[-1][0])} here, "
              f"{per_photo * 10_000 / 3600:.1f} h per 10,000 photos; 'documents' costs that times the share it selects.")
    if share is not None:
        photo_share, doc_share, selected = share
        times = rows[-1][3] + rows[-1][4]
        saved = 1 - sum(t for t, s in zip(times, selected) if s) / sum(times)
        print(f"With {args.model}: selects {photo_share:.0%} of the real photos and {doc_share:.0%} of the documents; "
              f"OCR time saved against 'all' on this set: {saved:.0%}")
    else:
        print("Share selected: not measured (no real CLIP given; pass --model DIR).")


if __name__ == "__main__":
    main()
