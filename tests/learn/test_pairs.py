"""Reading pair files: CSV, COCO captions and Karpathy splits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xmr_desktop.learn.pairs import PairsError, detect_format, karpathy_splits, read_pairs, write_pairs_csv


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_csv_relative_paths_and_several_captions(tmp_path: Path) -> None:
    touch(tmp_path / "img" / "a.jpg")
    touch(tmp_path / "img" / "b.jpg")
    write_pairs_csv(tmp_path / "pairs.csv", [("img/a.jpg", "a dog"), ("img/b.jpg", "a cat"), ("img/a.jpg", "dog on grass")])
    pairs = read_pairs(tmp_path / "pairs.csv")
    assert pairs.images == [tmp_path / "img" / "a.jpg", tmp_path / "img" / "b.jpg"]
    assert pairs.captions == ["a dog", "a cat", "dog on grass"]
    assert pairs.caption_image.tolist() == [0, 1, 0]
    assert detect_format(tmp_path / "pairs.csv") == "csv"


def test_csv_header_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "bad.csv").write_text("path,text\na.jpg,x\n", encoding="utf-8")
    with pytest.raises(PairsError, match="header"):
        read_pairs(tmp_path / "bad.csv")
    write_pairs_csv(tmp_path / "p.csv", [("missing.jpg", "x")])
    with pytest.raises(PairsError, match="1 of 1 images"):
        read_pairs(tmp_path / "p.csv")
    assert len(read_pairs(tmp_path / "p.csv", check_files=False)) == 1


def test_coco_captions(tmp_path: Path) -> None:
    touch(tmp_path / "imgs" / "000001.jpg")
    touch(tmp_path / "imgs" / "000002.jpg")
    data = {
        "images": [{"id": 1, "file_name": "000001.jpg"}, {"id": 2, "file_name": "000002.jpg"}],
        "annotations": [
            {"id": 10, "image_id": 2, "caption": "a bus "},
            {"id": 11, "image_id": 1, "caption": "a train"},
            {"id": 12, "image_id": 2, "caption": "a red bus"},
        ],
    }
    (tmp_path / "captions.json").write_text(json.dumps(data), encoding="utf-8")
    pairs = read_pairs(tmp_path / "captions.json", images_dir=tmp_path / "imgs")
    assert [p.name for p in pairs.images] == ["000002.jpg", "000001.jpg"]
    assert pairs.captions == ["a bus", "a train", "a red bus"]
    assert pairs.caption_image.tolist() == [0, 1, 0]
    with pytest.raises(PairsError, match="--images"):
        read_pairs(tmp_path / "captions.json")


def test_karpathy_splits(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        touch(tmp_path / "flickr" / name)
    touch(tmp_path / "flickr" / "val2014" / "d.jpg")
    data = {
        "dataset": "flickr30k",
        "images": [
            {"filename": "a.jpg", "split": "train", "sentences": [{"raw": "one"}, {"raw": "two"}]},
            {"filename": "b.jpg", "split": "restval", "sentences": [{"raw": "three"}]},
            {"filename": "c.jpg", "split": "test", "sentences": [{"raw": "four"}, {"tokens": ["five", "words"]}]},
            {"filepath": "val2014", "filename": "d.jpg", "split": "val", "sentences": [{"raw": "six"}]},
        ],
    }
    path = tmp_path / "dataset_flickr30k.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert karpathy_splits(path) == ["restval", "test", "train", "val"]
    train = read_pairs(path, images_dir=tmp_path / "flickr", split="train")  # train includes restval
    assert train.captions == ["one", "two", "three"] and train.split == "train"
    test = read_pairs(path, images_dir=tmp_path / "flickr", split="test")
    assert test.captions == ["four", "five words"] and test.caption_image.tolist() == [0, 0]
    val = read_pairs(path, images_dir=tmp_path / "flickr", split="val")
    assert val.images == [tmp_path / "flickr" / "val2014" / "d.jpg"]
    assert len(read_pairs(path, images_dir=tmp_path / "flickr")) == 6
    with pytest.raises(PairsError, match="no split 'dev'"):
        read_pairs(path, images_dir=tmp_path / "flickr", split="dev")


def test_split_off_is_by_image_and_reproducible(tmp_path: Path) -> None:
    rows = []
    for i in range(20):
        touch(tmp_path / f"{i}.png")
        rows += [(f"{i}.png", f"caption {i} a"), (f"{i}.png", f"caption {i} b")]
    write_pairs_csv(tmp_path / "p.csv", rows)
    pairs = read_pairs(tmp_path / "p.csv")
    train, held = pairs.split_off(0.25, seed=3)
    again_train, again_held = pairs.split_off(0.25, seed=3)
    assert held.images == again_held.images and len(held.images) == 5 and len(train.images) == 15
    assert not set(train.images) & set(held.images)
    assert len(held.captions) == 10  # both captions of each held-out image go with it
    for caption, image in zip(held.captions, held.caption_image):
        assert held.images[image].stem == caption.split()[1]


def test_unknown_json(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(PairsError, match="neither"):
        read_pairs(tmp_path / "x.json")
