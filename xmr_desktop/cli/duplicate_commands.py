"""``xmr duplicates``: the near-duplicate groups of the index, the keeper first and why, and with ``--trash --yes``
the suggested copies moved to the system trash.

The groups come from the core (``FindDuplicates``: a running app's, or one opened here), and the trash request
(``TrashPhotos``) goes to the same core, which only accepts photos of groups it found. Nothing moves without
``--yes``: without it the command says what it would move and exits with ``EXIT_NOT_CONFIRMED``. Standard
library only, like the rest of the path to a running app.
"""

from __future__ import annotations

import argparse
import os
import sys

from xmr_desktop.cli.output import json_line, printable, printable_text, warning
from xmr_desktop.config import Paths
from xmr_desktop.core import commands as c
from xmr_desktop.core.duplicate_state import (
    SAME_SHOT,
    SIMILAR,
    DuplicateGroupInfo,
    DuplicatePhoto,
    DuplicatesFound,
    readable_size,
)

EXIT_OK, EXIT_NOT_CONFIRMED = 0, 1
LEVELS = {"same-shot": (SAME_SHOT,), "similar": (SIMILAR,), "all": (SAME_SHOT, SIMILAR)}


def add_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dups = commands.add_parser(
        "duplicates", help="groups of near-identical photos, the suggested keeper first; --trash --yes moves the copies to the trash",
    )
    dups.add_argument("--folder", metavar="PATH", help="only photos inside this folder (of an indexed one)")
    dups.add_argument("--level", choices=tuple(LEVELS), default="all",
                      help="same-shot: copies (re-encoded, resized, cropped, lightly edited, a burst); similar: the same "
                           "place at another moment (never suggested for the trash); all (default)")
    dups.add_argument("--json", action="store_true",
                      help='one JSON object per group: {"level", "photos": [{"path", "keep", "width", "height", "size", '
                           '"taken", "mtime", "cosine", "hash_bits"}], "keeper_reason", "reclaimable"}')
    dups.add_argument("--trash", action="store_true",
                      help="move every same-shot group's photos but the keeper to the system trash (needs --yes)")
    dups.add_argument("--yes", action="store_true", help="confirm --trash: without it nothing moves")


def cmd_duplicates(args: argparse.Namespace, paths: Paths) -> int:
    from xmr_desktop.cli.library_commands import open_library

    folder = os.path.abspath(os.path.expanduser(args.folder)) if args.folder else None
    levels = LEVELS[args.level]
    with open_library(args, paths) as library:
        found: DuplicatesFound = library.call(c.FindDuplicates(folder))
        groups = [g for g in found.groups if g.level in levels]
        for group in groups:
            if args.json:
                print(json_line({**group.to_json(), "reclaimable": group.reclaimable}))
            else:
                print_group(group)
        removals = [path for g in groups for path in g.suggested_removals()]
        freed = sum(g.reclaimable for g in groups)
        if not args.json:
            print(summary(groups, found.photos, freed), file=sys.stderr if args.trash else sys.stdout)
        if not args.trash:
            return EXIT_OK
        if not removals:
            print("nothing to move to the trash", file=sys.stderr)
            return EXIT_OK
        if not args.yes:
            for path in removals:
                print(f"would move to the trash: {printable(path)}", file=sys.stderr)
            print(f"xmr: nothing moved: add --yes to move these {len(removals)} photos ({readable_size(freed)}) "
                  "to the system trash", file=sys.stderr)
            return EXIT_NOT_CONFIRMED
        result = library.call(c.TrashPhotos(tuple(removals), confirmed=True))
    for path, reason in result.failed:
        warning(f"not moved: {printable(path)}: {printable_text(reason)}")
    if args.json:
        print(json_line({"trashed": list(result.trashed), "failed": [list(item) for item in result.failed]}))
    else:
        moved = sum(p.size for g in groups for p in g.photos if p.path in set(result.trashed))
        print(f"moved {len(result.trashed)} photos ({readable_size(moved)}) to the system trash; the index no longer has them")
    return EXIT_OK if not result.failed else EXIT_NOT_CONFIRMED


def print_group(group: DuplicateGroupInfo) -> None:
    """The group's heading, then the keeper (and why) and the others, one line each."""
    count = len(group.photos)
    if group.level == SAME_SHOT:
        heading = f"same shot: {count} photos, {readable_size(group.reclaimable)} reclaimable"
    else:
        heading = f"similar: {count} photos (other moments of one place; none suggested for the trash)"
    print(heading)
    for photo in group.photos:
        mark = "keep " if photo.keep else ("copy " if group.level == SAME_SHOT else "     ")
        size = f"{photo.width}×{photo.height}, {readable_size(photo.size)}" if photo.width else readable_size(photo.size)
        detail = f"because: {group.keeper_reason}" if photo.keep and group.keeper_reason else _closeness(photo)
        print(f"  {mark} {printable(photo.path)}  ({size}){'  ' + detail if detail else ''}")


def _closeness(photo: DuplicatePhoto) -> str:
    """How close a photo is to its group's keeper: image-vector cosine and perceptual-hash distance."""
    closeness = f"cosine {photo.cosine:.3f} to the keeper"
    return closeness if photo.hash_bits is None else f"{closeness}, hash {photo.hash_bits} of 64 bits apart"


def summary(groups: list[DuplicateGroupInfo], photos: int, freed: int) -> str:
    same = sum(g.level == SAME_SHOT for g in groups)
    similar = len(groups) - same
    if not groups:
        return f"no duplicates among {photos} photos"
    return (f"{same} same-shot {'group' if same == 1 else 'groups'}, {similar} similar {'group' if similar == 1 else 'groups'} "
            f"among {photos} photos; {readable_size(freed)} reclaimable (xmr duplicates --trash --yes moves the copies "
            "to the system trash)")
