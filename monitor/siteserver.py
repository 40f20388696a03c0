"""A small, fast, threaded local HTTP server for fixture and demo sites.

Used by ``claimwatch demo``, the tests and the benchmarks; standard library only. It serves the files under a
root folder, like a real shop would:

- ``/dir/`` serves ``dir/index.html``; ``/dir`` (a folder, no slash) redirects 301 to ``/dir/``; anything
  else unknown is a 404. ``robots.txt`` is served from the root when the tree has one.
- Content types by extension (``.html`` is ``text/html; charset=utf-8``, ``.bin`` is
  ``application/octet-stream``). Files are served byte for byte (a page with broken UTF-8 stays broken).
- ``validators=True``: an ``ETag`` (hash of the file bytes, before noise) and ``Last-Modified`` (file mtime),
  with ``If-None-Match`` / ``If-Modified-Since`` answered by 304.
- ``noise=True``: HTML placeholders are filled afresh on every request, as shops do with timestamps, CSRF
  tokens and stock counters:

  ==========================  ==================================  ====================
  placeholder                 noise=True                          noise=False
  ==========================  ==================================  ====================
  ``{{noise:timestamp}}``     current ``YYYY-MM-DD HH:MM:SS``     ``2024-01-01 00:00:00``
  ``{{noise:token}}``         32 random hex digits                ``0`` * 32
  ``{{noise:counter}}``       random integer 2..60                ``12``
  ``{{noise:price}}``         random ``$NN.95``                   ``$49.95``
  ==========================  ==================================  ====================

  and the lines between ``<!-- shuffle -->`` and ``<!-- /shuffle -->`` are shuffled. Convention: ONE
  ELEMENT PER LINE inside a shuffle block (each non-blank line is one sibling element, moved as a whole);
  with noise=False the order is left as written.

Tests steer failures at runtime through four public attributes: ``overrides`` (path -> status, headers,
body, e.g. a 503, a 404 or a 301 with ``Location``), ``delays`` (path -> seconds to sleep first), ``hooks``
(path -> a function called with the path before the answer, to change the world at a known point of a
crawl) and ``requests`` (the log of ``(method, path, headers)``). Keys of ``overrides``, ``delays`` and
``hooks`` match the request path with its query string first, then the path alone.

Example::

    with SiteServer(Path("tests/sites/crawl")) as server:
        urllib.request.urlopen(server.url + "/products/")

From a shell: ``python -m monitor.siteserver DIR [--port N] [--no-validators] [--no-noise] [--seed N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import hashlib
import os
import random
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["SiteServer", "CONTENT_TYPES", "FIXED_NOISE"]

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".json": "application/json",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".pdf": "application/pdf",
    ".bin": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
}
_DEFAULT_TYPE = "application/octet-stream"

# What each placeholder renders as when noise is off, so such a site is byte-for-byte stable.
FIXED_NOISE: dict[bytes, bytes] = {
    b"timestamp": b"2024-01-01 00:00:00",
    b"token": b"0" * 32,
    b"counter": b"12",
    b"price": b"$49.95",
}

_PLACEHOLDER = re.compile(rb"\{\{noise:(timestamp|token|counter|price)\}\}")
_SHUFFLE = re.compile(rb"(<!-- shuffle -->)(.*?)(<!-- /shuffle -->)", re.DOTALL)
_SLASHES = re.compile(r"/{2,}")


@dataclass(frozen=True)
class _CachedFile:
    """A file's bytes and validators, valid while its (mtime_ns, size) do not change."""

    body: bytes
    stamp: tuple[int, int]
    etag: str
    last_modified: str
    mtime: int
    content_type: str
    noisy: bool  # holds placeholders or shuffle blocks, so it is rendered per request


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # a crawler opens its connections all at once (16 in the benchmark): with socketserver's backlog of 5
    # the kernel drops the SYNs past it, and those connections start a second late (TCP's first retry)
    request_queue_size = 128
    site: SiteServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer (timeouts, size limits) are normal in crawl tests: stay quiet.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError | OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as crawlers expect; every answer sets Content-Length
    server_version = "claimwatch-siteserver/1"
    sys_version = ""
    timeout = 30  # idle keep-alive connections end instead of holding a thread forever
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's own, undeclared in typeshed

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.site._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.site._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, *, head: bool) -> None:
        site = self.server.site
        headers = {name: value for name, value in self.headers.items()}
        site._log(self.command, self.path, headers)
        status, out_headers, body = site._respond(self.path, headers)
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name in out_headers):
            self.send_header("Content-Length", str(len(body)))
        # Headers and body in one write: two small writes on a keep-alive socket meet Nagle's algorithm and
        # delayed ACKs, which caps a connection near 25 answers/s.
        self._headers_buffer.append(b"\r\n")
        if not head and body and status not in (204, 304):
            self._headers_buffer.append(body)
        self.flush_headers()


