"""Serving ``xmr`` commands from a running app, so one process writes the index and searches answer at once.

While the window has a data directory open it listens on a local socket: a Unix socket (mode 0600) where the
platform has them, else TCP on 127.0.0.1. Its address and a random key are in ``app-endpoint.json`` in the
data directory, readable only by the user; a client must send the key, so only the same user can connect even
where the socket itself cannot be protected. Each connection carries one request (``core/protocol.py``) and
is served on its own thread, which waits on the core's answer.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

from xmr_desktop.core import commands as c
from xmr_desktop.core import events as e
from xmr_desktop.core import protocol
from xmr_desktop.core.library import PhotoLibrary
from xmr_desktop.engine.registry import resolve_model_argument
from xmr_desktop.errors import XmrError

log = logging.getLogger(__name__)

ENDPOINT_FILE = "app-endpoint.json"
# Unix socket paths are limited to ~104–108 bytes; longer data-dir paths get a socket in a private temp dir.
_MAX_SOCKET_PATH = 100


def endpoint_path(data_dir: Path) -> Path:
    return Path(data_dir) / ENDPOINT_FILE


class LibraryServer:
    """Answers CLI requests with ``library`` until ``close()``.

    Attributes:
        address: the socket path (Unix) or ``host:port`` (TCP) clients connect to.
    """

    def __init__(self, library: PhotoLibrary, data_dir: Path) -> None:
        self._library = library
        self._data_dir = Path(data_dir)
        self._key = secrets.token_hex(32)
        self._sock: socket.socket | None = None
        self._socket_path: Path | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.address = ""

    def start(self) -> None:
        """Listen and publish the endpoint; a failure is logged (the app works without serving the CLI)."""
        try:
            self._listen()
        except OSError as error:
            log.warning("cannot serve the command line: %s", error)
            return
        self._publish()
        self._thread = threading.Thread(target=self._accept_loop, name="xmr-serve", daemon=True)
        self._thread.start()
        log.info("serving xmr commands on %s", self.address)

    def close(self) -> None:
        self._closed.set()
        endpoint = endpoint_path(self._data_dir)
        try:
            if json.loads(endpoint.read_text(encoding="utf-8")).get("pid") == os.getpid():
                endpoint.unlink()
        except (OSError, ValueError):
            pass
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        if self._socket_path is not None:
            self._socket_path.unlink(missing_ok=True)

    # -- listening --------------------------------------------------------------------------------------------

    def _listen(self) -> None:
        if hasattr(socket, "AF_UNIX"):
            path = self._data_dir / "app.sock"
            if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
                import tempfile

                path = Path(tempfile.mkdtemp(prefix="xmr-")) / "app.sock"  # mkdtemp makes it 0700
            path.unlink(missing_ok=True)  # a stale socket of a process that died
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old_umask = os.umask(0o177)  # the socket file is created 0600: no window for others to connect
            try:
                sock.bind(str(path))
            finally:
                os.umask(old_umask)
            self._socket_path = path
            self.address = str(path)
        else:  # Windows without AF_UNIX in this Python: loopback TCP, guarded by the key
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            self.address = f"127.0.0.1:{sock.getsockname()[1]}"
        sock.listen(16)
        sock.settimeout(0.5)
        self._sock = sock

    def _publish(self) -> None:
        record = {"version": protocol.VERSION, "pid": os.getpid(), "address": self.address, "key": self._key,
                  "family": "unix" if self._socket_path is not None else "tcp"}
        endpoint = endpoint_path(self._data_dir)
        temporary = endpoint.with_suffix(".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle)
        os.replace(temporary, endpoint)

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                if self._closed.is_set():
                    return
                continue
            threading.Thread(target=self._serve_connection, args=(conn,), name="xmr-serve-request", daemon=True).start()

    # -- one request -----------------------------------------------------------------------------------------

    def _serve_connection(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            stream = conn.makefile("rwb")
            lock = threading.Lock()  # progress comes from the core's thread, the answer from this one

            def send(record: dict[str, Any]) -> None:
                with lock:
                    _send(stream, record)

            try:
                line = stream.readline(protocol.MAX_LINE_BYTES + 1)
                answer = self._answer(line, send)
            except (OSError, ValueError) as error:
                log.info("a command-line request was dropped: %s", error)
                return
            try:
                send(answer)
            except OSError:
                log.info("the command line went away before its answer")

    def _answer(self, line: bytes, send: Any) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not hmac.compare_digest(str(request.get("key", "")), self._key):
                return {"ok": False, "error": "not authorised", "reason": "auth"}
            if request.get("version") != protocol.VERSION:
                return {"ok": False, "error": "another version of xmr_desktop is running", "reason": "version"}
            command = protocol.decode_command(request.get("command"), request.get("args"))
        except (ValueError, protocol.ProtocolError) as error:
            return {"ok": False, "error": f"bad request: {error}", "reason": "protocol"}
        if not self._serves_model(request.get("model")):
            return {"ok": False, "error": "the app uses another model", "reason": "other-model"}
        unsubscribe = None
        if request.get("stream") and isinstance(command, c.IndexNow):
            def forward(event: e.Event) -> None:
                if isinstance(event, e.IndexingProgress):
                    try:
                        send(protocol.encode_progress(event.progress))
                    except OSError:
                        pass  # the client went away; the app goes on indexing
            unsubscribe = self._library.subscribe(forward)
        try:
            result = self._library.call(command)
        except XmrError as error:
            return {"ok": False, "error": str(error)}
        finally:
            if unsubscribe is not None:
                unsubscribe()
        if isinstance(command, c.GetStatus):
            result = _served_by_app(result)
        return {"ok": True, "result": protocol.encode_value(result)}

    def _serves_model(self, requested: object) -> bool:
        """A request naming another model than the app's is answered by the CLI itself."""
        if requested is None:
            return True
        if not isinstance(requested, str):
            return False
        status = self._library.call(c.GetStatus())
        current = status.model
        if requested in (current.argument, current.name):
            return True
        try:
            ref = resolve_model_argument(requested, self._library.paths.models_dir)
        except XmrError:
            return False
        return ref.argument in (current.argument, current.name) or (ref.spec is not None and ref.spec.name == current.name)


def _served_by_app(status: Any) -> Any:
    import dataclasses

    return dataclasses.replace(status, served_by="app")


def _send(stream: Any, record: dict[str, Any]) -> None:
    stream.write(json.dumps(record, ensure_ascii=True).encode("ascii") + b"\n")
    stream.flush()
