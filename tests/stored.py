"""Reading back what a Store holds for a model, the way search streams it (for assertions in tests)."""

from __future__ import annotations

import numpy as np

from xmr_desktop.library.store import FileRecord, Store


def stored_vectors(store: Store, model_id: str) -> tuple[list[FileRecord], np.ndarray]:
    """Every indexed file for ``model_id`` in id order and its vectors as one float32 matrix (N×D, or 0×0)."""
    chunks = list(store.iter_vectors(model_id))
    if not chunks:
        return [], np.zeros((0, 0), np.float32)
    ids = np.concatenate([ids for ids, _ in chunks])
    records = store.records_by_ids(ids)
    return [records[int(i)] for i in ids], np.concatenate([rows for _, rows in chunks]).astype(np.float32)
