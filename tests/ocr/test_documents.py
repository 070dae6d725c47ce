"""Zero-shot selection of photos worth reading, from stored image vectors and the model's prompt vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.ocr.documents import DOCUMENT_PROMPTS, OTHER_PROMPTS, document_probability, select_documents


def test_images_nearer_the_document_prompts_are_selected() -> None:
    documents = np.array([[1.0, 0.0, 0.0], [0.8, 0.0, 0.6]])
    others = np.array([[0.0, 1.0, 0.0]])
    images = np.array([[0.9, 0.1, 0.2], [0.1, 0.9, 0.0], [0.5, 0.5, 0.0]])
    selected, probability = select_documents(images, documents, others)
    assert selected.tolist() == [True, False, True]  # a tie goes to "document": two prompts share the mass
    assert probability[0] > 0.99 and probability[1] < 0.01
    assert document_probability(np.zeros((0, 3)), documents, others).shape == (0,)


def test_the_prompts_name_documents_screenshots_signs_receipts_and_whiteboards() -> None:
    text = " ".join(DOCUMENT_PROMPTS)
    for kind in ("document", "screenshot", "sign", "receipt", "whiteboard"):
        assert kind in text
    assert not set(DOCUMENT_PROMPTS) & set(OTHER_PROMPTS)


def test_a_prompt_list_may_not_be_empty() -> None:
    with pytest.raises(ValueError, match="at least one"):
        document_probability(np.ones((1, 3)), np.zeros((0, 3)), np.ones((1, 3)))


@pytest.fixture(scope="module")
def document_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.ocr.doc_clip import train_document_clip

    return train_document_clip(tmp_path_factory.mktemp("doc-clip"))


@pytest.mark.slow
def test_a_tiny_clip_trained_on_drawn_documents_selects_documents_and_skips_scenes(document_model: Path) -> None:
    from tests.ocr import doc_clip
    from xmr_desktop.engine.embedder import load_embedder
    from xmr_desktop.engine.preprocess import pixels_for_model

    embedder = load_embedder(str(document_model), Path("/nonexistent"))
    rng = np.random.default_rng(99)  # drawings the model never saw
    kinds = {caption: [draw(rng) for _ in range(12)] for caption, draw in doc_clip.ITEMS.items()}
    pixels = np.stack([pixels_for_model(image, embedder.image_spec) for images in kinds.values() for image in images])
    vectors = embedder.embed_images(pixels)
    selected, _ = select_documents(
        vectors, embedder.embed_texts(doc_clip.DOCUMENT_CAPTIONS), embedder.embed_texts(doc_clip.OTHER_CAPTIONS)
    )
    per_kind = dict(zip(kinds, selected.reshape(len(kinds), 12).mean(axis=1)))
    for caption in doc_clip.DOCUMENT_CAPTIONS:
        assert per_kind[caption] >= 0.8, per_kind
    for caption in doc_clip.OTHER_CAPTIONS:
        assert per_kind[caption] <= 0.2, per_kind
