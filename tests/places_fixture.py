"""One offline gazetteer per test process: building its cache takes a few seconds, so tests share it."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from xmr_desktop.metadata.places import Gazetteer


@functools.cache
def shared_gazetteer() -> Gazetteer:
    directory = Path(tempfile.mkdtemp(prefix="xmr-test-places-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    gazetteer = Gazetteer(directory)
    gazetteer.prepare()
    return gazetteer


def seed_place_cache(cache_dir: Path) -> None:
    """Give a data dir's cache the shared place names cache, so its gazetteer opens in milliseconds."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for built in Path(shared_gazetteer().cache_dir).glob("places-*.sqlite3"):
        shutil.copy(built, cache_dir / built.name)