class SiteServer:
    """Serve a folder on ``http://127.0.0.1:<free port>`` (or another loopback address) from a background thread."""

    def __init__(
        self,
        root: Path | str,
        *,
        validators: bool = True,
        noise: bool = True,
        seed: int | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self._root = self._check_root(root)
        self.host = host  # any loopback address: 127.0.1.N gives each test site a host of its own
        self.validators = validators
        self.noise = noise
        self.overrides: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.delays: dict[str, float] = {}
        self.hooks: dict[str, Callable[[str], None]] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._cache: dict[Path, _CachedFile] = {}
        self._cache_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------------------

    def start(self) -> SiteServer:
        """Bind the host (127.0.0.1) on a free port and serve from a daemon thread; returns self."""
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self._port_wanted), _Handler)
        httpd.site = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="siteserver", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._conn_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SiteServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    _port_wanted = 0  # the CLI may ask for a fixed port

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("SiteServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def root(self) -> Path:
        return self._root

    def set_root(self, root: Path | str) -> None:
        """Serve another tree from the next request on (e.g. a site's v1 -> v2)."""
        self._root = self._check_root(root)  # one attribute assignment: atomic for readers

    @staticmethod
    def _check_root(root: Path | str) -> Path:
        path = Path(root).resolve()
        if not path.is_dir():
            raise NotADirectoryError(f"site root is not a folder: {root}")
        return path

    # --- request handling (called from handler threads) -----------------------------------------------

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _log(self, method: str, path: str, headers: dict[str, str]) -> None:
        with self._log_lock:
            self.requests.append((method, path, headers))

    def _lookup(self, table: dict[str, Any], raw_path: str, path: str) -> Any:
        if raw_path in table:
            return table[raw_path]
        return table.get(path)

    def _respond(self, raw_path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(raw_path).path or "/"
        delay = self._lookup(self.delays, raw_path, path)
        if delay:
            time.sleep(float(delay))
        hook = self._lookup(self.hooks, raw_path, path)
        if hook is not None:
            hook(path)
        override = self._lookup(self.overrides, raw_path, path)
        if override is not None:
            status, extra, body = override
            out = dict(extra)
            if not any(name.lower() == "content-type" for name in extra):
                out["Content-Type"] = "text/html; charset=utf-8"
            return status, out, body

        root = self._root
        target = self._resolve(root, path)
        if target is None:
            return self._not_found()
        if target.is_dir():
            if not path.endswith("/"):
                return 301, {"Location": path + "/", "Content-Type": "text/plain"}, b""
            target = target / "index.html"
        cached = self._load(target)
        if cached is None:
            return self._not_found()

        out = {"Content-Type": cached.content_type}
        if self.validators:
            out["ETag"] = cached.etag
            out["Last-Modified"] = cached.last_modified
            if self._not_modified(cached, headers):
                return 304, out, b""
        body = self._render(cached.body) if cached.noisy else cached.body
        return 200, out, body

    @staticmethod
    def _not_found() -> tuple[int, dict[str, str], bytes]:
        body = b"<!DOCTYPE html><html><head><title>Not found</title></head><body><h1>404</h1></body></html>"
        return 404, {"Content-Type": "text/html; charset=utf-8"}, body

    @staticmethod
    def _resolve(root: Path, path: str) -> Path | None:
        rel = _SLASHES.sub("/", unquote(path)).lstrip("/")
        parts = [part for part in rel.split("/") if part]
        if any(part in (".", "..") or "\\" in part or "\x00" in part for part in parts):
            return None
        target = root.joinpath(*parts) if parts else root
        return target if target.exists() else None

    def _load(self, target: Path) -> _CachedFile | None:
        try:
            st = target.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._cache.get(target)
        if cached is not None and cached.stamp == stamp:
            return cached
        try:
            body = target.read_bytes()
        except OSError:
            return None
        content_type = CONTENT_TYPES.get(target.suffix.lower(), _DEFAULT_TYPE)
        mtime = int(st.st_mtime)
        cached = _CachedFile(
            body=body,
            stamp=stamp,
            etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            last_modified=email.utils.formatdate(mtime, usegmt=True),
            mtime=mtime,
            content_type=content_type,
            noisy=content_type.startswith("text/html")
            and (b"{{noise:" in body or b"<!-- shuffle -->" in body),
        )
        with self._cache_lock:
            self._cache[target] = cached
        return cached

    @staticmethod
    def _not_modified(cached: _CachedFile, headers: dict[str, str]) -> bool:
        lower = {name.lower(): value for name, value in headers.items()}
        inm = lower.get("if-none-match")
        if inm is not None:  # takes precedence over If-Modified-Since (RFC 9110 13.2.2)
            tags = [tag.strip().removeprefix("W/") for tag in inm.split(",")]
            return "*" in tags or cached.etag in tags
        ims = lower.get("if-modified-since")
        if ims:
            try:
                since = email.utils.parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
            return cached.mtime <= int(since.timestamp())
        return False

    def _render(self, body: bytes) -> bytes:
        if not self.noise:
            return _PLACEHOLDER.sub(lambda m: FIXED_NOISE[m.group(1)], body)
        with self._rng_lock:
            rng = random.Random(self._rng.getrandbits(64))
        now = datetime.now().strftime("%Y-%m-%d %H:%M:%S").encode()
        fill: dict[bytes, Callable[[], bytes]] = {
            b"timestamp": lambda: now,
            b"token": lambda: b"%032x" % rng.getrandbits(128),
            b"counter": lambda: b"%d" % rng.randint(2, 60),
            b"price": lambda: b"$%d.95" % rng.randint(19, 89),
        }

        def shuffle(match: re.Match[bytes]) -> bytes:
            lines = match.group(2).split(b"\n")
            items = [line for line in lines if line.strip()]
            rng.shuffle(items)
            lead = lines[0] if not lines[0].strip() else b""
            return match.group(1) + lead + b"\n" + b"\n".join(items) + b"\n" + match.group(3)

        if b"<!-- shuffle -->" in body:
            body = _SHUFFLE.sub(shuffle, body)
        return _PLACEHOLDER.sub(lambda m: fill[m.group(1)](), body)


def main(argv: list[str] | None = None) -> int:
    """``python -m monitor.siteserver DIR``: serve DIR until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m monitor.siteserver", description=__doc__.split("\n")[0])
    parser.add_argument("root", type=Path, help="folder to serve")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-validators", action="store_true", help="send no ETag/Last-Modified")
    parser.add_argument("--no-noise", action="store_true", help="render noise placeholders as fixed values")
    parser.add_argument("--seed", type=int, default=None, help="seed for the noise generator")
    args = parser.parse_args(argv)
    try:
        server = SiteServer(
            args.root, validators=not args.no_validators, noise=not args.no_noise, seed=args.seed
        )
    except NotADirectoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server._port_wanted = args.port
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return 2
    print(f"serving {os.fspath(server.root)} on {server.url}/ (Ctrl-C to stop)", file=sys.stderr)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
