"""Tokenising queries with the ``tokenizers`` library alone, exactly as transformers' fast tokenizer does.

transformers' ``PreTrainedTokenizerFast.__call__(texts, padding="longest", truncation=True, max_length=N)`` sets
truncation and padding on its backend ``tokenizers.Tokenizer`` and calls ``encode_batch``; this module does the
same with the same settings, so the ids and the attention mask are identical (the tests compare them on many
strings) while importing transformers (~1.5 s) is never needed on the query path.

The settings transformers would use (pad id and token, padding and truncation side) are read from the loaded
transformers tokenizer once, when a model is exported (``TokenizerSettings.from_transformers``), and stored
beside the exported ``tokenizer.json``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xmr_desktop.errors import ModelLoadError

TOKENIZER_FILE = "tokenizer.json"


@dataclass(frozen=True)
class TokenizerSettings:
    """What transformers' tokenizer call sets on its backend for ``padding="longest", truncation=True``.

    Attributes:
        max_length: longest sequence, special tokens included (the model's context).
        pad_id, pad_token, pad_type_id: what padding appends.
        padding_side, truncation_side: ``right`` or ``left``.
    """

    max_length: int
    pad_id: int
    pad_token: str
    pad_type_id: int = 0
    padding_side: str = "right"
    truncation_side: str = "right"

    @classmethod
    def from_transformers(cls, tokenizer: Any, max_length: int) -> "TokenizerSettings":
        """Read them from a loaded transformers fast tokenizer, as its ``set_truncation_and_padding`` would."""
        pad_id = tokenizer.pad_token_id
        pad_token = tokenizer.pad_token
        if pad_id is None or pad_token is None:
            # A tokenizer without a pad token cannot pad a batch in transformers either; CLIP's pads with 0.
            pad_id, pad_token = 0, tokenizer.convert_ids_to_tokens(0)
        return cls(
            max_length=int(max_length),
            pad_id=int(pad_id),
            pad_token=str(pad_token),
            pad_type_id=int(getattr(tokenizer, "pad_token_type_id", 0) or 0),
            padding_side=str(tokenizer.padding_side),
            truncation_side=str(tokenizer.truncation_side),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> "TokenizerSettings":
        return cls(**{key: record[key] for key in cls.__dataclass_fields__ if key in record})


def save_backend_tokenizer(tokenizer: Any, path: Path) -> None:
    """Write a transformers fast tokenizer's backend as a plain ``tokenizer.json`` without padding or truncation
    state (a folder with only slow-tokenizer files gets one here: transformers converts them on load)."""
    from tokenizers import Tokenizer

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise ModelLoadError(f"{type(tokenizer).__name__} has no fast (tokenizers) backend to export")
    copy = Tokenizer.from_str(backend.to_str())
    copy.no_padding()
    copy.no_truncation()
    copy.save(str(path))


class TextTokenizer:
    """``texts -> (input_ids, attention_mask)``, int32, padded to the longest text, truncated to ``max_length``.

    Attributes:
        settings: the padding and truncation rules.
    """

    def __init__(self, path: Path, settings: TokenizerSettings) -> None:
        from tokenizers import Tokenizer

        try:
            self._tokenizer = Tokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises its own Exception subclass for unreadable JSON
            raise ModelLoadError(f"cannot read the tokenizer {path}: {error}") from error
        self.settings = settings
        self._tokenizer.enable_truncation(
            max_length=settings.max_length, stride=0, strategy="longest_first", direction=settings.truncation_side
        )
        self._tokenizer.enable_padding(
            direction=settings.padding_side,
            pad_id=settings.pad_id,
            pad_type_id=settings.pad_type_id,
            pad_token=settings.pad_token,
        )

    @classmethod
    def from_folder(cls, folder: Path, settings_record: dict[str, Any]) -> "TextTokenizer":
        return cls(folder / TOKENIZER_FILE, TokenizerSettings.from_json(settings_record))

    def encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(N, L) ids and mask, L the longest encoded text (at most ``max_length``)."""
        encodings = self._tokenizer.encode_batch(list(texts), add_special_tokens=True)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int32).reshape(len(encodings), -1)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int32).reshape(len(encodings), -1)
        return ids, mask


def write_settings(path: Path, settings: TokenizerSettings) -> None:
    path.write_text(json.dumps(settings.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
