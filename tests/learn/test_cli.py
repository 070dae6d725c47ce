"""The learning verbs through their CLI handlers: eval (twice: the second embeds nothing), finetune, concept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.learn.helpers import shape_pairs
from xmr_desktop.cli import main


def run(argv: list[str], data_dir: Path) -> int:
    return main(["--data-dir", str(data_dir), *argv])


def test_eval_finetune_concept(tmp_path: Path, trained_clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    pairs = shape_pairs(tmp_path / "val", per_item=1, seed=4)
    csv = str(tmp_path / "val" / "pairs.csv")

    assert run(["--model", str(trained_clip), "eval", "--pairs", csv, "--json"], data) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["images"] == 12 and first["captions"] == 12
    assert first["image_vectors"]["embedded"] == 12
    assert set(first["text_to_image"]) >= {"r1", "r5", "r10", "median_rank", "mean_rank"}
    assert run(["--model", str(trained_clip), "eval", "--pairs", csv, "--json"], data) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["image_vectors"] == {"from_index": 0, "from_cache": 12, "embedded": 0, "failed": 0}
    assert second["text_to_image"] == first["text_to_image"]

    shape_pairs(tmp_path / "train", per_item=3, seed=5)
    train_csv = str(tmp_path / "train" / "pairs.csv")
    argv = ["--model", str(trained_clip), "finetune", "--pairs", train_csv, "--val", csv, "--out", "mine", "--epochs", "2"]
    assert run(argv, data) == 0
    out = capsys.readouterr().out
    assert "before (base model)" in out and "--model mine" in out
    assert run(argv, data) == 1
    assert "already exists" in capsys.readouterr().err
    # The tuned model is found by its name and evaluates without embedding any image.
    assert run(["--model", "mine", "eval", "--pairs", csv, "--json"], data) == 0
    tuned = json.loads(capsys.readouterr().out)
    assert tuned["image_vectors"]["embedded"] == 0 and tuned["model_id"] == first["model_id"]

    photo = str(pairs.images[0])
    assert run(["--model", str(trained_clip), "concept", "add", "Rex", photo], data) == 0
    capsys.readouterr()
    # Concepts live in the image space, so the tuned model (same model_id) sees them too.
    assert run(["--model", "mine", "concept", "list", "--json"], data) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "Rex"
    assert run(["--model", "mine", "concept", "remove", "rex"], data) == 0
    assert run(["--model", "mine", "concept", "remove", "rex"], data) == 1
    assert "no concept" in capsys.readouterr().err


def test_tuned_model_searches_the_existing_index_without_embedding(
    tmp_path: Path, trained_clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    pairs = shape_pairs(tmp_path / "photos", per_item=2, seed=6)
    assert run(["--model", str(trained_clip), "index", str(tmp_path / "photos")], data) == 0
    shape_pairs(tmp_path / "train", per_item=2, seed=7)
    train = ["finetune", "--pairs", str(tmp_path / "train" / "pairs.csv"), "--out", "tuned", "--epochs", "1"]
    assert run(["--model", str(trained_clip), *train], data) == 0
    capsys.readouterr()
    assert run(["--model", "tuned", "index"], data) == 0
    assert capsys.readouterr().out.startswith("indexed 0 (0 embedded, 0 reused)")
    assert run(["--model", "tuned", "search", "a red circle", "--json", "--top", "1"], data) == 0
    assert Path(json.loads(capsys.readouterr().out)["path"]).name.startswith("red_circle_")

    rex = [str(p) for p in pairs.images if Path(p).name.startswith("blue_square")]
    assert run(["--model", str(trained_clip), "concept", "add", "Rex", *rex], data) == 0
    capsys.readouterr()
    # The name was taught in the base model's image space, which the tuned model shares: a query that is only
    # the name is its prototype, so both models rank the library exactly alike for it.
    assert run(["--model", str(trained_clip), "search", "Rex", "--json", "--top", "5"], data) == 0
    base = [json.loads(line)["path"] for line in capsys.readouterr().out.splitlines()]
    assert run(["--model", "tuned", "search", "Rex", "--json", "--top", "5"], data) == 0
    tuned = [json.loads(line)["path"] for line in capsys.readouterr().out.splitlines()]
    assert tuned == base and set(rex) & set(tuned[:3])
