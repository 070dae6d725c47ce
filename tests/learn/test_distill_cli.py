"""`xmr finetune --recipe distill` end to end through the command line: a tiny English teacher (trained on drawn
scenes) teaches a tiny random student its captions' Chinese translations; the saved model then finds, over the
teacher's index and without re-embedding a photo, what a Chinese caption says."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import synthetic_shapes
from multilingual_models import bilingual_caption_rows, chinese_caption, make_tiny_student
from xmr_desktop.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_pairs(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("source", "target"))
        writer.writerows(rows)
    return path


def no_dropout(student: Path) -> Path:
    """The tiny random student learns every word from the pairs alone: deterministic steps help it (the
    library's ``DistillConfig(dropout=False)``, said in the encoder's own config)."""
    config = json.loads((student / "config.json").read_text(encoding="utf-8"))
    config.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    (student / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return student


def test_distill_needs_a_student_and_checks_the_pairs_file_first(capsys, tmp_path: Path) -> None:
    pairs = write_pairs(tmp_path / "pairs.csv", [("a red car", "红色的车"), ("a dog", "一只狗")])
    code, _, err = run(capsys, "finetune", "--recipe", "distill", "--pairs", str(pairs), "--out", "zh")
    assert code == 1 and err.strip() == "xmr: error: --recipe distill needs --student ENCODER (a hub id such as xlm-roberta-base, or a local folder)"
    (tmp_path / "bad.csv").write_text("source,target\na red car,红色的车\na dog,\n", encoding="utf-8")
    code, _, err = run(capsys, "finetune", "--recipe", "distill", "--pairs", str(tmp_path / "bad.csv"), "--student", "x", "--out", "zh")
    assert code == 1 and err.strip() == "xmr: error: bad.csv:3: a row needs both a source caption and its translation"


@pytest.mark.slow  # trains a tiny CLIP (shared with other tests) and distills a student: about a minute on 2 cores
def test_distill_through_the_cli_then_search_in_chinese_over_the_teachers_index(
    capsys, tmp_path: Path, trained_model_dir: Path
) -> None:
    items = synthetic_shapes.all_items()
    rows = bilingual_caption_rows(items)
    pairs = write_pairs(tmp_path / "parallel.csv", rows)
    student = no_dropout(make_tiny_student(tmp_path / "student", [t for row in rows for t in row]))
    photos = tmp_path / "photos"
    synthetic_shapes.make_folder(photos, items * 3, rng=np.random.default_rng(3))
    teacher = str(trained_model_dir)

    code, out, err = run(capsys, "--model", teacher, "index", str(photos))
    assert code == 0 and out.startswith(f"indexed {len(items) * 3} "), err

    code, out, err = run(capsys, "--model", teacher, "finetune", "--recipe", "distill", "--pairs", str(pairs),
                         "--student", str(student), "--out", "zh-tiny", "--epochs", "20", "--lr", "3e-4",
                         "--batch-size", "16", "--patience", "6")
    assert code == 0, err
    assert f"{len(rows)} caption pairs" in err and "10% of the pairs held out (seed 0)" in err
    assert "epoch 1/20: loss " in err and ", validation MSE " in err  # a progress line per epoch (not a terminal)
    assert "| before (head fitted only) |" in out and "| after (epoch " in out
    assert "kept epoch " in out
    assert "use it with --model zh-tiny --lang multi (or --lang auto); it shares " in out
    assert "image vectors, so nothing is re-indexed" in out

    # Chinese captions find their photos over the teacher's vectors.
    found = 0
    for colour, shape in items:
        code, out, err = run(capsys, "--model", "zh-tiny", "--lang", "multi", "search", chinese_caption(colour, shape),
                             "--top", "1", "--json")
        assert code == 0, err
        found += Path(json.loads(out)["path"]).name.startswith(f"{colour}_{shape}_")
    assert found >= 0.75 * len(items), f"Chinese captions found their photos {found} times of {len(items)}"

    code, out, err = run(capsys, "--model", "zh-tiny", "index", str(photos))
    assert code == 0 and out.startswith("indexed 0 (0 embedded, 0 reused)"), err  # the teacher's image space
    code, out, _ = run(capsys, "--model", "zh-tiny", "status", "--json")
    status = json.loads(out)
    assert status["language"] == "auto" and status["folders"][0]["indexed"] == len(items) * 3
