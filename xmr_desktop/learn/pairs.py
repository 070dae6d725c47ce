"""Image–caption pair files: a CSV of ``image,caption``, COCO captions JSON, or a Karpathy-split JSON.

- CSV: a header with ``image`` and ``caption`` columns; image paths are relative to the CSV's folder (absolute
  paths work too); an image may appear on several rows, one caption each.
- COCO captions (``captions_val2017.json``): ``images`` with ``id``/``file_name`` and ``annotations`` with
  ``image_id``/``caption``; files are looked up in ``images_dir`` (default: the JSON's folder).
- Karpathy split (``dataset_flickr30k.json``, ``dataset_coco.json``): ``images`` each with ``filename``,
  optional ``filepath``, ``split`` and ``sentences[].raw``. ``split="train"`` also takes ``restval``, as the
  papers do. Files are ``images_dir/filepath/filename`` when that exists, else ``images_dir/filename``.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from xmr_desktop.errors import XmrError

PairFormat = Literal["csv", "coco", "karpathy"]


class PairsError(XmrError):
    """A pairs file that cannot be read or refers to images that are missing."""


@dataclass(frozen=True)
class PairSet:
    """Captioned images.

    Attributes:
        images: unique absolute image paths.
        captions: every caption, in file order.
        caption_image: for caption ``i``, the index into ``images`` of the image it describes.
        source: the file they came from (for reports and model records).
        split: the Karpathy split selected, if any.
    """

    images: list[Path]
    captions: list[str]
    caption_image: np.ndarray
    source: str = ""
    split: str | None = None

    def __len__(self) -> int:
        return len(self.captions)

    def subset(self, image_indices: Sequence[int], source_suffix: str = "") -> PairSet:
        """The pairs of the chosen images only (in the given order), captions re-numbered."""
        remap = {int(old): new for new, old in enumerate(image_indices)}
        keep = [i for i, img in enumerate(self.caption_image) if int(img) in remap]
        return PairSet(
            images=[self.images[int(i)] for i in image_indices],
            captions=[self.captions[i] for i in keep],
            caption_image=np.asarray([remap[int(self.caption_image[i])] for i in keep], dtype=np.int64),
            source=self.source + source_suffix,
            split=self.split,
        )

    def split_off(self, fraction: float, seed: int = 0) -> tuple[PairSet, PairSet]:
        """``(rest, held_out)``: a fixed-seed random ``fraction`` of the *images* (with all their captions).

        Splitting by image, not by caption, keeps an image's other captions out of training when it validates.
        """
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must be in (0, 1), got {fraction}")
        order = list(range(len(self.images)))
        random.Random(seed).shuffle(order)
        n_held = max(1, round(len(order) * fraction))
        if n_held >= len(order):
            raise PairsError(f"{self.source}: too few images ({len(order)}) to hold out a validation set")
        held, rest = sorted(order[:n_held]), sorted(order[n_held:])
        return self.subset(rest, " (train part)"), self.subset(held, f" (held out, seed {seed})")

    def missing_images(self) -> list[Path]:
        return [path for path in self.images if not path.is_file()]


def detect_format(path: Path) -> PairFormat:
    """Tell a pairs file's format from its extension and, for JSON, its keys."""
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return "csv"
    data = _load_json(path)
    return _json_format(path, data)


def read_pairs(
    path: str | Path, *, images_dir: str | Path | None = None, split: str | None = None, check_files: bool = True
) -> PairSet:
    """Read a pairs file of any supported format (see the module docstring).

    ``split`` selects a Karpathy split (``train``, ``val``, ``test``); it is an error for other formats.
    ``check_files`` raises PairsError naming the first missing image and how many are missing.
    """
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise PairsError(f"no such pairs file: {path}")
    base = Path(images_dir).expanduser().resolve() if images_dir is not None else path.parent
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        if split is not None:
            raise PairsError(f"{path.name}: --split applies to Karpathy-split JSON files only")
        pairs = _read_csv(path, base)
    else:
        data = _load_json(path)
        kind = _json_format(path, data)
        if kind == "coco":
            if split is not None:
                raise PairsError(f"{path.name}: --split applies to Karpathy-split JSON files only")
            pairs = _read_coco(path, data, base)
        else:
            pairs = _read_karpathy(path, data, base, split)
    if not pairs.captions:
        raise PairsError(f"{path}: no image–caption pairs" + (f" in split '{split}'" if split else ""))
    if check_files:
        missing = pairs.missing_images()
        if missing:
            raise PairsError(
                f"{len(missing)} of {len(pairs.images)} images in {path.name} are missing, e.g. {missing[0]}"
                + ("" if images_dir is not None or path.suffix.lower() == ".csv" else " (give their folder with --images DIR)")
            )
    return pairs


def karpathy_splits(path: str | Path) -> list[str]:
    """The split names present in a Karpathy JSON (empty for other formats)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return []
    data = _load_json(path)
    if _json_format(path, data) != "karpathy":
        return []
    entries = [_entry(entry, f"{path.name}: images[{i}]") for i, entry in enumerate(data["images"])]
    return sorted({str(entry.get("split", "")) for entry in entries} - {""})


def write_pairs_csv(path: Path, rows: Sequence[tuple[str, str]]) -> None:
    """Write ``(image, caption)`` rows with the header this module reads (used by tests and the benchmark)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        writer.writerows(rows)


# -- readers -----------------------------------------------------------------------------------------------


