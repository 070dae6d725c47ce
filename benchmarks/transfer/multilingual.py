"""The multilingual part of ``python -m benchmarks.transfer``: teach the pretrained small CLIP Chinese by distillation.

Bilingual scenes: the domain-A test images (one per scene) captioned in English as the teacher was trained
("a red circle on the left") and in Chinese ("左边一个红色的圆形"). The student is a tiny random XLM-R
(``tests/multilingual_models.make_tiny_student``, a unigram vocabulary over both languages' captions) plus a
linear head, distilled with ``learn.distill`` from the teacher's English captions and their Chinese
translations (three phrasings per scene; the fourth is held out for a row of its own). The distillation sees no
image. Rows: the teacher with English and with Chinese queries, the undistilled student (random head), the
student with only its head fitted (distillation's epoch 0), the distilled student with Chinese (trained and
held-out phrasings) and English queries. Then the query latency (p50) of each real text tower architecture with
random weights (``benchmarks/micro/text_towers.py``).
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.transfer import run, scenes

ZH_COLOURS = {"red": "红色", "green": "绿色", "blue": "蓝色", "yellow": "黄色", "purple": "紫色"}
ZH_SHAPES = {"circle": "圆形", "square": "正方形", "triangle": "三角形", "bar": "长条"}
ZH_POSITIONS = {"left": "左边", "right": "右边"}
# Phrasings of one scene; the last is never used in training.
PHRASINGS = ("{p}一个{c}的{s}", "一个{c}的{s}在{p}", "{c}的{s}在{p}", "{p}有{c}{s}")


def chinese(scene: scenes.Scene, phrasing: int) -> str:
    return PHRASINGS[phrasing].format(c=ZH_COLOURS[scene.colour], s=ZH_SHAPES[scene.shape], p=ZH_POSITIONS[scene.position])


def _caption_csv(folder: Path, name: str, rows: list[tuple[str, str]]) -> Path:
    from xmr_desktop.learn.pairs import write_pairs_csv

    path = folder / name
    write_pairs_csv(path, rows)
    return path


class _TowerModel:
    """A bare ``TextTower`` with the teacher's image side, for evaluating a student that is not saved."""

    def __init__(self, tower: Any, teacher: Any, name: str) -> None:
        self.tower, self.teacher, self.name = tower, teacher, name
        self.model_id, self.image_spec = teacher.model_id, teacher.image_spec

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return self.tower.embed(list(texts))

    def embed_images(self, pixels: np.ndarray) -> np.ndarray:
        return self.teacher.embed_images(pixels)


