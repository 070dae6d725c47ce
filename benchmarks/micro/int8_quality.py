"""Does LiteRT's int8 (dynamic-range) image tower keep retrieval where float32 has it?

Two of the three measurements behind the default precision (the third is ``python -m benchmarks.transfer
--runtime litert --precisions float32,int8``):

1. Real photos, random-weight ViT-B/32 (``make_models.py``): each photo's vector from TensorFlow float32, LiteRT
   float32, LiteRT int8 and TensorFlow bfloat16; the cosine between a photo's two vectors, and how many of its
   k nearest neighbours (by cosine, among the other photos) stay the same.
2. The tests' trained tiny CLIPs (``tests/tiny_models.train_tiny_clip``, a few seeds): caption -> image R@1 and
   image -> caption accuracy on fresh shape images, LiteRT float32 vs int8.

Usage: python -m benchmarks.micro.int8_quality MODEL_DIR PHOTO_DIR [PHOTO_DIR ...] [--k 10] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import REPO, WORK, machine
from xmr_desktop.engine.embedder import ClipEmbedder
from xmr_desktop.engine.litert_embedder import LiteRTEmbedder
from xmr_desktop.engine.litert_export import ensure_litert
from xmr_desktop.engine.loading import ModelFiles, read_model_id
from xmr_desktop.engine.preprocess import ImageRejected, load_for_embedding

FORMATS = (".jpg", ".jpeg", ".png", ".webp")


def neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -np.inf)
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Mean share of each photo's k nearest neighbours that are the same in both spaces."""
    na, nb = neighbours(a, k), neighbours(b, k)
    return float(np.mean([len(set(x) & set(y)) / k for x, y in zip(na, nb)]))


def embed_all(embed, pixels: np.ndarray, batch: int = 16) -> np.ndarray:
    return np.concatenate([embed(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])


def real_photos(model: Path, folders: list[Path], k: int) -> dict:
    files = ModelFiles(model, model.name, read_model_id(model))
    exports = {p: ensure_litert(model, WORK / "litert-models", precision=p) for p in ("float32", "int8")}
    litert = {p: LiteRTEmbedder(files, e) for p, e in exports.items() if e is not None}
    spec = litert["float32"].image_spec
    results = {}
    for folder in folders:
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in FORMATS)
        pixels = []
        for path in paths:
            try:
                pixels.append(load_for_embedding(str(path), spec).pixels)
            except ImageRejected:
                continue
        x = np.stack(pixels)
        vectors = {f"litert-{p}": embed_all(e.embed_images, x) for p, e in litert.items()}
        for precision in ("float32", "bfloat16"):
            os.environ["XMR_PRECISION"] = precision
            tf_model = ClipEmbedder(files).load()
            vectors[f"tf-{precision}"] = embed_all(tf_model.embed_images, x)
            tf_model.close()
        pairs = [("litert-float32", "tf-float32"), ("litert-int8", "litert-float32"), ("litert-int8", "tf-float32"),
                 ("tf-bfloat16", "tf-float32")]
        kk = min(k, len(x) - 1)
        rows = {}
        for a, b in pairs:
            cosines = np.sum(vectors[a] * vectors[b], axis=1)
            rows[f"{a} vs {b}"] = {"min_cosine": float(cosines.min()), "median_cosine": float(np.median(cosines)),
                                   f"overlap@{kk}": overlap(vectors[a], vectors[b], kk)}
        results[str(folder)] = {"photos": len(x), "k": kk, "pairs": rows}
    return results


def trained_tiny(seeds: list[int], per_item: int = 20) -> dict:
    sys.path.insert(0, str(REPO / "tests"))
    import synthetic_shapes
    from tiny_models import retrieval_scores, train_tiny_clip

    out = {}
    items = synthetic_shapes.all_items()
    captions = [synthetic_shapes.caption(c, s) for c, s in items]
    labels = np.repeat(np.arange(len(items)), per_item)
    for seed in seeds:
        with tempfile.TemporaryDirectory() as scratch:
            model = train_tiny_clip(Path(scratch) / "tiny", seconds=60, seed=seed)
            files = ModelFiles(model, "tiny", read_model_id(model))
            rng = np.random.default_rng(1000 + seed)
            images = [synthetic_shapes.draw_shape(c, s, size=64, rng=rng) for c, s in items for _ in range(per_item)]
            from xmr_desktop.engine.preprocess import pixels_for_model

            row = {}
            for precision in ("float32", "int8"):
                embedder = LiteRTEmbedder(files, ensure_litert(model, Path(scratch) / "models", precision=precision))
                x = np.stack([pixels_for_model(im.convert("RGB"), embedder.image_spec) for im in images])
                recall, accuracy = retrieval_scores(embedder.embed_texts(captions), embed_all(embedder.embed_images, x), labels)
                row[precision] = {"caption_to_image_r1": recall, "image_to_caption_accuracy": accuracy}
            out[f"seed {seed}"] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("photos", type=Path, nargs="+")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seeds", default="0,1,2")
    args = parser.parse_args()
    result = {"machine": machine(), "real_photos": real_photos(args.model, args.photos, args.k)}
    for folder, r in result["real_photos"].items():
        print(f"{r['photos']} photos from {folder}, random-weight {args.model.name}:")
        key = f"overlap@{r['k']}"
        for pair, m in r["pairs"].items():
            print(f"  {pair:34}: cosine min {m['min_cosine']:.6f} median {m['median_cosine']:.6f}, "
                  f"{r['k']} nearest neighbours {100 * m[key]:.1f}% the same")
    if args.seeds:
        result["trained_tiny"] = trained_tiny([int(s) for s in args.seeds.split(",")])
        for seed, row in result["trained_tiny"].items():
            print(f"trained tiny CLIP {seed}: " + ", ".join(
                f"{p} R@1 {100 * m['caption_to_image_r1']:.1f} / image->caption {100 * m['image_to_caption_accuracy']:.1f}"
                for p, m in row.items()))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
