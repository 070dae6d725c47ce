"""Near-duplicate photos in two levels: the same shot (copies, re-encodes, resizes, small crops, light edits, a
burst) and similar (the same place at another moment), each group with a suggested keeper.

1. Candidates: pairs whose image vectors have cosine ≥ ``similar_cosine`` (``near_pairs``: no all-pairs matrix).
2. Each candidate pair is confirmed by a perceptual hash (``photo_hash``): at most ``same_shot_bits`` of 64 bits
   apart, with colours no further apart than a light edit, is the same shot; byte-identical files need no hash.
   Only photos in candidate pairs are decoded.
3. Same-shot groups are connected components of confirmed pairs (a burst chains frame to frame). Similar groups
   join distinct shots (a same-shot group counts once, by its keeper) only where every pair of them is a candidate,
   so "all beach photos" never chain into one group.
4. The keeper: not a file named as a copy or an edit ("-edited", " copy", "(1)"), then the most pixels, a camera
   format over conversions (JPEG/HEIC, then PNG/TIFF, then WebP/GIF/BMP), the larger file, the earliest date taken.

Nothing here touches a file: ``trash.py`` moves confirmed photos to the system trash.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from xmr_desktop.library.near_pairs import near_pairs
from xmr_desktop.library.photo_hash import PerceptualHasher, PhotoHash, distance, same_shot

log = logging.getLogger(__name__)

SAME_SHOT = "same shot"
SIMILAR = "similar"
Level = Literal["same shot", "similar"]

# What copy tools and editors append to a name: "IMG_1-edited", "IMG_1 copy 2", "IMG_1 (1)", "IMG_1_bearbeitet".
_COPY_NAME = re.compile(
    r"(?:[-_ .](?:edited|edit|copy|kopie|copie|copia|bearbeitet|modifi[eé]|retouched)(?:[-_ ]?\d+)?|\s?\(\d+\))$",
    re.IGNORECASE,
)
_FORMAT_RANK = {".jpg": 0, ".jpeg": 0, ".heic": 0, ".heif": 0, ".png": 1, ".tif": 1, ".tiff": 1}
_OTHER_FORMATS = 2


@dataclass(frozen=True)
class Photo:
    """What grouping and the keeper choice need of one indexed photo.

    Attributes:
        id: the photo's file id in the index.
        path: absolute path.
        width, height: pixel size after EXIF orientation (0 when unknown).
        size: file size in bytes.
        mtime: modification time, seconds since the epoch.
        content_hash: the index's hash of the bytes (equal hashes are byte-identical copies), or None.
        taken: date taken, seconds since the epoch, or None when unknown.
    """

    id: int
    path: str
    width: int
    height: int
    size: int
    mtime: float
    content_hash: bytes | None = None
    taken: float | None = None

    @classmethod
    def from_record(cls, record: Any, taken: float | None = None) -> Photo:
        """From a store ``FileRecord`` (id, path, width, height, size, mtime_ns, content_hash)."""
        return cls(record.id, record.path, record.width, record.height, record.size, record.mtime_ns / 1e9,
                   record.content_hash, taken)


@dataclass(frozen=True)
class DuplicateSettings:
    """Thresholds; the defaults are discussed in docs/duplicates.md.

    Attributes:
        similar_cosine: image vectors at least this close are compared at all, and form "similar" groups.
        same_shot_bits: perceptual hashes at most this many bits apart (of 64) are the same shot.
    """

    similar_cosine: float = 0.90
    same_shot_bits: int = 12


@dataclass(frozen=True)
class GroupMember:
    """One photo of a group.

    Attributes:
        photo: the photo.
        keep: the suggestion: True for the keeper only.
        cosine: its image-vector cosine to the keeper (1.0 for the keeper).
        hash_bits: perceptual-hash distance to the keeper, None when not computed.
    """

    photo: Photo
    keep: bool
    cosine: float
    hash_bits: int | None


@dataclass(frozen=True)
class DuplicateGroup:
    """Photos that are the same shot, or similar shots; the suggested keeper first.

    Attributes:
        level: ``"same shot"`` or ``"similar"``.
        members: the keeper, then the others in keeper order.
    """

    level: Level
    members: tuple[GroupMember, ...]

    @property
    def keeper(self) -> Photo:
        return self.members[0].photo

    @property
    def paths(self) -> list[str]:
        return [m.photo.path for m in self.members]

    def to_json(self) -> dict[str, Any]:
        """``{"level": ..., "photos": [{"path", "keep", "width", "height", "size", "taken", "cosine", ...}]}``."""
        photos = []
        for m in self.members:
            entry: dict[str, Any] = {
                "path": m.photo.path,
                "keep": m.keep,
                "width": m.photo.width,
                "height": m.photo.height,
                "size": m.photo.size,
                "taken": _iso(m.photo.taken),
                "mtime": m.photo.mtime,
                "cosine": round(m.cosine, 4),
            }
            if m.hash_bits is not None:
                entry["hash_bits"] = m.hash_bits
            photos.append(entry)
        return {"level": self.level, "photos": photos}


def find_duplicates(
    photos: Sequence[Photo],
    vectors: np.ndarray,
    *,
    settings: DuplicateSettings = DuplicateSettings(),
    hasher: PerceptualHasher | None = None,
    date_taken: Callable[[Photo], float | None] | None = None,
) -> list[DuplicateGroup]:
    """Group ``photos`` (row ``i`` of ``vectors`` is photo ``i``'s unit image vector) into duplicate groups.

    Same-shot groups come first, then similar groups; larger groups first within a level. ``date_taken``
    overrides ``Photo.taken`` for the keeper choice (the modification time stands in when it returns None).
    Raises ``ValueError`` when ``vectors`` does not have one row per photo.
    """
    matrix = np.asarray(vectors)
    if matrix.ndim != 2 or matrix.shape[0] != len(photos):
        raise ValueError(f"{len(photos)} photos need {len(photos)} vector rows, got shape {matrix.shape}")
    hasher = hasher if hasher is not None else PerceptualHasher()
    taken = date_taken if date_taken is not None else (lambda photo: photo.taken)
    started = time.monotonic()
    pairs = near_pairs(matrix, settings.similar_cosine)
    hashes: dict[int, PhotoHash | None] = {}

    def hash_of(row: int) -> PhotoHash | None:
        if row not in hashes:
            hashes[row] = hasher.hash(photos[row].path)
        return hashes[row]

    same = _UnionFind(len(photos))
    similar_edges: dict[tuple[int, int], float] = {}
    for a, b, score in zip(pairs.first.tolist(), pairs.second.tolist(), pairs.score.tolist()):
        if _same_shot(photos[a], photos[b], hash_of, a, b, settings.same_shot_bits):
            same.union(a, b)
        else:
            similar_edges[(a, b)] = score

    def member(row: int, keeper_row: int) -> GroupMember:
        bits = None
        if row == keeper_row:
            bits = 0
        elif hashes.get(row) is not None and hashes.get(keeper_row) is not None:
            bits = distance(hashes[row], hashes[keeper_row])  # type: ignore[arg-type]
        cosine = float(np.dot(matrix[row].astype(np.float32), matrix[keeper_row].astype(np.float32)))
        return GroupMember(photos[row], row == keeper_row, min(cosine, 1.0), bits)

    groups: list[DuplicateGroup] = []
    representative: dict[int, int] = {}  # row -> the keeper row of its same-shot group (itself if alone)
    for rows in same.groups():
        ordered = sorted(rows, key=lambda r: keeper_order(photos[r], taken))
        for r in rows:
            representative[r] = ordered[0]
        if len(rows) > 1:
            groups.append(DuplicateGroup(SAME_SHOT, tuple(member(r, ordered[0]) for r in ordered)))
    shot_edges: dict[tuple[int, int], float] = {}
    for (a, b), score in similar_edges.items():
        ra, rb = representative.get(a, a), representative.get(b, b)
        if ra != rb:
            key = (min(ra, rb), max(ra, rb))
            shot_edges[key] = max(score, shot_edges.get(key, -1.0))
    for rows in _complete_linkage(shot_edges):
        ordered = sorted(rows, key=lambda r: keeper_order(photos[r], taken))
        groups.append(DuplicateGroup(SIMILAR, tuple(member(r, ordered[0]) for r in ordered)))
    groups.sort(key=lambda g: (g.level != SAME_SHOT, -len(g.members), g.keeper.path))
    log.info(
        "duplicates among %d photos: %d candidate pairs, %d photos hashed, %d same-shot and %d similar groups in %.1f s",
        len(photos), len(pairs), hasher.decoded, sum(g.level == SAME_SHOT for g in groups),
        sum(g.level == SIMILAR for g in groups), time.monotonic() - started,
    )
    return groups


def _same_shot(first: Photo, second: Photo, hash_of: Callable[[int], PhotoHash | None], a: int, b: int, bits: int) -> bool:
    if first.content_hash is not None and first.content_hash == second.content_hash:
        return True  # byte-identical: nothing to decode
    ha, hb = hash_of(a), hash_of(b)
    return ha is not None and hb is not None and same_shot(ha, hb, bits)


def keeper_order(photo: Photo, date_taken: Callable[[Photo], float | None]) -> tuple:
    """Sort key, best keeper first (see the module docstring)."""
    stem, ext = os.path.splitext(os.path.basename(photo.path))
    taken = date_taken(photo)
    return (
        bool(_COPY_NAME.search(stem)),
        -(photo.width * photo.height),
        _FORMAT_RANK.get(ext.lower(), _OTHER_FORMATS),
        -photo.size,
        taken if taken is not None else photo.mtime,
        len(photo.path),
        photo.path,
    )


def under_folder(photos: Iterable[Photo], folder: str) -> list[Photo]:
    """The photos inside ``folder`` (any depth), for ``xmr duplicates --folder``."""
    root = os.path.abspath(os.path.expanduser(folder)).rstrip(os.sep) + os.sep
    return [p for p in photos if p.path.startswith(root)]


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        """Every set with more than one member, plus nothing for singletons (they need no representative)."""
        out: dict[int, list[int]] = {}
        for x in range(len(self.parent)):
            out.setdefault(self.find(x), []).append(x)
        return [rows for rows in out.values() if len(rows) > 1]


def _complete_linkage(edges: dict[tuple[int, int], float]) -> list[list[int]]:
    """Clusters in which every pair is an edge; the strongest edges join first."""
    cluster_of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for (a, b), _ in sorted(edges.items(), key=lambda item: (-item[1], item[0])):
        ca, cb = cluster_of.get(a), cluster_of.get(b)
        if ca is not None and ca == cb:
            continue
        group_a = members[ca] if ca is not None else [a]
        group_b = members[cb] if cb is not None else [b]
        if not all((min(x, y), max(x, y)) in edges for x in group_a for y in group_b):
            continue
        merged = group_a + group_b
        label = min(merged)
        for cluster in (ca, cb):
            if cluster is not None:
                members.pop(cluster, None)
        members[label] = merged
        for x in merged:
            cluster_of[x] = label
    return [sorted(rows) for rows in members.values()]


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(seconds))
