"""Talking to a running ``xmr-desktop`` over its local socket (see ``core/server.py``).

Standard library and plain data only: ``xmr search`` with the app running answers in the time of one text
encoding, without importing numpy or TensorFlow in this process.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xmr_desktop.core import protocol
from xmr_desktop.core.commands import Command, IndexNow
from xmr_desktop.core.runs import IndexProgress
from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

ENDPOINT_FILE = "app-endpoint.json"
CONNECT_TIMEOUT_S = 1.0


class AppGoneError(XmrError):
    """The app quit or died while it was answering."""


class NotServed(Exception):
    """The running app will not answer this request (another model, another version); do it locally."""


@dataclass(frozen=True)
class Endpoint:
    """Where a running app listens, and the key it wants."""

    pid: int
    family: str
    address: str
    key: str


def find_app(data_dir: Path) -> Endpoint | None:
    """The endpoint of an app serving ``data_dir``, or None when none is running (a stale file is ignored)."""
    path = Path(data_dir) / ENDPOINT_FILE
    try:
        info = path.stat()
        if hasattr(os, "getuid") and (info.st_uid != os.getuid() or info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)):
            log.warning("ignoring %s: it is not private to this user", path)
            return None
        record = json.loads(path.read_text(encoding="utf-8"))
        endpoint = Endpoint(int(record["pid"]), str(record["family"]), str(record["address"]), str(record["key"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.info("ignoring %s: %s", path, error)
        return None
    if not _alive(endpoint.pid):
        log.info("ignoring %s: process %d is gone", path, endpoint.pid)
        return None
    return endpoint


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return os.name == "nt"  # os.kill(pid, 0) is not a probe on Windows; the connection attempt decides
    return True


def _connect(endpoint: Endpoint) -> socket.socket:
    if endpoint.family == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: Any = endpoint.address
    else:
        host, _, port = endpoint.address.rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        target = (host, int(port))
    sock.settimeout(CONNECT_TIMEOUT_S)
    try:
        sock.connect(target)
    except OSError:
        sock.close()
        raise
    sock.settimeout(None)
    return sock


def request(
    endpoint: Endpoint, command: Command, *, model: str | None = None,
    on_progress: Callable[[IndexProgress], None] | None = None,
) -> Any:
    """Ask the app; returns the typed result. Raises NotServed (do it locally), AppGoneError or XmrError."""
    try:
        sock = _connect(endpoint)
    except OSError as error:
        raise NotServed(f"cannot connect: {error}") from error
    line = {
        "version": protocol.VERSION, "key": endpoint.key, "model": model,
        "stream": on_progress is not None and isinstance(command, IndexNow), **protocol.encode_command(command),
    }
    with sock, sock.makefile("rwb") as stream:
        try:
            stream.write(json.dumps(line).encode("utf-8") + b"\n")
            stream.flush()
            while True:
                raw = stream.readline(protocol.MAX_LINE_BYTES + 1)
                if not raw:
                    raise AppGoneError("The xmr-desktop app quit before answering; run the command again.")
                answer = json.loads(raw)
                if "progress" in answer:
                    if on_progress is not None:
                        on_progress(protocol.decode_progress(answer))
                    continue
                break
        except (ConnectionError, OSError) as error:
            raise AppGoneError(f"The xmr-desktop app stopped answering ({error}); run the command again.") from error
        except ValueError as error:
            raise AppGoneError(f"The xmr-desktop app sent an answer this xmr cannot read ({error}).") from error
    if not answer.get("ok"):
        if answer.get("reason") in ("other-model", "version", "auth"):
            raise NotServed(str(answer.get("error")))
        raise XmrError(str(answer.get("error") or "the app refused the request"))
    return protocol.decode_result(command, answer.get("result"))
