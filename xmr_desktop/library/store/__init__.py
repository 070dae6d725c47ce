"""The SQLite index: indexed folders, the photo files found in them, and CLIP vectors keyed by content hash.

``schema`` opens and migrates a database, ``store`` is the connection's API, ``vectors`` the float16 BLOBs,
``changes`` the feed that lets a searcher in any process catch up with what others wrote.
"""

from xmr_desktop.library.store.records import (
    AddedFolder,
    CommitOutcome,
    Embedded,
    FileRecord,
    Folder,
    FolderCounts,
    Skipped,
)
from xmr_desktop.library.store.schema import SCHEMA_VERSION, snapshot, transaction
from xmr_desktop.library.store.store import VECTOR_GRACE_S, WRITE_CHUNK, Store
from xmr_desktop.library.store.vectors import VECTOR_DTYPE, vectors_by_hash

__all__ = [
    "AddedFolder", "CommitOutcome", "Embedded", "FileRecord", "Folder", "FolderCounts", "SCHEMA_VERSION", "Skipped",
    "Store", "VECTOR_DTYPE", "VECTOR_GRACE_S", "WRITE_CHUNK", "snapshot", "transaction", "vectors_by_hash",
]
