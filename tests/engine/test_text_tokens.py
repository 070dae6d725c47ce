"""Query tokenisation on ``tokenizers`` alone gives exactly the ids and mask transformers' tokenizer gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from xmr_desktop.engine.text_tokens import TextTokenizer, TokenizerSettings, save_backend_tokenizer


def _strings() -> list[str]:
    rng = np.random.default_rng(7)
    words = "a red blue circle square photo of dog cat on the beach sunset kids slide grandma's t-shirt".split()
    fixed = [
        "", " ", "   ", "\t\n", "a", "A RED CIRCLE!!!", "kids on a red slide", "t-shirt", "don't we'll I'm they're",
        "café crème brûlée", "naïve façade", "日本語のテキスト", "雪山日落", "Привет мир", "مرحبا", "🙂🐶 dog 👨‍👩‍👧",
        "ﬁ ligature Ⅻ ① ²", "<|endoftext|> inside", "<|startoftext|>", "[CLS] [SEP] [PAD]", "1234567890 3.14 1,000",
        "x" * 500, " ".join(["word"] * 100), "a" * 3 + "  spaced   out  ", "MiXeD CaSe WoRdS", "e\u0301 combining",
        "zero\u200bwidth", "tab\tseparated\tvalues", "line\nbreaks\r\nhere", "#hashtag @mention http://x.org/a?b=c",
    ]
    random_words = [" ".join(rng.choice(words, size=rng.integers(1, 40))) for _ in range(60)]
    ranges = [(0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x4E00, 0x4FFF), (0x1F300, 0x1F64F)]
    random_unicode = []
    for _ in range(60):
        low, high = ranges[rng.integers(len(ranges))]
        random_unicode.append("".join(chr(int(c)) for c in rng.integers(low, high, size=rng.integers(1, 60))))
    return fixed + random_words + random_unicode


def _assert_same(transformers_tokenizer, ours: TextTokenizer, max_length: int) -> None:
    texts = _strings()
    for batch in [[t] for t in texts] + [texts[i : i + 7] for i in range(0, len(texts), 7)] + [texts]:
        theirs = transformers_tokenizer(batch, padding="longest", truncation=True, max_length=max_length, return_tensors="np")
        ids, mask = ours.encode(batch)
        assert ids.dtype == np.int32 and mask.dtype == np.int32
        np.testing.assert_array_equal(ids, theirs["input_ids"], err_msg=repr(batch[:2]))
        np.testing.assert_array_equal(mask, theirs["attention_mask"], err_msg=repr(batch[:2]))
    assert ours.encode(["word " * 500])[0].shape == (1, max_length)  # truncated to the context


def _ours(tokenizer, folder: Path, max_length: int) -> TextTokenizer:
    save_backend_tokenizer(tokenizer, folder / "exported-tokenizer.json")
    return TextTokenizer(folder / "exported-tokenizer.json", TokenizerSettings.from_transformers(tokenizer, max_length))


@pytest.mark.parametrize("max_length", [32, 16])
def test_clip_tokenizer_matches_transformers(tiny_model_dir: Path, tmp_path: Path, max_length: int) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    _assert_same(tokenizer, _ours(tokenizer, tmp_path, max_length), max_length)


def test_a_tokenizer_saved_by_pytorch_matches_transformers(tiny_pt_clip_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_pt_clip_dir))
    _assert_same(tokenizer, _ours(tokenizer, tmp_path, 77), 77)


def test_a_folder_without_tokenizer_json_gets_one_that_matches(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    slow_only = tmp_path / "slow-only"
    slow_only.mkdir()
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy2(tiny_model_dir / name, slow_only / name)
    tokenizer = AutoTokenizer.from_pretrained(str(slow_only))  # transformers converts the slow files
    assert not (slow_only / "tokenizer.json").exists()
    _assert_same(tokenizer, _ours(tokenizer, tmp_path, 32), 32)


def test_bert_tokenizer_of_a_two_tower_model_matches_transformers(tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    from tests.learn.test_two_tower import tiny_bert

    folder = tiny_bert(tmp_path / "bert", "a red blue circle square photo of dog on the beach".split())
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    _assert_same(tokenizer, _ours(tokenizer, tmp_path, 24), 24)
