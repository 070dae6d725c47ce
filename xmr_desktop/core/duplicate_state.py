"""What ``FindDuplicates`` and ``TrashPhotos`` answer: plain data, standard library only, so the answers cross
the local socket to ``xmr`` without numpy (``core/protocol.py``) and the window shows them as they are.

The JSON of a group is the one ``xmr duplicates --json`` prints (docs/duplicates.md):
``{"level": "same shot" | "similar", "photos": [{"path", "keep", "width", "height", "size", "taken", "mtime",
"cosine", "hash_bits"?}, ...], "keeper_reason": "..."}``, the suggested keeper first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SAME_SHOT = "same shot"
SIMILAR = "similar"


@dataclass(frozen=True)
class DuplicatePhoto:
    """One photo of a group, as found.

    Attributes:
        path: absolute path.
        keep: the suggestion (True for the group's keeper only).
        width, height: pixels (0 when unknown); size: bytes.
        taken: date taken as local ISO 8601 (``2023-07-14T18:02:11``), None when unknown.
        mtime: modification time, seconds since the epoch.
        cosine: image-vector cosine to the keeper (1.0 for the keeper).
        hash_bits: perceptual-hash distance to the keeper (of 64 bits), None when not computed.
    """

    path: str
    keep: bool
    width: int
    height: int
    size: int
    taken: str | None
    mtime: float
    cosine: float
    hash_bits: int | None = None

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "path": self.path, "keep": self.keep, "width": self.width, "height": self.height, "size": self.size,
            "taken": self.taken, "mtime": self.mtime, "cosine": self.cosine,
        }
        if self.hash_bits is not None:
            entry["hash_bits"] = self.hash_bits
        return entry

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicatePhoto:
        bits = data.get("hash_bits")
        return cls(
            str(data["path"]), bool(data["keep"]), int(data["width"]), int(data["height"]), int(data["size"]),
            None if data.get("taken") is None else str(data["taken"]), float(data["mtime"]), float(data["cosine"]),
            None if bits is None else int(bits),
        )


@dataclass(frozen=True)
class DuplicateGroupInfo:
    """Photos that are the same shot, or similar shots of one place; the suggested keeper first.

    Attributes:
        level: ``"same shot"`` (copies: the non-keepers are suggested for the trash) or ``"similar"`` (other
            moments: nothing is suggested for removal).
        photos: the keeper, then the others in keeper order.
        keeper_reason: why the keeper was suggested ("most pixels (4032×3024)", "not named as a copy or an
            edit", "original format (JPEG)", "largest file", "taken first", ...).
    """

    level: str
    photos: tuple[DuplicatePhoto, ...]
    keeper_reason: str = ""

    @property
    def keeper(self) -> DuplicatePhoto:
        return self.photos[0]

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.photos]

    def suggested_removals(self) -> list[str]:
        """What the suggestions alone would move to the trash: the non-keepers of a same-shot group, else nothing."""
        return [p.path for p in self.photos if not p.keep] if self.level == SAME_SHOT else []

    @property
    def reclaimable(self) -> int:
        """Bytes the suggestions would free: the sizes of ``suggested_removals``."""
        return sum(p.size for p in self.photos if not p.keep) if self.level == SAME_SHOT else 0

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "photos": [p.to_json() for p in self.photos], "keeper_reason": self.keeper_reason}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicateGroupInfo:
        level = str(data["level"])
        if level not in (SAME_SHOT, SIMILAR):
            raise ValueError(f"unknown duplicate level {level!r}")
        return cls(level, tuple(DuplicatePhoto.from_json(p) for p in data["photos"]), str(data.get("keeper_reason", "")))


@dataclass(frozen=True)
class DuplicatesFound:
    """The answer to ``FindDuplicates``.

    Attributes:
        groups: same-shot groups first, then similar ones; larger groups first within a level.
        photos: how many indexed photos were compared.
        decoded: how many photos were decoded to hash them in this run (the rest came from the index's cache).
        seconds: how long the search took.
        folder: the folder it was limited to, None for every folder.
    """

    groups: tuple[DuplicateGroupInfo, ...]
    photos: int
    decoded: int
    seconds: float
    folder: str | None = None

    def level(self, level: str) -> list[DuplicateGroupInfo]:
        return [g for g in self.groups if g.level == level]

    def suggested_removals(self) -> list[str]:
        """Every same-shot group's non-keepers: what ``xmr duplicates --trash`` offers to move."""
        return [path for g in self.groups for path in g.suggested_removals()]

    @property
    def reclaimable(self) -> int:
        """Bytes that moving ``suggested_removals`` to the trash would free."""
        return sum(g.reclaimable for g in self.groups)

    def to_json(self) -> dict[str, Any]:
        return {"groups": [g.to_json() for g in self.groups], "photos": self.photos, "decoded": self.decoded,
                "seconds": self.seconds, "folder": self.folder}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicatesFound:
        return cls(
            tuple(DuplicateGroupInfo.from_json(g) for g in data["groups"]), int(data["photos"]), int(data["decoded"]),
            float(data["seconds"]), None if data.get("folder") is None else str(data["folder"]),
        )


@dataclass(frozen=True)
class TrashedPhotos:
    """The answer to ``TrashPhotos``.

    Attributes:
        trashed: paths now in the system trash; they left the index.
        failed: ``(path, reason)`` of photos that stayed where they were (and stay indexed).
        forgotten: index rows removed (a photo not indexed any more when it was trashed removes none).
    """

    trashed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]
    forgotten: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrashedPhotos:
        return cls(
            tuple(str(p) for p in data["trashed"]), tuple((str(p), str(r)) for p, r in data["failed"]),
            int(data["forgotten"]),
        )


def readable_size(count: int) -> str:
    """Bytes for people: "830 B", "412 KB", "3.1 MB", "1.25 GB" (decimal units, as file managers show them)."""
    if count < 1000:
        return f"{count} B"
    if count < 10**6:
        return f"{count / 1000:.0f} KB"
    if count < 10**9:
        return f"{count / 10**6:.1f} MB"
    return f"{count / 10**9:.2f} GB"
