"""Child processes when xmr-desktop runs from an installed package rather than from a Python environment.

In the Linux package, /usr/bin/xmr-desktop is briefcase's launcher: a small program that embeds the system
Python. ``sys.executable`` is that launcher, and it always starts the window, whatever arguments it gets; so
a child started by multiprocessing's "spawn" method (the model download) would open a second window
instead of running its function. The package runs on the system Python, so children can be started with
/usr/bin/pythonX.Y instead; multiprocessing hands them the parent's ``sys.path``, i.e. the bundle.

``python -m xmr_desktop.bundled`` (or, in the package, ``BRIEFCASE_MAIN_MODULE=xmr_desktop.bundled
xmr-desktop``) starts one child that way and prints what it ran on: packaging/test-installed-deb uses it.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path


def interpreter_for_children(executable: str | None = None, platform: str | None = None) -> Path | None:
    """The Python that child processes must be started with, or None when ``sys.executable`` is one.

    None also where no system Python matches the running one (briefcase's macOS and Windows bundles carry
    Python as a library only): there, spawned children cannot start.
    """
    executable = sys.executable if executable is None else executable
    platform = sys.platform if platform is None else platform
    if not executable or Path(executable).name.lower().startswith("python") or not platform.startswith("linux"):
        return None
    candidate = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    return candidate if candidate.is_file() else None


def use_interpreter_for_children() -> Path | None:
    """Point multiprocessing's spawn method at the system Python if we run inside the package's launcher."""
    python = interpreter_for_children()
    if python is not None:
        multiprocessing.set_executable(str(python))
    return python


def _child_report(queue: multiprocessing.SimpleQueue) -> None:
    import xmr_desktop

    queue.put(f"child ran on {sys.executable} with xmr_desktop from {Path(xmr_desktop.__file__).parent}")


def main() -> int:
    python = use_interpreter_for_children()
    print(f"parent: {sys.executable}; children start with {python or sys.executable}")
    context = multiprocessing.get_context("spawn")
    queue = context.SimpleQueue()
    child = context.Process(target=_child_report, args=(queue,))
    child.start()
    child.join(120)
    if child.exitcode != 0 or queue.empty():
        print(f"child failed (exit code {child.exitcode})")
        return 1
    print(queue.get())
    return 0


if __name__ == "__main__":
    sys.exit(main())
