"""The totals of indexing: progress while it runs, and the report when it ends."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # not at run time: the CLI's path to a running app reads reports without numpy
    from xmr_desktop.library.pipeline import BatchResult
    from xmr_desktop.library.scanner import ScanReport


@dataclass(frozen=True)
class IndexProgress:
    """Where a run is. ``done`` counts files finished (embedded, reused or skipped) out of ``total``."""

    done: int
    total: int
    embedded: int
    reused: int
    skipped: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Files per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, or None before there is a rate."""
        return (self.total - self.done) / self.rate if self.rate > 0 else None


@dataclass
class IndexReport:
    """The outcome of one run.

    Attributes:
        embedded: files whose pixels went through the model.
        reused: files whose content was already embedded (renamed, moved or duplicate photos).
        skipped: files that could not be read as images (reasons are in the store, ``xmr skipped``).
        deferred: files that could not be read now (I/O error, permission, drive gone); they stay pending.
        unchanged: files found unchanged by the scans (cost: one stat each).
        removed: files swept from the index because they are gone.
        elapsed: seconds the run took.
        scan_errors: (path, reason) for folders or entries the scans could not read.
        skipped_files: (path, reason) of each skipped file, in the order they were met.
        absorbed: (folder, inner folder) for each indexed folder that a folder added by this run took over.
    """

    embedded: int = 0
    reused: int = 0
    skipped: int = 0
    deferred: int = 0
    unchanged: int = 0
    removed: int = 0
    elapsed: float = 0.0
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    absorbed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        indexed = self.embedded + self.reused
        text = f"indexed {indexed} ({self.embedded} embedded, {self.reused} reused), unchanged {self.unchanged}, "
        text += f"skipped {self.skipped}, removed {self.removed} in {self.elapsed:.1f} s"
        if self.deferred:
            text += f"; {self.deferred} could not be read now and stay pending"
        return text

    @property
    def did_anything(self) -> bool:
        return bool(self.embedded or self.reused or self.skipped or self.removed or self.deferred)

    def add_scan(self, scan: ScanReport) -> None:
        self.unchanged += scan.unchanged
        self.removed += scan.removed
        self.scan_errors.extend(scan.errors)

    def add_batch(self, batch: BatchResult) -> None:
        self.embedded += batch.embedded
        self.reused += batch.reused
        self.skipped += len(batch.skipped)
        self.deferred += len(batch.deferred)
        self.skipped_files.extend(batch.skipped)


class IndexRun:
    """One indexing run, from the first pending photo until nothing is pending.

    Attributes:
        report: totals so far; what the "finished" event carries.
        total: photos to do in this run (pending at its start, plus what scans added since).
    """

    def __init__(self, pending: int) -> None:
        self.started = time.monotonic()
        self.total = pending
        self.done = 0
        self.report = IndexReport()

    def add_pending(self, count: int) -> None:
        self.total += count

    def add_batch(self, batch: BatchResult) -> None:
        self.report.add_batch(batch)
        self.done += batch.done + len(batch.deferred)
        self.total = max(self.total, self.done)

    def progress(self) -> IndexProgress:
        r = self.report
        return IndexProgress(self.done, self.total, r.embedded, r.reused, r.skipped, time.monotonic() - self.started)

    def finish(self) -> IndexReport:
        self.report.elapsed = time.monotonic() - self.started
        return self.report
