"""``python -m benchmarks.transfer``: the synthetic transfer benchmark (see README.md beside this file)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.transfer import run, scenes


def photo_sources(work: Path, photos: str | None) -> list[Path]:
    """Real photos for domain B: --photos DIR, else ../shared/data/get-photos (needs apt-get update once)."""
    if photos:
        return sorted(p for p in Path(photos).iterdir() if p.is_file())
    try:
        from benchmarks.photos import fetch_sources

        return fetch_sources(work.parent / "xmr-bench-photo-sources")
    except Exception as error:  # no get-photos, no network: fall back to textures, and say so
        run.log(f"no real photos ({error}); domain B uses procedural textures")
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.transfer", description=__doc__)
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "xmr-transfer-bench"), help="scratch folder (rebuilt)")
    parser.add_argument("--photos", help="folder of real photos for domain B backgrounds (default: get-photos)")
    parser.add_argument("--textures", action="store_true", help="use procedural textures even if photos exist")
    parser.add_argument("--pretrain-steps", type=int, default=6000, help="pretraining steps on domain A (about 2-3 min on 2 cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--multilingual-only", action="store_true", help="pretrain, then only the multilingual table")
    parser.add_argument("--no-latency", action="store_true", help="skip the text-tower latency rows (XLM-R large takes ~1 min)")
    parser.add_argument("--no-multilingual", action="store_true", help="skip the multilingual table (e.g. when comparing precisions)")
    parser.add_argument("--runtime", choices=("tensorflow", "litert"), default="tensorflow",
                        help="what embeds for evaluation (training is TensorFlow either way)")
    parser.add_argument("--precisions", default="float32",
                        help="with --runtime litert: image-tower precisions, each a pass over all rows, e.g. float32,int8")
    args = parser.parse_args(argv)
    started = time.monotonic()
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    sources = [] if args.textures else photo_sources(work, args.photos)
    bg = scenes.Backgrounds(sources, np.random.default_rng(args.seed + 1))
    run.log(f"domain B backgrounds: {bg.kind} ({len(bg.sources)} photos)")
    data = run.make_data(work, bg, args.seed)
    db = run.open_db(work)

    base_dir = work / "models" / "bench-base"
    run.log(f"pretraining a small CLIP on domain A for {args.pretrain_steps} steps")
    stats = run.pretrain(base_dir, args.pretrain_steps, args.seed)
    run.log(f"pretrained: {stats}")
    b_train, b_val = (run.pairs_of(data[k]) for k in ("b_train", "b_val"))
    b_tests = [run.pairs_of(path) for path in data["b_test"]]

    from benchmarks.transfer import multilingual

    if args.multilingual_only:
        base = run.load_clip_embedder(base_dir, "bench-base")
        found = multilingual.run_multilingual(work, base_dir, base, db, args.seed, latency=not args.no_latency)
        multilingual.print_tables(found)
        run.json_dump(work / "results.json", {"multilingual": [(n, m.to_json(), note) for n, m, note in found["rows"]],
                                             "text_tower_latency_ms": found.get("latency"), "distill": found["distill"],
                                             "pretrain": stats})
        print(f"\ntotal {time.monotonic() - started:.0f} s")
        return 0

    # One pass over every row per image-tower precision, all on the same pretrained base.
    passes = [None] if args.runtime == "tensorflow" else [p.strip() for p in args.precisions.split(",")]
    all_rows: list[tuple[str, object, str]] = []
    all_concepts: list[tuple[str, dict]] = []
    for precision in passes:
        suffix = "" if precision is None else f" [LiteRT {precision}]"

        def load(directory: Path, name: str, precision: str | None = precision):
            return run.load_clip_embedder(directory, name, runtime=args.runtime, precision=precision)

        rows, concept_rows = measure(load(base_dir, "bench-base"), load, db, data, work, b_train, b_val, b_tests, args,
                                     tag="" if precision is None else f"-{precision}", two_tower=precision == passes[0])
        all_rows += [(name + suffix, m, note) for name, m, note in rows]
        all_concepts += [(name + suffix, c) for name, c in concept_rows]
    rows, concept_rows = all_rows, all_concepts

    # The multilingual towers are TensorFlow models bound to the base CLIP: measured once, not per precision.
    found = {"rows": [], "distill": None}
    if not args.no_multilingual:
        found = multilingual.run_multilingual(work, base_dir, run.load_clip_embedder(base_dir, "bench-base"), db, args.seed,
                                              latency=not args.no_latency)
    pool_size = len(run.pairs_of(data["concept_pool"]).images) + len(b_tests[0].images)
    print_tables(rows, concept_rows, bg, stats, time.monotonic() - started, len(b_tests), len(b_tests[0].images), pool_size)
    if not args.no_multilingual:
        multilingual.print_tables(found)
    run.json_dump(work / "results.json", {"retrieval": [(n, m.to_json() if hasattr(m, "to_json") else m, note) for n, m, note in rows],
                                         "concepts": concept_rows, "pretrain": stats, "backgrounds": bg.kind,
                                         "multilingual": [(n, m.to_json(), note) for n, m, note in found["rows"]],
                                         "text_tower_latency_ms": found.get("latency"), "distill": found["distill"]})
    return 0


def measure(base, load, db, data, work: Path, b_train, b_val, b_tests, args, *, tag: str, two_tower: bool):
    """Every retrieval row and concept row for one base model (one runtime and image precision)."""
    from xmr_desktop.engine.loading import ModelFiles, read_model_id
    from xmr_desktop.learn.concept_token import TokenTextEncoder, learn_token
    from xmr_desktop.learn.concepts import ConceptExpander, prototype
    from xmr_desktop.learn.contrastive import ContrastiveConfig
    from xmr_desktop.learn.evaluate import evaluate
    from xmr_desktop.learn.finetune import FinetuneConfig, finetune_text
    from xmr_desktop.learn.image_vectors import image_vectors
    from xmr_desktop.learn.learn_db import StoredConcept
    from xmr_desktop.learn.two_tower import TwoTowerEmbedder, train_two_tower
    from xmr_desktop.search.searcher import Searcher

    def on_b(model):
        reports = [evaluate(model, fold, cache=db) for fold in b_tests]
        return run.averaged(reports), sum(r.vectors.embedded for r in reports)

    rows: list[tuple[str, object, str]] = []
    rows.append(("zero-shot, domain A (sanity)", evaluate(base, run.pairs_of(data["a_test"]), cache=db).metrics, ""))
    rows.append(("zero-shot CLIP", on_b(base)[0], ""))

    variants = [("projection", 1), ("adapter", 1), ("last-layers", 1), ("last-layers", 2)]
    for variant, layers in variants:
        label = f"LiT {variant}" + (f" ({layers} layer{'s' if layers > 1 else ''})" if variant == "last-layers" else "")
        t = time.monotonic()
        out = work / "models" / f"lit-{variant}-{layers}{tag}"
        result = finetune_text(base, b_train, b_val, config=FinetuneConfig(variant=variant, n_layers=layers, epochs=40, patience=8),
                               cache=db, save_to=out, name=out.name)
        tuned = load(out, out.name)
        metrics, embedded = on_b(tuned)
        assert embedded == 0, "a LiT model must reuse the base model's image vectors"
        rows.append((label, metrics, f"{time.monotonic() - t:.1f}s, best epoch {result.best_epoch}, 0 images re-embedded"))
        run.log(f"{label}: val R@1 {result.before.text_to_image.r1:.3f} -> {result.after.text_to_image.r1:.3f}")

    cnn, bert = run.make_stand_ins(work / "stand_ins", b_train.captions + b_val.captions, args.seed)
    tt_dir = work / "models" / "two-tower"
    for hidden in (0, 256) if two_tower else ():  # TensorFlow towers: the same in every pass
        t = time.monotonic()
        tt_dir = work / "models" / f"two-tower-{hidden}"
        tt = train_two_tower(cnn, bert, b_train, b_val, config=ContrastiveConfig(dim=64, hidden=hidden, epochs=150, patience=20),
                             cache=db, save_to=tt_dir)
        tt_model = TwoTowerEmbedder(ModelFiles(tt_dir, tt_dir.name, read_model_id(tt_dir)))
        heads = "linear heads" if not hidden else f"MLP heads ({hidden})"
        rows.append((f"two-tower, random stand-ins, {heads}", on_b(tt_model)[0], f"{time.monotonic() - t:.1f}s, best epoch {tt.best_epoch}"))

    # -- concepts ------------------------------------------------------------------------------------------
    t = time.monotonic()
    teach = run.pairs_of(data["teach"]).images
    pool_paths = run.pairs_of(data["concept_pool"]).images + b_tests[0].images  # crosses first
    pool, _, _ = image_vectors(pool_paths, base, cache=db)
    taught, _, _ = image_vectors(teach, base, cache=db)
    queries = run.concept_queries(data["crosses"])
    concept = StoredConcept("Rex", base.model_id, prototype(taught), [str(p) for p in teach], 0.0)
    concept_rows: list[tuple[str, dict]] = []
    concept_rows.append(("text only (name unknown)", run.score_concepts({q: Searcher(None, base).query_vector(q) for _, q, _ in queries}, pool, queries)))
    for weight in (0.3, 0.5, 0.7, 0.85):
        expander = ConceptExpander([concept], weight)
        searcher = Searcher(None, base, concepts=expander)  # text queries need no index
        vectors = {q: searcher.query_vector(q) for _, q, _ in queries}
        concept_rows.append((f"prototype mix w={weight}", run.score_concepts(vectors, pool, queries)))
    encoder = TokenTextEncoder(base)
    negatives = image_vectors(b_train.images[:256], base, cache=db)[0]
    domain_templates = ("a *", "a * on the left", "a * on the right")  # the captions' own grammar, for fairness
    for label, templates in (("generic prompts", None), ("caption-style prompts", domain_templates)):
        t_token = time.monotonic()
        token = learn_token(encoder, taught, negatives, **({"templates": templates} if templates else {}))
        token_vectors = {q: encoder.embed([q.replace("Rex", "*")], token)[0] for _, q, _ in queries}
        concept_rows.append((f"learned token, {label} ({time.monotonic() - t_token:.0f}s)", run.score_concepts(token_vectors, pool, queries)))
    run.log(f"concepts: {time.monotonic() - t:.1f}s")
    return rows, concept_rows


def print_tables(rows, concept_rows, bg, stats, seconds, folds, n_test, n_pool) -> None:
    print(f"\nDomain B: mean of {folds} test folds of {n_test} images and {n_test} captions; backgrounds: {bg.kind}. "
          f"Pretraining on A: {stats['steps']} steps in {stats['seconds']} s.\n")
    for direction, attr in (("text → image", "text_to_image"), ("image → text", "image_to_text")):
        print(f"| {direction}, domain B | R@1 | R@5 | R@10 | median rank | notes |")
        print("| --- | ---: | ---: | ---: | ---: | --- |")
        for name, m, note in rows:
            t = getattr(m, attr)
            print(f"| {name} | {100 * t.r1:.1f} | {100 * t.r5:.1f} | {100 * t.r10:.1f} | {t.median_rank:.0f} | {note} |")
        print()
    print(f"\nConcept queries ('Rex' = an orange cross taught from 5 photos; pool of {n_pool} images: 10 of Rex, "
          "10 look-alikes (Rex's colour or shape), a test fold; "
          "normalised recall |relevant ∩ top K| / min(K, |relevant|)):\n")
    print("| method | alone R@1 | R@5 | R@10 | with words R@1 | R@5 | R@10 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, s in concept_rows:
        a, w = s["name alone"], s["name + words"]
        print(f"| {name} | {100 * a['r1']:.0f} | {100 * a['r5']:.0f} | {100 * a['r10']:.0f} | {100 * w['r1']:.1f} | {100 * w['r5']:.1f} | {100 * w['r10']:.1f} |")
    print(f"\ntotal {seconds:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
