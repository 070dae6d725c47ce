"""A local stand-in for the Hugging Face hub, on a real HTTP socket, for the download tests.

It answers the requests ``huggingface_hub`` makes to fetch a model: the repository listing at a revision
(``/api/models/<repo>/revision/<rev>?blobs=true``), each file's metadata (``HEAD /<repo>/resolve/<rev>/<file>``)
and the file itself (``GET``, with ``Range`` for resumed downloads). Every request's method, path and headers are
recorded, so tests can check what the client sent. A file can be made to stall after some bytes (to interrupt a
transfer the way a lost connection or a killed process does).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

LFS_THRESHOLD = 10_000  # files this large are served as LFS objects (sha256 etag), like real weights


@dataclass
class FakeRepo:
    """A repository with one commit. ``files`` are served as given; ``listed_sha256`` overrides what the listing
    claims for a file (to play a hub whose bytes changed under the same name)."""

    commit: str
    files: dict[str, bytes]
    listed_sha256: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]


class FakeHub:
    """Serve ``repos`` on 127.0.0.1 until :meth:`close`.

    Attributes:
        url: the endpoint to pass to the client.
        requests: every request received, in order.
        served: bytes sent per file name (body bytes of GETs).
    """

    def __init__(self, repos: dict[str, FakeRepo]) -> None:
        self.repos = repos
        self.requests: list[Request] = []
        self.served: dict[str, int] = {}
        self._stalls: dict[str, tuple[int, threading.Event]] = {}
        self.stalled = threading.Event()
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                return

            def do_HEAD(self) -> None:  # noqa: N802
                hub._handle(self, head=True)

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stall(self, filename: str, after_bytes: int) -> threading.Event:
        """Make GETs of ``filename`` stop after ``after_bytes`` until the returned event is set."""
        release = threading.Event()
        self._stalls[filename] = (after_bytes, release)
        return release

    def unstall(self, filename: str) -> None:
        """Serve ``filename`` whole again (the stalled request, if any, stays stalled until its event is set)."""
        self._stalls.pop(filename, None)

    def close(self) -> None:
        for _after, release in self._stalls.values():
            release.set()
        self._server.shutdown()
        self._server.server_close()

    # -------------------------------------------------------------------------------------------- serving

    def _handle(self, handler: BaseHTTPRequestHandler, *, head: bool) -> None:
        with self._lock:
            self.requests.append(Request(handler.command, handler.path, dict(handler.headers.items())))
        path = handler.path.split("?", 1)[0]
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/([^/]+))?", path)
        if api:
            return self._listing(handler, api.group(1), api.group(2) or "main")
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if resolve:
            return self._file(handler, resolve.group(1), resolve.group(2), resolve.group(3), head=head)
        return self._error(handler, 404, "EntryNotFound")

    def _repo(self, handler: BaseHTTPRequestHandler, repo_id: str, revision: str) -> FakeRepo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(handler, 404, "RepoNotFound")
            return None
        if revision not in ("main", repo.commit):
            self._error(handler, 404, "RevisionNotFound")
            return None
        return repo

    def _listing(self, handler: BaseHTTPRequestHandler, repo_id: str, revision: str) -> None:
        repo = self._repo(handler, repo_id, revision)
        if repo is None:
            return
        siblings = []
        for name, data in repo.files.items():
            entry = {"rfilename": name, "size": len(data), "blobId": _git_blob_sha1(data)}
            if len(data) >= LFS_THRESHOLD:
                entry["lfs"] = {"sha256": repo.listed_sha256.get(name, _sha256(data)), "size": len(data), "pointerSize": 134}
            siblings.append(entry)
        body = json.dumps({"id": repo_id, "modelId": repo_id, "sha": repo.commit, "private": False, "siblings": siblings})
        self._send(handler, 200, body.encode(), {"Content-Type": "application/json"})

    def _file(self, handler: BaseHTTPRequestHandler, repo_id: str, revision: str, name: str, *, head: bool) -> None:
        repo = self._repo(handler, repo_id, revision)
        if repo is None:
            return
        if name not in repo.files:
            return self._error(handler, 404, "EntryNotFound")
        data = repo.files[name]
        lfs = len(data) >= LFS_THRESHOLD
        etag = repo.listed_sha256.get(name, _sha256(data)) if lfs else _git_blob_sha1(data)
        headers = {"X-Repo-Commit": repo.commit, "ETag": f'"{etag}"', "Accept-Ranges": "bytes"}
        if lfs:
            headers["X-Linked-Etag"] = f'"{etag}"'
            headers["X-Linked-Size"] = str(len(data))
        if head:
            return self._send(handler, 200, b"", {**headers, "Content-Length": str(len(data))}, body=False)
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", handler.headers.get("Range", ""))
        if match:
            start = int(match.group(1))
        status = 206 if match else 200
        if match:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        chunk = data[start:]
        handler.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(chunk))}.items():
            handler.send_header(key, value)
        handler.end_headers()
        stall = self._stalls.get(name)
        try:
            if stall is not None and start < stall[0]:
                first = chunk[: stall[0] - start]
                handler.wfile.write(first)
                handler.wfile.flush()
                self._count(name, len(first))
                self.stalled.set()
                stall[1].wait()
                return
            handler.wfile.write(chunk)
            self._count(name, len(chunk))
        except (BrokenPipeError, ConnectionResetError):
            return

    def _count(self, name: str, count: int) -> None:
        with self._lock:
            self.served[name] = self.served.get(name, 0) + count

    def _error(self, handler: BaseHTTPRequestHandler, status: int, code: str) -> None:
        self._send(handler, status, json.dumps({"error": code}).encode(), {"X-Error-Code": code, "Content-Type": "application/json"})

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str], *, body: bool = True) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        if "Content-Length" not in headers:
            handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if body:
            handler.wfile.write(payload)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def repo_from_folder(folder: Path, commit: str, names: list[str] | None = None) -> FakeRepo:
    """A repository holding the files of ``folder`` (all, or ``names``)."""
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and (names is None or p.name in names)}
    return FakeRepo(commit, files)


@contextlib.contextmanager
def online() -> Iterator[None]:
    """The test session runs with HF_HUB_OFFLINE=1 so that nothing reaches the internet; the fake hub is local.

    The client caches its HTTP session per thread, offline or not, so it is rebuilt on the way in and out.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    env_before, constant_before = os.environ.get("HF_HUB_OFFLINE"), constants.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"], constants.HF_HUB_OFFLINE = "0", False
    reset_sessions()
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = constant_before
        if env_before is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = env_before
        reset_sessions()
