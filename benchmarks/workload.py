"""The query workload both tools are measured on: the same synthetic vectors and the same query phrases.

numpy only, so rclip's venv (``peer/rclip_query.py``) imports it as well as the project venv.
"""

from __future__ import annotations

import numpy as np

DIM = 512
FOLDER = "/synthetic/photos"
NOUNS = "dog cat beach mountain birthday cake bicycle sunset forest snow car boat kitchen wedding garden city".split()


def synthetic_vectors(n: int, seed: int = 0) -> np.ndarray:
    """The same N unit vectors for both tools (float32, seeded by N)."""
    rng = np.random.default_rng(seed + n)
    vectors = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):  # chunks keep the float64 temporaries small
        chunk = rng.standard_normal((min(100_000, n - start), DIM))
        vectors[start : start + len(chunk)] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return vectors


def queries(count: int, offset: int = 0) -> list[str]:
    """Distinct, realistic phrases (a cache hit would not be a query)."""
    return [f"a photo of a {NOUNS[i % len(NOUNS)]} number {offset + i}" for i in range(count)]
