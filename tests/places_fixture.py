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
