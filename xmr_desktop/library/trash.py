"""Moving confirmed duplicates to the system trash (``send2trash``), never deleting them, and telling the index.

Two steps, so nothing goes without the user's word: :func:`removal_plan` lists what the suggestions (and the
user's changes to them) would remove; :func:`move_to_trash` moves exactly the paths it is given, only with
``confirmed=True``, only photos of the groups it was shown, and never a group's last photo. The paths that did
go to the trash are handed to ``on_removed`` (the core drops their rows from the index), once, after the moves.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from xmr_desktop.errors import XmrError
from xmr_desktop.library.duplicates import SAME_SHOT, DuplicateGroup

log = logging.getLogger(__name__)


class RemovalError(XmrError):
    """A removal that was refused before any file moved (not confirmed, unknown photo, a group left empty)."""


@dataclass(frozen=True)
class TrashReport:
    """What a removal did.

    Attributes:
        trashed: paths now in the system trash (and handed to ``on_removed``).
        failed: ``(path, reason)`` for photos that stayed where they were.
    """

    trashed: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]


def removal_plan(
    groups: Sequence[DuplicateGroup], *, levels: Sequence[str] = (SAME_SHOT,), keep: Mapping[str, bool] | None = None
) -> list[str]:
    """The paths that the suggestions would remove: each group's non-keepers, for groups at ``levels`` (same shot
    only by default: similar photos are different moments, removed only when the user says so through ``keep``).

    ``keep`` maps a path to the user's choice (True: keep it, False: remove it) and wins over the suggestion, in
    any group. Raises :class:`RemovalError` when a group would lose every photo.
    """
    choices = keep or {}
    plan: list[str] = []
    for group in groups:
        removed = [
            m.photo.path
            for m in group.members
            if not choices.get(m.photo.path, m.keep if group.level in levels else True)
        ]
        if len(removed) == len(group.members):
            raise RemovalError(f"keep at least one photo of the group of {group.keeper.path}")
        plan.extend(p for p in removed if p not in plan)
    return plan


def move_to_trash(
    paths: Sequence[str],
    *,
    groups: Sequence[DuplicateGroup],
    confirmed: bool,
    on_removed: Callable[[list[str]], None],
    send: Callable[[str], None] | None = None,
) -> TrashReport:
    """Move ``paths`` to the system trash and hand the ones that moved to ``on_removed``.

    Refused with :class:`RemovalError`, before anything moves, unless ``confirmed`` is True, every path is a
    photo of ``groups``, and every group keeps at least one photo. A photo that cannot be moved (gone, no
    permission, no trash on its drive) is reported in ``failed`` and stays. ``send`` replaces
    ``send2trash.send2trash`` (tests).
    """
    if not confirmed:
        raise RemovalError("nothing was moved to the trash: removing duplicates needs confirmation")
    wanted = list(dict.fromkeys(paths))
    known = {p for g in groups for p in g.paths}
    unknown = [p for p in wanted if p not in known]
    if unknown:
        raise RemovalError(f"not among the duplicates found: {unknown[0]}")
    chosen = set(wanted)
    for group in groups:
        if all(p in chosen for p in group.paths):
            raise RemovalError(f"keep at least one photo of the group of {group.keeper.path}")
    if send is None:
        from send2trash import send2trash as send
    trashed: list[str] = []
    failed: list[tuple[str, str]] = []
    for path in wanted:
        if not os.path.isfile(path):
            failed.append((path, "no longer there"))
            continue
        try:
            send(path)
        except OSError as error:  # send2trash's TrashPermissionError is an OSError too
            failed.append((path, str(error) or type(error).__name__))
            log.warning("could not move %s to the trash: %s", path, error)
            continue
        trashed.append(path)
    log.info("moved %d photos to the trash (%d failed)", len(trashed), len(failed))
    if trashed:
        on_removed(list(trashed))
    return TrashReport(tuple(trashed), tuple(failed))
