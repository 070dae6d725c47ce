"""Which photos are worth reading: documents, screenshots, signs, receipts, whiteboards, by zero-shot CLIP.

Each stored image vector is compared with the text vectors of :data:`DOCUMENT_PROMPTS` and :data:`OTHER_PROMPTS`
(embedded by the same model, once); a softmax over all prompts at CLIP's temperature gives the share of
belief on "has text to read". No pixels are read again: the vectors are already in the index.
"""

from __future__ import annotations

import numpy as np

DOCUMENT_PROMPTS = (
    "a photo of a document",
    "a scanned page of text",
    "a screenshot",
    "a receipt",
    "an invoice",
    "a photo of a sign with text",
    "a whiteboard with writing",
    "a page of a book",
    "a poster with text",
    "a form filled in by hand",
)
OTHER_PROMPTS = (
    "a photo of a landscape",
    "a photo of people",
    "a photo of an animal",
    "a photo of food",
    "a photo of a building",
    "a photo of a street",
    "a photo of a plant",
    "a photo of a room",
    "a photo of an object",
)
# CLIP's learnt logit scale (exp(4.6052) = 100 in the OpenAI and LAION checkpoints).
CLIP_LOGIT_SCALE = 100.0
DOCUMENT_THRESHOLD = 0.5


def _unit(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)


def document_probability(
    image_vectors: np.ndarray,
    document_vectors: np.ndarray,
    other_vectors: np.ndarray,
    logit_scale: float = CLIP_LOGIT_SCALE,
) -> np.ndarray:
    """Per image (rows of ``image_vectors``), the softmax probability of the document prompts' side.

    ``document_vectors`` and ``other_vectors`` are the model's text vectors for the two prompt lists (any
    prompts; at least one each). Vectors need not be unit length. Returns float32 in [0, 1], shape (N,).
    """
    images = _unit(image_vectors)
    if images.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    documents, others = _unit(document_vectors), _unit(other_vectors)
    if len(documents) == 0 or len(others) == 0:
        raise ValueError("document_probability needs at least one document prompt and one other prompt")
    logits = logit_scale * images @ np.concatenate([documents, others]).T
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return (weights[:, : len(documents)].sum(axis=1) / weights.sum(axis=1)).astype(np.float32)


def select_documents(
    image_vectors: np.ndarray,
    document_vectors: np.ndarray,
    other_vectors: np.ndarray,
    threshold: float = DOCUMENT_THRESHOLD,
    logit_scale: float = CLIP_LOGIT_SCALE,
) -> tuple[np.ndarray, np.ndarray]:
    """``(selected, probability)``: a boolean mask of images scored as documents, and their probabilities."""
    probability = document_probability(image_vectors, document_vectors, other_vectors, logit_scale)
    return probability >= threshold, probability
