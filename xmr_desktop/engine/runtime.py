"""Which runtime computes the embeddings: LiteRT on the CPU, TensorFlow on a GPU; and how many threads.

LiteRT (``ai-edge-litert``, XNNPACK) runs the exported towers about 2× faster per photo than TensorFlow on the
CPU and starts in a fraction of a second, without importing TensorFlow. TensorFlow stays for converting,
training, and GPUs, where it is the faster of the two. ``auto`` therefore picks TensorFlow only when a GPU it
can use is present, and LiteRT everywhere else it is installed. ``XMR_RUNTIME=litert|tensorflow`` overrides.

Whether a GPU is present is first asked of the system, not of TensorFlow: a driver (``/proc/driver/nvidia``,
WSL's ``/dev/dxg``, ROCm's ``/dev/kfd``) plus the GPU libraries TensorFlow loads (the ``gpu`` extra's
``nvidia-cudnn`` wheel or a system cuDNN; ``tensorflow-metal``; ``tensorflow-rocm``). Only when both are there
is TensorFlow imported to confirm it, so a machine without a GPU never pays TensorFlow's seconds of import to
learn it has none.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from functools import cache
from pathlib import Path

from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

RUNTIME_ENV = "XMR_RUNTIME"
RUNTIMES = ("auto", "litert", "tensorflow")


def requested_runtime() -> str:
    """``auto``, ``litert`` or ``tensorflow`` from ``XMR_RUNTIME``; anything else is an error worth stopping for."""
    value = os.environ.get(RUNTIME_ENV, "auto").strip().lower() or "auto"
    if value not in RUNTIMES:
        raise XmrError(f"{RUNTIME_ENV}={value!r}: use one of {', '.join(RUNTIMES)}")
    return value


@cache
def litert_installed() -> bool:
    """Whether the LiteRT runtime can be imported (it has wheels for Linux, Windows and Apple-silicon macOS)."""
    return importlib.util.find_spec("ai_edge_litert") is not None


def _distribution_installed(name: str) -> bool:
    import importlib.metadata  # 0.1 s to import: only where a GPU driver may be present

    try:
        importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def gpu_stack_present() -> bool:
    """Whether this machine has a GPU driver and the libraries TensorFlow would compute on it with (no TF import)."""
    if sys.platform.startswith("linux"):
        nvidia = Path("/proc/driver/nvidia/gpus")
        has_nvidia = (nvidia.is_dir() and any(nvidia.iterdir())) or Path("/dev/nvidia0").exists()
        has_wsl_gpu = Path("/dev/dxg").exists() and Path("/usr/lib/wsl/lib").is_dir()
        if has_nvidia or has_wsl_gpu:
            import ctypes.util

            return importlib.util.find_spec("nvidia.cudnn") is not None or ctypes.util.find_library("cudnn") is not None
        return Path("/dev/kfd").exists() and _distribution_installed("tensorflow-rocm")
    if sys.platform == "darwin":
        return _distribution_installed("tensorflow-metal")
    if sys.platform == "win32":  # TensorFlow 2.11+ has no GPU support on native Windows except this plugin
        return _distribution_installed("tensorflow-directml-plugin")
    return False


@cache
def gpu_present() -> bool:
    """Whether TensorFlow would compute on a GPU here; imports TensorFlow only where a GPU stack exists."""
    if not gpu_stack_present():
        return False
    from xmr_desktop.engine.tf_runtime import has_gpu

    return has_gpu()


def choose_runtime() -> str:
    """``litert`` or ``tensorflow``, for computing embeddings in this process (see the module docstring)."""
    requested = requested_runtime()
    if requested == "litert":
        if not litert_installed():
            raise XmrError(
                f"{RUNTIME_ENV}=litert, but the LiteRT runtime (ai-edge-litert) is not installed; it has no wheel "
                "for this Python and platform (Intel macOS), so use TensorFlow (unset the variable)"
            )
        return "litert"
    if requested == "tensorflow":
        return "tensorflow"
    from xmr_desktop.engine.precision import requested_precision

    if requested_precision() == "bfloat16":  # only TensorFlow computes in bfloat16
        return "tensorflow"
    if not litert_installed():
        return "tensorflow"
    return "tensorflow" if gpu_present() else "litert"


def litert_threads(cpu_count: int | None = None) -> int:
    """Threads for LiteRT's tower while photos decode beside it (``benchmarks/micro/litert_threads.py``).

    All cores: XNNPACK splits each layer across them, and the decode pool (``recommended_decode_workers``) is
    kept small enough that the two do not fight for the cores.
    """
    return max(1, cpu_count if cpu_count is not None else (os.cpu_count() or 1))


def recommended_decode_workers(cpu_count: int | None = None) -> int:
    """Decode threads to run beside a LiteRT tower that uses ``litert_threads`` threads.

    On the CPU the tower is the bottleneck (about 4× the CPU time of a draft-mode JPEG decode per photo at
    float32), so one decoder per four cores keeps it fed; more decoders only preempt the tower's threads.
    """
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, cores // 4)


def runtime_summary() -> dict[str, str]:
    """What ``xmr status`` shows before any model loads: runtime, device and image precision.

    Imports TensorFlow only when TensorFlow is the runtime (it names the GPU); on LiteRT it costs nothing.
    """
    from xmr_desktop.engine.precision import image_compute_dtype, litert_image_precision

    runtime = choose_runtime()
    if runtime == "litert":
        return {
            "runtime": "litert",
            "device": f"CPU ({os.cpu_count() or 1} cores), LiteRT on {litert_threads()} threads",
            "image_precision": litert_image_precision(),
        }
    from xmr_desktop.engine.tf_runtime import compute_device

    return {
        "runtime": "tensorflow",
        "device": f"{compute_device()}, TensorFlow",
        "image_precision": image_compute_dtype(on_gpu=gpu_present()),
    }