class _Builder:
    def __init__(self) -> None:
        self.images: list[Path] = []
        self.index: dict[Path, int] = {}
        self.captions: list[str] = []
        self.labels: list[int] = []

    def add(self, image: Path, caption: str) -> None:
        idx = self.index.get(image)
        if idx is None:
            idx = self.index[image] = len(self.images)
            self.images.append(image)
        self.captions.append(caption)
        self.labels.append(idx)

    def build(self, source: Path, split: str | None = None) -> PairSet:
        return PairSet(self.images, self.captions, np.asarray(self.labels, dtype=np.int64), str(source), split)


def _read_csv(path: Path, base: Path) -> PairSet:
    builder = _Builder()
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle, dialect=csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel)
            fields = [name.strip().lower() for name in reader.fieldnames or []]
            if "image" not in fields or "caption" not in fields:
                raise PairsError(f"{path.name}: the first line must be a header with 'image' and 'caption' columns")
            reader.fieldnames = fields
            for line_no, row in enumerate(reader, start=2):
                image, caption = (row.get("image") or "").strip(), (row.get("caption") or "").strip()
                if not image and not caption:
                    continue
                if not image or not caption:
                    raise PairsError(f"{path.name}:{line_no}: a row needs both an image and a caption")
                builder.add(_resolve(base, image), caption)
    except UnicodeDecodeError as error:
        raise PairsError(f"{path.name} is not UTF-8 text: {error}") from error
    except csv.Error as error:
        raise PairsError(f"{path.name}:{reader.line_num}: {error}") from error
    return builder.build(path)


def _read_coco(path: Path, data: dict[str, Any], base: Path) -> PairSet:
    files: dict[int | str, str] = {}
    for i, entry in enumerate(data["images"]):
        where = f"{path.name}: images[{i}]"
        entry = _entry(entry, where)
        files[_key(entry, "id", where)] = _text(entry, "file_name", where)
    builder = _Builder()
    for i, note in enumerate(_list(data, "annotations", path.name)):
        where = f"{path.name}: annotations[{i}]"
        note = _entry(note, where)
        image_id = _key(note, "image_id", where)
        if image_id not in files:
            raise PairsError(f"{where} refers to image {image_id!r}, which is not among the images")
        caption = _text(note, "caption", where).strip()
        if caption:
            builder.add(_resolve(base, files[image_id]), caption)
    return builder.build(path)


def _read_karpathy(path: Path, data: dict[str, Any], base: Path, split: str | None) -> PairSet:
    entries = [_entry(entry, f"{path.name}: images[{i}]") for i, entry in enumerate(data["images"])]
    wanted = None if split is None else ({"train", "restval"} if split == "train" else {split})
    if wanted is not None:
        present = {str(entry.get("split", "")) for entry in entries}
        if not wanted & present:
            raise PairsError(f"{path.name} has no split '{split}' (it has: {', '.join(sorted(present - {''}))})")
    builder = _Builder()
    for i, entry in enumerate(entries):
        if wanted is not None and entry.get("split") not in wanted:
            continue
        where = f"{path.name}: images[{i}]"
        filename = _text(entry, "filename", where)
        folder = entry.get("filepath")
        if folder is not None and not isinstance(folder, str):
            raise PairsError(f"{where}: 'filepath' must be text, not {_kind(folder)}")
        image = base / folder / filename if folder else base / filename
        if not image.is_file() and folder:
            image = base / filename
        sentences = entry.get("sentences")
        if not isinstance(sentences, list):
            raise PairsError(f"{where}: 'sentences' must be a list, not {_kind(sentences)}")
        for j, sentence in enumerate(sentences):
            text = _sentence_text(_entry(sentence, f"{where}.sentences[{j}]"), f"{where}.sentences[{j}]")
            if text:
                builder.add(image, text)
    return builder.build(path, split)


# -- validation: every malformed entry is a PairsError that names it ------------------------------------------


def _entry(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PairsError(f"{where} must be an object with named fields, not {_kind(value)}")
    return value


def _list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise PairsError(f"{where}: '{key}' must be a list, not {_kind(value)}")
    return value


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    if key not in entry:
        raise PairsError(f"{where} has no '{key}'")
    value = entry[key]
    if not isinstance(value, str):
        raise PairsError(f"{where}: '{key}' must be text, not {_kind(value)}")
    return value


def _key(entry: dict[str, Any], key: str, where: str) -> int | str:
    if key not in entry:
        raise PairsError(f"{where} has no '{key}'")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise PairsError(f"{where}: '{key}' must be a whole number or text, not {_kind(value)}")
    return value


def _sentence_text(sentence: dict[str, Any], where: str) -> str:
    raw = sentence.get("raw")
    if raw is not None:
        if not isinstance(raw, str):
            raise PairsError(f"{where}: 'raw' must be text, not {_kind(raw)}")
        if raw.strip():
            return raw.strip()
    tokens = sentence.get("tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        raise PairsError(f"{where}: 'tokens' must be a list of words")
    return " ".join(tokens).strip()


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _resolve(base: Path, name: str) -> Path:
    candidate = Path(name).expanduser()
    return candidate if candidate.is_absolute() else base / candidate


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except RecursionError as error:  # [[[[...]]]] thousands deep: no pairs file looks like that
        raise PairsError(f"cannot read {path.name} as JSON: nested too deeply") from error
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise PairsError(f"cannot read {path.name} as JSON: {error}") from error


def _json_format(path: Path, data: Any) -> PairFormat:
    if isinstance(data, dict) and isinstance(data.get("images"), list):
        if "annotations" in data:
            return "coco"
        # One entry with sentences is enough to tell; the readers then name any entry that is malformed.
        if any(isinstance(e, dict) and "sentences" in e for e in data["images"][:10]):
            return "karpathy"
    raise PairsError(
        f"{path.name} is neither COCO captions JSON (images + annotations) nor a Karpathy split (images[].sentences)"
    )
