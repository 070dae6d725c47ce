"""Perceptual hashes: copies stay close, other moments of the same place do not; each file is decoded once."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import duplicate_photos as dp
from xmr_desktop.library.duplicates import DuplicateSettings
from xmr_desktop.library.photo_hash import PerceptualHasher, distance, hash_image


def test_copies_are_close_and_other_moments_far() -> None:
    rng = np.random.default_rng(7)
    limit = DuplicateSettings().same_shot_bits
    for _ in range(5):
        first, other_moment = dp.another_moment(dp.scene(rng, (640, 480)), rng, shift=0.25)
        original = hash_image(first)
        assert original is not None
        for name, edit in dp.EDITS.items():
            copy = hash_image(edit(first, rng))
            assert copy is not None and distance(original, copy) <= limit, name
        assert distance(original, hash_image(other_moment)) > limit


def test_hashes_are_cached_by_path_size_and_time(tmp_path: Path) -> None:
    path = tmp_path / "a.jpg"
    dp.scene(np.random.default_rng(0)).save(path)
    hasher = PerceptualHasher()
    first = hasher.hash(str(path))
    assert hasher.hash(str(path)) == first and hasher.decoded == 1
    dp.scene(np.random.default_rng(1)).save(path)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    assert hasher.hash(str(path)) != first and hasher.decoded == 2


def test_unreadable_files_have_no_hash(tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a jpeg")
    hasher = PerceptualHasher()
    assert hasher.hash(str(broken)) is None
    assert hasher.hash(str(tmp_path / "missing.jpg")) is None
