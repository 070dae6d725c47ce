"""Removing duplicates: only with confirmation, only photos of the groups shown, never a group's last photo; files
go to the system trash (send2trash, patched here) and the index is told exactly which ones went."""

from __future__ import annotations

from pathlib import Path

import pytest

from xmr_desktop.library.duplicates import SAME_SHOT, SIMILAR, DuplicateGroup, GroupMember, Photo
from xmr_desktop.library.trash import RemovalError, move_to_trash, removal_plan


def group(level: str, *paths: Path) -> DuplicateGroup:
    members = tuple(GroupMember(Photo(i, str(p), 10, 10, 1, 0.0), i == 0, 1.0, 0) for i, p in enumerate(paths))
    return DuplicateGroup(level, members)  # type: ignore[arg-type]


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / f"{name}.jpg" for name in ("a", "a-copy", "a-small", "b", "b2")]
    for path in paths:
        path.write_bytes(b"not really a photo")
    return paths


class FakeTrash:
    """Stands in for send2trash: records what it was asked to move and moves it out of the way."""

    def __init__(self, refuse: set[str] = frozenset()) -> None:
        self.sent: list[str] = []
        self.refuse = refuse

    def __call__(self, path: str) -> None:
        if path in self.refuse:
            raise PermissionError(13, "Permission denied", path)
        self.sent.append(path)
        Path(path).unlink()


def test_the_plan_removes_same_shot_copies_only_unless_told(files: list[Path]) -> None:
    a, copy, small, b, b2 = (str(p) for p in files)
    groups = [group(SAME_SHOT, *files[:3]), group(SIMILAR, *files[3:])]
    assert removal_plan(groups) == [copy, small]
    # The user keeps the small copy and, in the similar group, lets b2 go.
    assert removal_plan(groups, keep={small: True, b2: False}) == [copy, b2]
    with pytest.raises(RemovalError):
        removal_plan(groups, keep={a: False})


def test_nothing_moves_without_confirmation(files: list[Path]) -> None:
    trash, removed = FakeTrash(), []
    groups = [group(SAME_SHOT, *files[:3])]
    with pytest.raises(RemovalError, match="confirmation"):
        move_to_trash([str(files[1])], groups=groups, confirmed=False, on_removed=removed.append, send=trash)
    assert trash.sent == [] and removed == [] and all(p.exists() for p in files)


def test_confirmed_photos_go_to_the_trash_and_the_index_hears_exactly_those(files: list[Path], monkeypatch) -> None:
    trash, removed = FakeTrash(), []
    monkeypatch.setattr("send2trash.send2trash", trash)  # the default sender, patched where it is looked up
    groups = [group(SAME_SHOT, *files[:3]), group(SIMILAR, *files[3:])]
    plan = removal_plan(groups)
    report = move_to_trash(plan, groups=groups, confirmed=True, on_removed=removed.append)
    assert trash.sent == plan == list(report.trashed)
    assert removed == [plan]  # one call, with exactly the trashed paths
    assert report.failed == ()
    assert files[0].exists() and not files[1].exists() and not files[2].exists() and files[3].exists()


def test_a_photo_that_cannot_move_stays_and_is_reported(files: list[Path]) -> None:
    trash, removed = FakeTrash(refuse={str(files[2])}), []
    files[1].unlink()  # deleted by someone else meanwhile
    groups = [group(SAME_SHOT, *files[:3])]
    report = move_to_trash([str(files[1]), str(files[2])], groups=groups, confirmed=True, on_removed=removed.append, send=trash)
    assert report.trashed == () and [path for path, _ in report.failed] == [str(files[1]), str(files[2])]
    assert removed == []  # nothing went to the trash, so the index is not told anything
    assert files[2].exists()


def test_refused_before_anything_moves(files: list[Path], tmp_path: Path) -> None:
    trash, removed = FakeTrash(), []
    groups = [group(SAME_SHOT, *files[:3])]
    stranger = tmp_path / "not-a-duplicate.jpg"
    stranger.write_bytes(b"x")
    with pytest.raises(RemovalError, match="not among"):
        move_to_trash([str(files[1]), str(stranger)], groups=groups, confirmed=True, on_removed=removed.append, send=trash)
    with pytest.raises(RemovalError, match="at least one"):
        move_to_trash([str(p) for p in files[:3]], groups=groups, confirmed=True, on_removed=removed.append, send=trash)
    assert trash.sent == [] and removed == [] and all(p.exists() for p in files)
