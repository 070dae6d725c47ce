"""Shared helpers: where the benchmark keeps its files, statistics, the machine description, memory."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Speed is compared with rclip, which reads no text in photos: xmr's OCR pass stays off in every benchmark run
# (with Tesseract installed, random-weight towers take every photo for a document, and `xmr index` waits for
# the text). benchmarks/ocr_throughput measures OCR on its own.
os.environ.setdefault("XMR_OCR", "off")

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "benchmarks" / ".work"
PROJECT_PYTHON = Path(sys.executable)
XMR = PROJECT_PYTHON.parent / "xmr"
RCLIP_VENV = WORK / "rclip-venv"
RCLIP_PYTHON = RCLIP_VENV / "bin" / "python"
RCLIP_DATA = WORK / "rclip-data"  # the exported ONNX models + tokenizer (a template; each run links to it)
RCLIP_MODEL_SUBDIR = "ViT-B-32-256-datacomp_s34b_b86k"
RCLIP_VOCAB = RCLIP_DATA / "tokenizer" / "bpe_simple_vocab_16e6.txt.gz"
BENCH_VENV = WORK / "bench-venv"  # numpy + faiss-cpu for the search micro-benchmark
MODELS = WORK / "models"
LITERT_MODELS = WORK / "litert-models"  # a models dir holding only the LiteRT exports of MODELS (setup.py)


def median(values: list[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without numpy."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def machine() -> dict[str, Any]:
    """Cores, CPU model, memory, OS and Python: printed with every table."""
    model = "unknown"
    info: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
        model = info.get("model name", "unknown")
        simd = [f for f in ("avx512f", "avx2", "fma") if f in info.get("flags", "").split()]
        model += f" (family {info.get('cpu family', '?')} model {info.get('model', '?')}, {'/'.join(simd) or 'no AVX'})"
    except OSError:
        model = platform.processor() or "unknown"
    mem_gib = 0.0
    try:
        mem_gib = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError):
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(mem_gib, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def rss_mib() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB, from /proc (Linux)."""
    values = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, number = line.split(":")
                values[key] = int(number.split()[0]) / 1024
    except OSError:
        return float("nan"), float("nan")
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def timed_run(command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, log: Path | None = None) -> float:
    """Run a command to completion, output to ``log`` (or discarded); wall seconds. Raises on failure."""
    return timed_run_stats(command, cwd=cwd, env=env, log=log).wall_s


def timed_run_cpu(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, log: Path | None = None
) -> tuple[float, float]:
    """Like ``timed_run``; returns (wall seconds, CPU seconds of the command and its children).

    CPU seconds barely depend on what else the machine runs, so they are a contention-proof second opinion.
    """
    stats = timed_run_stats(command, cwd=cwd, env=env, log=log)
    return stats.wall_s, stats.cpu_s


@dataclass(frozen=True)
class RunStats:
    """One finished command: wall seconds, CPU seconds (its own and its children's), peak resident MiB."""

    wall_s: float
    cpu_s: float
    peak_rss_mib: float


# Runs the measured command as its own child and reports its wall time and resource use. Linux starts a forked
# child's peak-RSS count at its parent's resident size (and keeps it across exec), so a command started straight
# from this process (hundreds of MiB) would report at least that much: the launcher is a small process.
_LAUNCHER = """
import json, os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
wall = time.perf_counter() - started
with open(sys.argv[1], "w") as out:
    json.dump({"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mib": usage.ru_maxrss / 1024}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_run_stats(
    command: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None, log: Path | None = None
) -> RunStats:
    """Run a command to completion and measure it: wall and CPU seconds and peak resident memory of the command
    and its children, taken by a small launcher process (see ``_LAUNCHER``; its own start is not counted)."""
    full_env = {**os.environ, **(env or {})}
    out = open(log, "ab") if log else subprocess.DEVNULL
    handle, report = tempfile.mkstemp(prefix="xmr-bench-run-", suffix=".json")
    os.close(handle)
    try:
        launcher = [sys.executable, "-c", _LAUNCHER, report, *map(str, command)]
        result = subprocess.run(launcher, cwd=cwd, env=full_env, stdout=out, stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, command))} failed with exit {result.returncode} (log: {log})")
        stats = json.loads(Path(report).read_text())
    finally:
        if log:
            out.close()
        Path(report).unlink(missing_ok=True)
    return RunStats(stats["wall_s"], stats["cpu_s"], stats["peak_rss_mib"])


def fresh_xmr_datadir(parent: Path, prefix: str = "xmr-") -> Path:
    """An empty xmr data dir whose models folder sees the benchmark models' prepared LiteRT exports.

    The benchmark's models are folders outside any data dir, so xmr keeps their exports in a cache under the
    models dir; linking it in is what a user's models dir looks like after the first run (the one-time export,
    minutes for ViT-B/32, is not what the indexing rows measure; setup prints how long it took).
    """
    from xmr_desktop.engine.litert_files import CACHE_SUBDIR

    datadir = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    (datadir / "models").mkdir()
    (datadir / "models" / CACHE_SUBDIR).symlink_to((LITERT_MODELS / CACHE_SUBDIR).resolve())
    return datadir


def run_json(command: list[str], *, env: dict[str, str] | None = None, log: Path | None = None) -> Any:
    """Run a helper script that prints one JSON document as its last stdout line."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if log:
        with open(log, "a") as handle:
            handle.write(result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# -- noise control ---------------------------------------------------------------------------------------
# Other programs on the machine (another build, a test run) steal cores and make timings meaningless on a
# 2-core box. Each timed run therefore waits for a quiet machine first, and the table reports how much CPU
# other processes used during the measured runs (should be ~0%).


def _cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    return total - idle, total


def machine_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores busy over the next ``seconds`` (0..1)."""
    try:
        busy0, total0 = _cpu_jiffies()
        time.sleep(seconds)
        busy1, total1 = _cpu_jiffies()
    except OSError:
        return 0.0
    return (busy1 - busy0) / max(1, total1 - total0)


def wait_for_quiet(threshold: float = 0.15, max_wait: float | None = None) -> float:
    """Block until the machine is at most ``threshold`` busy (or ``max_wait`` passed); returns the last reading.

    ``max_wait`` defaults to ``$XMR_BENCH_QUIET_WAIT`` seconds, else 60; 0 disables the wait.
    """
    if max_wait is None:
        max_wait = float(os.environ.get("XMR_BENCH_QUIET_WAIT", "60"))
    if max_wait <= 0:
        return 0.0
    deadline = time.monotonic() + max_wait
    busy = machine_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = machine_busy(2.0)
    return busy


class ForeignLoad:
    """Measures CPU used by *other* processes while a block runs: all busy jiffies minus our own and our children's.

    ``share`` is that foreign CPU as a fraction of the machine's capacity during the block.
    """

    def __enter__(self) -> "ForeignLoad":
        self._busy0, self._total0 = _cpu_jiffies()
        self._own0 = _own_cpu_seconds()
        return self

    def __exit__(self, *exc: object) -> None:
        busy1, total1 = _cpu_jiffies()
        ticks = os.sysconf("SC_CLK_TCK")
        own = (_own_cpu_seconds() - self._own0) * ticks
        self.share = max(0.0, (busy1 - self._busy0 - own)) / max(1, total1 - self._total0)


def _own_cpu_seconds() -> float:
    import resource

    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return self_usage.ru_utime + self_usage.ru_stime + children.ru_utime + children.ru_stime
