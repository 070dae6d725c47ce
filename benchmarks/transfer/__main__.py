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
    args = parser.parse_args(argv)
    started = time.monotonic()

    from xmr_desktop.learn.concepts import ConceptExpander, prototype
    from xmr_desktop.search.searcher import Searcher
    from xmr_desktop.learn.contrastive import ContrastiveConfig
    from xmr_desktop.learn.evaluate import evaluate
    from xmr_desktop.learn.finetune import FinetuneConfig, finetune_text
    from xmr_desktop.learn.image_vectors import image_vectors
    from xmr_desktop.learn.learn_db import StoredConcept
    from xmr_desktop.learn.concept_token import TokenTextEncoder, learn_token
    from xmr_desktop.learn.two_tower import TwoTowerEmbedder, train_two_tower
    from xmr_desktop.engine.loading import ModelFiles, read_model_id

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
    base = run.load_clip_embedder(base_dir, "bench-base")
    b_train, b_val = (run.pairs_of(data[k]) for k in ("b_train", "b_val"))
    b_tests = [run.pairs_of(path) for path in data["b_test"]]

    def on_b(model):
        reports = [evaluate(model, fold, cache=db) for fold in b_tests]
        return run.averaged(reports), sum(r.vectors.embedded for r in reports)


    from benchmarks.transfer import multilingual

    if args.multilingual_only:
        found = multilingual.run_multilingual(work, base_dir, base, db, args.seed, latency=not args.no_latency)
        multilingual.print_tables(found)
        run.json_dump(work / "results.json", {"multilingual": [(n, m.to_json(), note) for n, m, note in found["rows"]],
                                             "text_tower_latency_ms": found.get("latency"), "distill": found["distill"],
                                             "pretrain": stats})
        print(f"\ntotal {time.monotonic() - started:.0f} s")
        return 0

    rows: list[tuple[str, object, str]] = []
    rows.append(("zero-shot, domain A (sanity)", evaluate(base, run.pairs_of(data["a_test"]), cache=db).metrics, ""))
    rows.append(("zero-shot CLIP", on_b(base)[0], ""))

    variants = [("projection", 1), ("adapter", 1), ("last-layers", 1), ("last-layers", 2)]
    for variant, layers in variants:
        label = f"LiT {variant}" + (f" ({layers} layer{'s' if layers > 1 else ''})" if variant == "last-layers" else "")
        t = time.monotonic()
        out = work / "models" / f"lit-{variant}-{layers}"
        result = finetune_text(base, b_train, b_val, config=FinetuneConfig(variant=variant, n_layers=layers, epochs=40, patience=8),
                               cache=db, save_to=out, name=out.name)
        tuned = run.load_clip_embedder(out, out.name)
        metrics, embedded = on_b(tuned)
        assert embedded == 0, "a LiT model must reuse the base model's image vectors"
        rows.append((label, metrics, f"{time.monotonic() - t:.1f}s, best epoch {result.best_epoch}, 0 images re-embedded"))
        run.log(f"{label}: val R@1 {result.before.text_to_image.r1:.3f} -> {result.after.text_to_image.r1:.3f}")

    cnn, bert = run.make_stand_ins(work / "stand_ins", b_train.captions + b_val.captions, args.seed)
    tt_dir = work / "models" / "two-tower"
    for hidden in (0, 256):
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

    found = multilingual.run_multilingual(work, base_dir, base, db, args.seed, latency=not args.no_latency)
    print_tables(rows, concept_rows, bg, stats, time.monotonic() - started, len(b_tests), len(b_tests[0].images), len(pool_paths))
    multilingual.print_tables(found)
    run.json_dump(work / "results.json", {"retrieval": [(n, m.to_json() if hasattr(m, "to_json") else m, note) for n, m, note in rows],
                                         "concepts": concept_rows, "pretrain": stats, "backgrounds": bg.kind,
                                         "multilingual": [(n, m.to_json(), note) for n, m, note in found["rows"]],
                                         "text_tower_latency_ms": found.get("latency"), "distill": found["distill"]})
    return 0


def print_tables(rows, concept_rows, bg, stats, seconds, folds, n_test, n_pool) -> None:
    print(f"\nDomain B: mean of {folds} test folds of {n_test} images and {n_test} captions; backgrounds: {bg.kind}. "
          f"Pretraining on A: {stats['steps']} steps in {stats['seconds']} s.\n")
    print("| text → image, domain B | R@1 | R@5 | R@10 | median rank | notes |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for name, m, note in rows:
        t = m.text_to_image
        print(f"| {name} | {100 * t.r1:.1f} | {100 * t.r5:.1f} | {100 * t.r10:.1f} | {t.median_rank:.0f} | {note} |")
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
