"""Bookkeeping of the indexing worker: requests waiting for it, and the totals of one indexing run."""

from __future__ import annotations

import dataclasses
import threading
import time

from xmr_desktop.library.indexer import IndexProgress, IndexReport
from xmr_desktop.library.scanner import ScanReport


class RequestGate:
    """Counts requests posted to the worker and served by it; indexing yields while one is waiting.

    ``posted`` is called by whoever posts (the GUI thread, the watcher thread) *before* the queued signal is
    emitted, ``served`` by the slot when it runs; ``waiting`` is polled by the indexer between files.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._posted = 0
        self._served = 0

    def posted(self) -> None:
        with self._lock:
            self._posted += 1

    def served(self) -> None:
        with self._lock:
            self._served += 1

    def waiting(self) -> bool:
        with self._lock:
            return self._served < self._posted


@dataclasses.dataclass
class IndexRun:
    """One indexing run, which spans many slices (it yields to every search) and possibly several scans.

    Attributes:
        started: ``time.monotonic()`` at the start.
        done: files finished by the slices that ended.
        report: totals so far; what ``finished`` carries.
    """

    started: float = dataclasses.field(default_factory=time.monotonic)
    done: int = 0
    report: IndexReport = dataclasses.field(default_factory=IndexReport)

    def add_scan(self, scan: ScanReport) -> None:
        self.report.unchanged += scan.unchanged
        self.report.removed += scan.removed
        self.report.scan_errors.extend(scan.errors)

    def add_slice(self, last: IndexProgress | None, slice_report: IndexReport) -> None:
        """Fold in a slice that ended, given its last progress (None if it committed nothing)."""
        if last is not None:
            self.done += last.done
        self.report.embedded += slice_report.embedded
        self.report.reused += slice_report.reused
        self.report.skipped += slice_report.skipped

    def progress(self, state: IndexProgress) -> IndexProgress:
        """The run's totals while a slice is at ``state`` (a new object: the indexer reuses its own)."""
        return IndexProgress(
            done=self.done + state.done,
            total=self.done + state.total,
            embedded=self.report.embedded + state.embedded,
            reused=self.report.reused + state.reused,
            skipped=self.report.skipped + state.skipped,
            elapsed=time.monotonic() - self.started,
            current=state.current,
        )

    def finish(self) -> IndexReport:
        self.report.elapsed = time.monotonic() - self.started
        return self.report

    @property
    def did_anything(self) -> bool:
        report = self.report
        return bool(report.embedded or report.reused or report.skipped or report.removed)
