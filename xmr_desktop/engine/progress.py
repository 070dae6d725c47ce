"""Progress of getting a model ready, as the CLI and the first-run dialog show it: stages, bytes, speed, time left.

A model install goes through named stages; callers receive ``on_stage(stage, fraction)`` (the same shape as the
LiteRT export's ``progress(stage, fraction)``, which runs as the last stage) and, while files are transferred,
``on_transfer(bytes_done, bytes_total)``. :class:`TransferMeter` turns the latter into a speed and a time left.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

StageProgress = Callable[[str, float], None]
TransferProgress = Callable[[int, int], None]

STAGE_WAIT = "wait"
STAGE_DOWNLOAD = "download"
STAGE_VERIFY = "verify"
STAGE_CONVERT = "convert"
STAGE_PREPARE = "prepare"

STAGE_LABELS = {
    STAGE_WAIT: "Waiting for another xmr download of this model",
    STAGE_DOWNLOAD: "Download",
    STAGE_VERIFY: "Check the downloaded files",
    STAGE_CONVERT: "Convert the weights for TensorFlow",
    STAGE_PREPARE: "Prepare the model for this CPU",
}


def stage_label(stage: str) -> str:
    """The line a user reads for ``stage`` (an unknown stage, say one the export reports, shows as named)."""
    return STAGE_LABELS.get(stage, stage[:1].upper() + stage[1:])


def format_bytes(count: float) -> str:
    if count >= 10**9:
        return f"{count / 10**9:.2f} GB"
    return f"{count / 10**6:,.0f} MB"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


class TransferMeter:
    """Speed and time left of a transfer, from samples of the bytes landed so far.

    The speed is measured over the last ``window_s`` seconds, so it follows a connection that changes pace and
    ignores the bytes a resumed download already had before it started.

    Attributes:
        done: bytes landed at the latest sample.
        total: bytes expected (0: unknown).
    """

    def __init__(self, window_s: float = 8.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s, self._clock = window_s, clock
        self._samples: deque[tuple[float, int]] = deque()
        self.done = 0
        self.total = 0

    def update(self, done: int, total: int) -> None:
        now = self._clock()
        if self._samples and done < self._samples[-1][1]:
            self._samples.clear()  # a fresh transfer: earlier samples say nothing about its pace
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window_s:
            self._samples.popleft()
        self.done, self.total = done, total

    def rate(self) -> float | None:
        """Bytes per second, or None before two samples a moment apart."""
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 - t0 >= 0.5 else None

    def seconds_left(self) -> float | None:
        rate = self.rate()
        if not rate or not self.total or rate <= 0:
            return None
        return max(0.0, (self.total - self.done) / rate)

    def describe(self) -> str:
        """"312 MB of 605 MB · 4.2 MB/s · about 1 min left" (parts the meter cannot know yet are left out)."""
        parts = [f"{format_bytes(self.done)} of {format_bytes(self.total)}" if self.total else format_bytes(self.done)]
        rate, left = self.rate(), self.seconds_left()
        if rate is not None:
            parts.append(f"{rate / 10**6:.1f} MB/s")
        if left is not None:
            parts.append(f"about {format_duration(left)} left")
        return " · ".join(parts)
