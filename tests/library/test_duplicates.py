"""Near-duplicates: copies of one shot group together with the original suggested as keeper; "similar" shots are
a separate level; nothing chains into one big group; the pair search finds what an all-pairs search finds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import duplicate_photos as dp
from xmr_desktop.library.duplicates import (
    SAME_SHOT,
    SIMILAR,
    DuplicateSettings,
    Photo,
    find_duplicates,
    keeper_order,
    under_folder,
)
from xmr_desktop.library.near_pairs import near_pairs
from xmr_desktop.library.photo_hash import PerceptualHasher


def photo_of(path: Path, id: int, content_hash: bytes | None = None, taken: float | None = None) -> Photo:
    with Image.open(path) as image:
        width, height = image.size
    return Photo(id, str(path), width, height, path.stat().st_size, path.stat().st_mtime, content_hash, taken)


def save(image: Image.Image, path: Path, **options) -> Path:
    image.save(path, **options)
    return path


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Path]:
    """One shot with four kinds of copies, and three unrelated photos."""
    rng = np.random.default_rng(3)
    folder = tmp_path / "photos"
    folder.mkdir()
    shot = dp.scene(rng)
    paths = {
        "original": save(shot, folder / "IMG_0001.jpg", quality=95),
        "edited": save(dp.recolour(shot, rng), folder / "IMG_0001-edited.jpg", quality=95),
        "small": save(dp.resize(shot, rng), folder / "IMG_0001_small.jpg", quality=90),
        "webp": save(dp.reencode(shot, rng), folder / "IMG_0001.webp", quality=80),
        "cropped": save(dp.crop(shot, rng), folder / "IMG_0001_crop.jpg", quality=90),
    }
    for n in range(3):
        paths[f"other{n}"] = save(dp.scene(rng), folder / f"IMG_01{n}.jpg", quality=90)
    return paths


def test_copies_are_one_shot_and_the_original_is_the_keeper(library: dict[str, Path]) -> None:
    paths = list(library.values())
    photos = [photo_of(p, i) for i, p in enumerate(paths)]
    groups = find_duplicates(photos, dp.pixel_vectors(paths))
    assert [g.level for g in groups] == [SAME_SHOT]
    (group,) = groups
    copies = {str(library[k]) for k in ("original", "edited", "small", "webp", "cropped")}
    assert set(group.paths) == copies
    assert group.keeper.path == str(library["original"])
    assert [m.keep for m in group.members] == [True, False, False, False, False]
    encoded = json.loads(json.dumps(group.to_json()))
    assert encoded["level"] == "same shot"
    assert encoded["photos"][0]["path"] == str(library["original"]) and encoded["photos"][0]["keep"] is True
    assert all(entry["hash_bits"] <= DuplicateSettings().same_shot_bits for entry in encoded["photos"])


def test_a_close_vector_with_a_different_picture_is_similar_not_the_same_shot(library: dict[str, Path]) -> None:
    paths = [library["original"], library["small"], library["other0"], library["other1"]]
    photos = [photo_of(p, i) for i, p in enumerate(paths)]
    vectors = dp.pixel_vectors(paths)
    # The model finds other0 very like the original (the same place), but its pixels are another picture.
    vectors[2] = 0.95 * vectors[0] + np.sqrt(1 - 0.95**2) * _orthogonal(vectors[0])
    groups = find_duplicates(photos, vectors)
    assert [(g.level, set(g.paths)) for g in groups] == [
        (SAME_SHOT, {str(library["original"]), str(library["small"])}),
        (SIMILAR, {str(library["original"]), str(library["other0"])}),  # the shot counts once, by its keeper
    ]


def test_byte_identical_copies_need_no_decoding(tmp_path: Path) -> None:
    first = save(dp.scene(np.random.default_rng(0)), tmp_path / "a.jpg")
    second = Path(shutil.copy(first, tmp_path / "a copy.jpg"))
    photos = [photo_of(first, 0, b"same"), photo_of(second, 1, b"same")]
    hasher = PerceptualHasher()
    groups = find_duplicates(photos, dp.pixel_vectors([first, second]), hasher=hasher)
    assert [(g.level, g.keeper.path) for g in groups] == [(SAME_SHOT, str(first))]  # "copy" is never the keeper
    assert hasher.decoded == 0


def test_flat_photos_are_never_the_same_shot_by_their_hash(tmp_path: Path) -> None:
    # Two different blank frames: their hashes carry no information, so they stay "similar" at most.
    paths = [save(Image.new("RGB", (300, 200), (40, 40, 200 + i)), tmp_path / f"blank{i}.png") for i in range(2)]
    vectors = np.tile(np.array([[1.0, 0.0, 0.0]], np.float32), (2, 1))
    groups = find_duplicates([photo_of(p, i) for i, p in enumerate(paths)], vectors)
    assert [g.level for g in groups] == [SIMILAR]


def test_similar_shots_do_not_chain_into_one_group() -> None:
    # a~b and b~c are similar, a and c are not: complete linkage keeps a and c apart.
    angle = np.deg2rad(20)  # cos 20° = 0.94 > 0.90, cos 40° = 0.77 < 0.90
    vectors = np.array([[1, 0], [np.cos(angle), np.sin(angle)], [np.cos(2 * angle), np.sin(2 * angle)]], np.float32)
    photos = [Photo(i, f"/nowhere/{name}.jpg", 10, 10, 100, 0.0) for i, name in enumerate("abc")]
    groups = find_duplicates(photos, vectors, hasher=PerceptualHasher())
    assert len(groups) == 1 and len(groups[0].members) == 2 and groups[0].level == SIMILAR


def test_keeper_is_the_original_not_the_bigger_copy_or_the_conversion() -> None:
    def photo(path: str, width: int = 4000, height: int = 3000, size: int = 3_000_000, taken: float | None = None) -> Photo:
        return Photo(0, path, width, height, size, 1_700_000_000.0, None, taken)

    def best(*photos: Photo, date_taken=lambda p: p.taken) -> str:
        return min(photos, key=lambda p: keeper_order(p, date_taken)).path

    assert best(photo("/p/a-edited.jpg", 6000, 4000), photo("/p/a.jpg")) == "/p/a.jpg"
    assert best(photo("/p/a (1).jpg"), photo("/p/a copy 2.jpg"), photo("/p/a.jpg", 2000, 1500)) == "/p/a.jpg"
    assert best(photo("/p/small.jpg", 2000, 1500), photo("/p/large.jpg")) == "/p/large.jpg"
    assert best(photo("/p/a.webp"), photo("/p/a.jpg")) == "/p/a.jpg"
    assert best(photo("/p/late.jpg", taken=2.0), photo("/p/early.jpg", taken=1.0)) == "/p/early.jpg"
    # A date function from elsewhere (e.g. EXIF) wins over the stored field.
    exif = {"/p/late.jpg": 0.5}
    assert best(photo("/p/late.jpg", taken=2.0), photo("/p/early.jpg", taken=1.0), date_taken=lambda p: exif.get(p.path, p.taken)) == "/p/late.jpg"


def test_folder_selection() -> None:
    photos = [Photo(0, "/a/b/1.jpg", 1, 1, 1, 0.0), Photo(1, "/a/bc/2.jpg", 1, 1, 1, 0.0), Photo(2, "/a/b/c/3.jpg", 1, 1, 1, 0.0)]
    assert [p.id for p in under_folder(photos, "/a/b")] == [0, 2]


def test_vectors_must_match_the_photos() -> None:
    with pytest.raises(ValueError):
        find_duplicates([Photo(0, "/a.jpg", 1, 1, 1, 0.0)], np.zeros((2, 3), np.float32))


# --- the pair search ---------------------------------------------------------------------------------------


def test_exact_pair_search_matches_a_full_comparison() -> None:
    x, _ = dp.planted_vectors(600)
    found = near_pairs(x, 0.9)
    full = x.astype(np.float32) @ x.astype(np.float32).T
    expected = {(i, j) for i, j in zip(*np.nonzero(full >= 0.9)) if i < j}
    assert found.exact and set(zip(found.first.tolist(), found.second.tolist())) == expected
    assert list(found.score) == sorted(found.score, reverse=True)


def test_clustered_pair_search_finds_the_planted_copies() -> None:
    x, copies = dp.planted_vectors(6000, seed=1)
    exact = near_pairs(x, 0.9, exact_up_to=10**9)
    clustered = near_pairs(x, 0.9, exact_up_to=1000)
    exact_set = set(zip(exact.first.tolist(), exact.second.tolist()))
    clustered_set = set(zip(clustered.first.tolist(), clustered.second.tolist()))
    assert not clustered.exact and clustered_set <= exact_set
    assert copies <= exact_set
    assert len(copies & clustered_set) >= 0.97 * len(copies)


def _orthogonal(v: np.ndarray) -> np.ndarray:
    other = np.roll(v, 1) - np.dot(np.roll(v, 1), v) * v
    return other / np.linalg.norm(other)
