"""Reading pair files: CSV, COCO captions and Karpathy splits."""

from __future__ import annotations

import json
import random
import re
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


# --- malformed files: a PairsError naming the entry, never a TypeError, AttributeError or RecursionError -----


def _coco() -> dict:
    return {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
            "annotations": [{"image_id": 1, "caption": "a dog"}, {"image_id": 2, "caption": "a cat"}]}


def _karpathy() -> dict:
    return {"images": [{"filename": "a.jpg", "filepath": "x", "split": "train",
                        "sentences": [{"raw": "a dog", "tokens": ["a", "dog"]}]},
                       {"filename": "b.jpg", "split": "test", "sentences": [{"tokens": ["a", "cat"]}]}]}


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda d: d["images"].__setitem__(1, "b.jpg"), "images[1] must be an object"),
        (lambda d: d["images"][0].pop("file_name"), "images[0] has no 'file_name'"),
        (lambda d: d["images"][1].__setitem__("file_name", 7), "images[1]: 'file_name' must be text"),
        (lambda d: d["images"][0].__setitem__("id", [1]), "images[0]: 'id' must be a whole number or text"),
        (lambda d: d["annotations"].__setitem__(0, "a dog"), "annotations[0] must be an object"),
        (lambda d: d["annotations"][1].__setitem__("image_id", 99), "annotations[1] refers to image 99"),
        (lambda d: d["annotations"][1].__setitem__("image_id", {"id": 2}), "annotations[1]: 'image_id'"),
        (lambda d: d["annotations"][0].__setitem__("caption", {"en": "dog"}), "annotations[0]: 'caption' must be text"),
        (lambda d: d.__setitem__("annotations", {"0": {}}), "'annotations' must be a list"),
    ],
)
def test_malformed_coco_entries_are_named(tmp_path: Path, change, named: str) -> None:
    data = _coco()
    change(data)
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PairsError, match=re.escape(named)):
        read_pairs(path, check_files=False)


@pytest.mark.parametrize(
    "change, named",
    [
        (lambda d: d["images"].append(["c.jpg"]), "images[2] must be an object"),
        (lambda d: d["images"][0].__setitem__("sentences", "a dog"), "images[0]: 'sentences' must be a list"),
        (lambda d: d["images"][0]["sentences"].append("a dog"), "images[0].sentences[1] must be an object"),
        (lambda d: d["images"][1]["sentences"][0].__setitem__("tokens", 5), "images[1].sentences[0]: 'tokens'"),
        (lambda d: d["images"][0]["sentences"][0].__setitem__("raw", ["a"]), "images[0].sentences[0]: 'raw'"),
        (lambda d: d["images"][0].__setitem__("filepath", ["x"]), "images[0]: 'filepath' must be text"),
        (lambda d: d["images"][1].__setitem__("filename", None), "images[1]: 'filename' must be text, not null"),
    ],
)
def test_malformed_karpathy_entries_are_named(tmp_path: Path, change, named: str) -> None:
    data = _karpathy()
    change(data)
    path = tmp_path / "dataset_flickr30k.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PairsError, match=re.escape(named)):
        read_pairs(path, check_files=False)
        karpathy_splits(path)


def test_deeply_nested_json_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(PairsError, match="nested too deeply"):
        read_pairs(path)
    with pytest.raises(PairsError):
        karpathy_splits(path)


def test_karpathy_splits_of_a_malformed_file_names_the_entry(tmp_path: Path) -> None:
    data = _karpathy()
    data["images"].append(3)
    path = tmp_path / "k.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PairsError, match=re.escape("images[2] must be an object")):
        karpathy_splits(path)


def test_a_binary_csv_or_an_endless_field_is_a_clear_error(tmp_path: Path) -> None:
    endless = tmp_path / "endless.csv"
    endless.write_text('image,caption\na.jpg,"a dog\nb.jpg,' + "x" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(PairsError, match="endless.csv:"):
        read_pairs(endless, check_files=False)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"image,caption\n\xff\xfe\x00garbage")
    with pytest.raises(PairsError, match="not UTF-8"):
        read_pairs(binary, check_files=False)


@pytest.mark.parametrize("kind", ["coco", "karpathy"])
def test_randomly_damaged_files_raise_only_pairs_errors(tmp_path: Path, kind: str) -> None:
    """Replace values anywhere in a valid file by values of other types: a PairsError or a result, nothing else."""
    rng = random.Random(0)
    replacements = [None, 0, 1.5, True, "", "x", [], [1], {}, {"a": 1}, [[[]]]]

    def slots(node, found):
        if isinstance(node, dict):
            for key in node:
                found.append((node, key))
                slots(node[key], found)
        elif isinstance(node, list):
            for index in range(len(node)):
                found.append((node, index))
                slots(node[index], found)
        return found

    for trial in range(300):
        data = _coco() if kind == "coco" else _karpathy()
        for _ in range(rng.randint(1, 3)):
            parent, key = rng.choice(slots(data, []))
            parent[key] = rng.choice(replacements)
        path = tmp_path / f"{trial}.json"
        path.write_text(json.dumps(data))
        try:
            read_pairs(path, check_files=False)
            karpathy_splits(path)
        except PairsError as error:
            assert "\n" not in str(error)