def run_multilingual(work: Path, base_dir: Path, teacher: Any, db: Any, seed: int, *, latency: bool = True) -> dict[str, Any]:
    import multilingual_models  # tests/: the tiny student and its tokenizer

    from xmr_desktop.engine.tower_embedder import TextTowerEmbedder
    from xmr_desktop.learn.distill import DistillConfig, ParallelPairs, distill_text, load_student
    from xmr_desktop.learn.evaluate import evaluate

    started = time.monotonic()
    items = scenes.all_scenes()
    rng = np.random.default_rng(seed + 11)
    a_bg = scenes.Backgrounds(None, np.random.default_rng(seed + 12), plain_share=0.3)
    test_csv = run.write_set(work / "zh_test", [(s, "A") for s in items], rng, a_bg)
    names = [row["image"] for row in csv.DictReader(test_csv.open(encoding="utf-8"))]
    sets = {
        "en": test_csv,
        "zh": _caption_csv(work / "zh_test", "zh.csv", [(n, chinese(s, 0)) for n, s in zip(names, items)]),
        "zh_held_out": _caption_csv(work / "zh_test", "zh_held_out.csv", [(n, chinese(s, 3)) for n, s in zip(names, items)]),
    }
    pairs = {key: run.pairs_of(path) for key, path in sets.items()}
    parallel = ParallelPairs([s.caption("A") for s in items for _ in range(3)],
                             [chinese(s, k) for s in items for k in range(3)], "bilingual scene captions")
    texts = parallel.sources + parallel.targets + [chinese(s, 3) for s in items]
    student_dir = multilingual_models.make_tiny_student(work / "student-encoder", texts, hidden=64)

    rows: list[tuple[str, Any, str]] = []
    rows.append(("teacher (small CLIP), English queries", evaluate(teacher, pairs["en"], cache=db).metrics, ""))
    rows.append(("teacher, Chinese queries", evaluate(teacher, pairs["zh"], cache=db).metrics, ""))
    undistilled = load_student(student_dir, teacher.embed_texts(["a"]).shape[1])
    rng_head = np.random.default_rng(seed)
    undistilled.kernel.assign(rng_head.normal(0, 0.1, size=undistilled.kernel.shape).astype(np.float32))
    rows.append(("undistilled student (random head), Chinese", evaluate(_TowerModel(undistilled, teacher, "raw"), pairs["zh"], cache=db).metrics, ""))

    t = time.monotonic()
    out = work / "models" / "zh-student"
    result = distill_text(teacher, parallel, student=load_student(student_dir, undistilled.dim), save_to=out,
                          config=DistillConfig(epochs=30, lr=3e-4, batch_size=16, patience=8, dropout=False, seed=seed))
    seconds = time.monotonic() - t
    head_only = load_student(student_dir, undistilled.dim)
    from xmr_desktop.learn.distill import _fit_head, _unit  # epoch 0 of the same run, rebuilt for its own row

    head_train = parallel.split_off(0.1, seed=seed)[0]  # distill_text's own split (same fraction and seed)
    _fit_head(head_only, head_train, _unit(teacher.embed_texts(head_train.sources)), True)
    rows.append(("student, head fitted only (epoch 0), Chinese", evaluate(_TowerModel(head_only, teacher, "head"), pairs["zh"], cache=db).metrics, ""))
    student = TextTowerEmbedder(out, "zh-student", teacher)
    note = f"{seconds:.0f}s, best epoch {result.best_epoch}, 0 images embedded"
    for key, label in (("zh", "Chinese"), ("zh_held_out", "Chinese, held-out phrasing"), ("en", "English")):
        report = evaluate(student, pairs[key], cache=db)
        assert report.vectors.embedded == 0, "the distilled student must reuse the teacher's image vectors"
        rows.append((f"**distilled student**, {label}", report.metrics, note if key == "zh" else ""))
    found: dict[str, Any] = {"rows": rows, "distill": {"before": result.before.to_json(), "after": result.after.to_json(),
                                                      "best_epoch": result.best_epoch, "seconds": round(seconds, 1)}}
    if latency:
        found["latency"] = tower_latencies()
    found["seconds"] = round(time.monotonic() - started, 1)
    return found


def tower_latencies(repeats: int = 20) -> dict[str, float]:
    """p50 ms per one-query call of each text tower architecture, random weights, measured in this process."""
    from benchmarks.micro import text_towers
    from xmr_desktop.engine.tower_files import KNOWN_BASES

    run.log("text tower latency: CLIP B/32, multilingual DistilBERT, XLM-R large (random weights)")
    out = {"CLIP ViT-B/32 text tower (openai-b32, datacomp-b32)": text_towers.clip_text_latency(repeats)}
    out["multilingual DistilBERT + Dense (multilingual-b32-small)"] = text_towers.tower_latency(
        text_towers.random_tower(text_towers.DISTILBERT_MULTILINGUAL, 512), repeats)
    out["XLM-R large + projection (mclip-b32, mclip-l14)"] = text_towers.tower_latency(
        text_towers.random_tower(dict(KNOWN_BASES["xlm-roberta-large"]), 512), repeats)
    return out


def print_tables(found: dict[str, Any]) -> None:
    print("\nMultilingual: domain-A test images (one per scene, 40), text → image; the student is distilled from the "
          "teacher's English captions and their Chinese translations, no image seen:\n")
    print("| text → image, bilingual scenes | R@1 | R@5 | R@10 | notes |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, m, note in found["rows"]:
        t = m.text_to_image
        print(f"| {name} | {100 * t.r1:.1f} | {100 * t.r5:.1f} | {100 * t.r10:.1f} | {note} |")
    if "latency" in found:
        print("\n| text tower (random weights), one query padded to 16 tokens | p50 ms | vs CLIP |")
        print("| --- | ---: | ---: |")
        base = next(iter(found["latency"].values()))
        for name, ms in found["latency"].items():
            print(f"| {name} | {ms:.1f} | {ms / base:.1f}× |")
