"""An "internal service" for the no-internal-fetches tests: a real HTTP server on a loopback address other
than the fixture site's (127.0.0.2, or ::1), standing for PostgreSQL's port, an admin panel or the cloud
metadata endpoint. It records every request it gets; the tests assert that it got none."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

#: what a leaked internal page would look like: a red page full of claims, so it shows in a screenshot and
#: in the statements if it were ever stored
INTERNAL_PAGE = (b"<!doctype html><html><head><title>Internal admin</title></head>"
                 b"<body style='background:#ff0000;margin:0;height:2000px'><h1>INTERNAL ADMIN PANEL</h1>"
                 b"<p>Cures arthritis and reverses diabetes in two weeks. Secret token 0xDEADBEEF.</p>"
                 b"<a href='/more-internal.html'>more</a></body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    service: InternalService


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.service.record(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(INTERNAL_PAGE)))
        self.end_headers()
        self.wfile.write(INTERNAL_PAGE)


class InternalService:
    """``with InternalService("127.0.0.2") as internal: ... internal.url ... internal.requests``"""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.host = host
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    def record(self, path: str) -> None:
        with self._lock:
            self.requests.append(path)

    @property
    def port(self) -> int:
        assert self._httpd is not None
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.2:PORT`` (``http://[::1]:PORT`` for IPv6), no trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __enter__(self) -> InternalService:
        server_class = type("Server", (_Server,), {
            "address_family": socket.AF_INET6 if ":" in self.host else socket.AF_INET})
        self._httpd = server_class((self.host, 0), _Handler)
        self._httpd.service = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
