"""Cross-lingual distillation: a tiny student learns Chinese from a tiny English teacher and finds what it says."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import synthetic_shapes
from multilingual_models import bilingual_caption_rows, chinese_caption, make_tiny_student
from xmr_desktop.engine.embedder import ClipEmbedder, load_embedder
from xmr_desktop.engine.loading import ModelFiles, read_model_id
from xmr_desktop.learn.distill import DistillConfig, distill_text, read_parallel_csv
from xmr_desktop.learn.pairs import PairsError


def _write_csv(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("source", "target")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_parallel_csv_rows_are_validated_with_the_row_named(tmp_path: Path) -> None:
    good = read_parallel_csv(_write_csv(tmp_path / "ok.csv", [("a red car", "红色的车"), ("a dog", "一只狗")]))
    assert good.sources == ["a red car", "a dog"] and good.targets == ["红色的车", "一只狗"]
    with pytest.raises(PairsError, match=r"bad\.csv:3: a row needs both"):
        read_parallel_csv(_write_csv(tmp_path / "bad.csv", [("a red car", "红色的车"), ("a dog", "")]))
    with pytest.raises(PairsError, match=r"header\.csv:1: the first line must be the header 'source,target'"):
        read_parallel_csv(_write_csv(tmp_path / "header.csv", [("a", "b")], header=("english", "chinese")))
    (tmp_path / "cols.csv").write_text("source,target\na red car,红色的车\na dog, big,一只大狗\n", encoding="utf-8")
    with pytest.raises(PairsError, match=r"cols\.csv:3: expected 2 columns, got 3"):
        read_parallel_csv(tmp_path / "cols.csv")
    (tmp_path / "latin1.csv").write_bytes("source,target\ncaf\xe9,x\n".encode("latin-1"))
    with pytest.raises(PairsError, match="not UTF-8"):
        read_parallel_csv(tmp_path / "latin1.csv")


@pytest.mark.slow  # trains a tiny CLIP and a student: about a minute on 2 cores
def test_student_distilled_from_an_english_teacher_finds_chinese_captions(tmp_path: Path, trained_model_dir: Path) -> None:
    items = synthetic_shapes.all_items()
    rows = bilingual_caption_rows(items)
    pairs = read_parallel_csv(_write_csv(tmp_path / "parallel.csv", rows))
    student_dir = make_tiny_student(tmp_path / "student", [t for row in rows for t in row])
    teacher = ClipEmbedder(ModelFiles(trained_model_dir, "tiny-teacher", read_model_id(trained_model_dir))).load()
    models_dir = tmp_path / "models"
    result = distill_text(teacher, pairs, student=student_dir, save_to=models_dir / "zh-tiny",
                          config=DistillConfig(epochs=20, lr=3e-4, batch_size=16, patience=6, dropout=False))
    assert result.after.mse <= result.before.mse  # the best epoch is kept; epoch 0 is the fitted head

    # Search photos the teacher indexed, with Chinese captions, through the saved model loaded by its name.
    rng = np.random.default_rng(3)
    photos = synthetic_shapes.make_folder(tmp_path / "photos", items * 3, rng=rng)
    from xmr_desktop.learn.image_vectors import image_vectors

    index, ok, _ = image_vectors(photos, teacher)
    assert ok.all()
    student = load_embedder("zh-tiny", models_dir)
    assert student.model_id == teacher.model_id  # the teacher's image space: nothing to re-index
    labels = np.asarray([i for i in range(len(items))] * 3)

    def hits(vectors: np.ndarray) -> float:
        return float(np.mean(labels[np.argmax(vectors @ index.T, axis=1)] == np.arange(len(items))))

    chinese = [chinese_caption(c, s) for c, s in items]
    found = hits(student.embed_texts(chinese))
    assert found >= 0.75, f"Chinese captions found their photos only {found:.0%} of the time"
    assert hits(teacher.embed_texts([f"a {c} {s}" for c, s in items])) >= 0.75  # the teacher, in English
    assert hits(teacher.embed_texts(chinese)) < 0.5  # and the teacher cannot read Chinese

    record = json.loads((models_dir / "zh-tiny" / "xmr_model.json").read_text(encoding="utf-8"))
    assert record["recipe"] == "distill" and record["teacher"]["model_id"] == teacher.model_id
    assert record["data"]["train_pairs"] + record["data"]["val_pairs"] == len(rows)
    assert record["metrics"]["val_after"]["mse"] <= record["metrics"]["val_before"]["mse"]
    assert not list(models_dir.glob(".partial-*"))
