"""The wire format between ``xmr`` and a running app: commands, answers and progress as JSON lines.

Only the standard library and plain data classes are imported here: the CLI's path to a running app must not
pay for numpy, Pillow or TensorFlow. A request is one line, ``{"version", "key", "command", "args", "model",
"lang", "stream"}`` (``model`` and ``lang``: what the command line was asked to use, null for the app's own); the app answers with zero or more ``{"event": ...}`` lines (progress, when asked for) and one
final ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "...", "reason": ...}`` line.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from xmr_desktop.core import commands as c
from xmr_desktop.core.duplicate_state import DuplicatesFound, TrashedPhotos
from xmr_desktop.core.runs import IndexProgress, IndexReport
from xmr_desktop.core.state import ConceptInfo, FolderInfo, FolderState, LibraryStatus, ModelInfo
from xmr_desktop.search.answer import SORT_ORDERS, SearchAnswer, SearchFilters

VERSION = 1
MAX_LINE_BYTES = 4 * 2**20
# An answer may be longer than a request: the duplicate groups of a big library are megabytes of JSON. The app
# that sends it is the user's own; the limit only keeps a broken one from filling memory.
MAX_ANSWER_BYTES = 256 * 2**20

# What a running app serves; the rest (eval, finetune, models) the CLI does itself.
REMOTE_COMMANDS: dict[str, type[c.Command]] = {
    cls.__name__: cls
    for cls in (
        c.Search, c.FindSimilar, c.AddFolder, c.RemoveFolder, c.PauseFolder, c.Rescan, c.IndexNow,
        c.SetOcrMode, c.TeachConcept, c.ForgetConcept, c.ListConcepts, c.GetStatus, c.ListSkipped, c.QueryTowers,
        c.FindDuplicates, c.CancelDuplicates, c.TrashPhotos,
    )
}
# The commands whose answer depends on the query-language setting: the app serves them only in the language
# asked for (``core/language.py``'s ``serves_language``); the rest do not embed text.
LANGUAGE_COMMANDS: tuple[type[c.Command], ...] = (c.Search, c.QueryTowers)


class ProtocolError(ValueError):
    """A request or answer that does not follow this format."""


def encode_command(command: c.Command) -> dict[str, Any]:
    return {"command": type(command).__name__, "args": dataclasses.asdict(command)}  # type: ignore[call-overload]


def decode_command(name: object, args: object) -> c.Command:
    """The command named ``name`` with ``args``; ProtocolError for anything not exactly a known command."""
    cls = REMOTE_COMMANDS.get(name) if isinstance(name, str) else None
    if cls is None or not isinstance(args, dict):
        raise ProtocolError(f"unknown command {name!r}")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in args:
            continue
        value = args[f.name]
        if f.name in ("paths", "photos"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ProtocolError(f"{f.name} must be a list of strings")
            value = tuple(value)
        elif f.name == "top_k":
            if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 100_000:
                raise ProtocolError("top_k must be a positive integer")
        elif f.name in ("paused", "confirmed"):
            if not isinstance(value, bool):
                raise ProtocolError(f"{f.name} must be true or false")
        elif f.name == "literal":
            value = _spans(value)
        elif f.name == "filters":
            try:
                value = SearchFilters.from_json(value)
            except (TypeError, ValueError) as error:
                raise ProtocolError(str(error)) from error
        elif f.name == "strictness":
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1):
                raise ProtocolError("strictness must be a number from 0 to 1, or null")
            value = None if value is None else float(value)
        elif f.name == "sort":
            if value not in SORT_ORDERS:
                raise ProtocolError(f"sort must be one of {', '.join(SORT_ORDERS)}")
        elif value is not None and not isinstance(value, str):
            raise ProtocolError(f"{f.name} must be a string")
        values[f.name] = value
    try:
        return cls(**values)
    except TypeError as error:
        raise ProtocolError(f"bad arguments for {name}: {error}") from error


def encode_value(value: Any) -> Any:
    """JSON for a command's result (data classes, lists and tuples of them, plain values)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [encode_value(v) for v in value]
    if isinstance(value, FolderState):
        return value.value
    return value


def decode_result(command: c.Command, data: Any) -> Any:
    """The typed result of ``command`` from its JSON (the inverse of ``encode_value`` for its result type)."""
    try:
        if isinstance(command, (c.Search, c.FindSimilar)):
            return SearchAnswer.from_json(data)
        if isinstance(command, c.IndexNow):
            return _report(data)
        if isinstance(command, c.AddFolder):
            return data  # {"folder": {...}, "absorbed": [...], "created": bool}
        if isinstance(command, c.GetStatus):
            return LibraryStatus(
                [_folder(f) for f in data["folders"]], ModelInfo(**data["model"]), data["activity"],
                dict(data["paths"]), data["served_by"], str(data.get("ocr", "off")), str(data.get("ocr_problem", "")),
            )
        if isinstance(command, c.ListSkipped):
            return [(str(p), str(r)) for p, r in data]
        if isinstance(command, c.TeachConcept):
            return ConceptInfo(**data)
        if isinstance(command, c.ListConcepts):
            return [ConceptInfo(**item) for item in data]
        if isinstance(command, c.QueryTowers):
            return [(str(term), str(tower)) for term, tower in data]
        if isinstance(command, c.FindDuplicates):
            return DuplicatesFound.from_json(data)
        if isinstance(command, c.TrashPhotos):
            return TrashedPhotos.from_json(data)
        return data
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"unexpected answer to {type(command).__name__}: {error}") from error


def encode_progress(progress: IndexProgress) -> dict[str, Any]:
    return {"progress": dataclasses.asdict(progress)}


def decode_progress(data: Any) -> IndexProgress:
    try:
        return IndexProgress(**data["progress"])
    except (KeyError, TypeError) as error:
        raise ProtocolError(f"unexpected progress line: {error}") from error


def _spans(value: object) -> tuple[tuple[int, int], ...]:
    """``[[start, end], ...]`` of non-negative integers, as a tuple of pairs."""
    if not isinstance(value, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in pair)
        for pair in value
    ):
        raise ProtocolError("literal must be a list of [start, end] pairs")
    return tuple((pair[0], pair[1]) for pair in value)


def _folder(data: dict[str, Any]) -> FolderInfo:
    return FolderInfo(**{**data, "state": FolderState(data["state"])})


def _report(data: dict[str, Any]) -> IndexReport:
    lists = ("scan_errors", "skipped_files", "absorbed")
    report = IndexReport(**{k: v for k, v in data.items() if k not in lists})
    report.absorbed = [(str(p), str(r)) for p, r in data.get("absorbed", [])]
    report.scan_errors = [(str(p), str(r)) for p, r in data.get("scan_errors", [])]
    report.skipped_files = [(str(p), str(r)) for p, r in data.get("skipped_files", [])]
    return report
