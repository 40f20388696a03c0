"""Many generated seller sites, each on its own loopback address, served by one nginx child process.

``generate_sites(root, count, pages)`` writes ``count`` shops with ``bench/sitegen.py`` (a different seed and
page size for each: product pages of 30-80 KB), each with a home page at ``/shop/`` linking to its other
pages, and ``robots.txt``. ``NginxSites(work, roots)`` serves site ``i`` (from 1) on ``127.0.1.i:8080``
(``site_host``: the whole of 127.0.0.0/8 is loopback on Linux, no set-up needed) with a generated
configuration whose pid file, logs and temporary folders are all inside ``work``; nginx runs in the
foreground as one process (``master_process off``), started and stopped by its owner::

    roots = generate_sites(work / "sites", 200, 11)
    with NginxSites(work / "nginx", roots) as server:
        urls = server.url(1) + "/shop/"
        ...
        served = server.requests_since(mark)   # what nginx answered since ``mark = server.log_mark()``

nginx itself is not installed by this module: ``nginx_binary()`` returns None when it is missing, and
``INSTALL_HINT`` says how to install it (Debian: ``apt-get install nginx``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sitegen  # noqa: E402

PORT = 8080
INSTALL_HINT = "nginx is not installed: on Debian or Ubuntu, `apt-get update -qq && apt-get install -y -qq nginx`"
SMALLEST_PAGE = 34_000  # sitegen's per-page target, +-4 KB: pages of 30-80 KB across the sites
LARGEST_PAGE = 76_000
LOG_FORMAT = "$status $body_bytes_sent $host $request_uri"


def nginx_binary() -> str | None:
    """The nginx executable on PATH (or Debian's /usr/sbin/nginx), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def site_host(index: int) -> str:
    """The loopback address of site ``index`` (1-based): 127.0.1.1 ... 127.0.1.254, then 127.0.2.1 ..."""
    if index < 1:
        raise ValueError("sites are numbered from 1")
    block, offset = divmod(index - 1, 254)
    if block > 253:
        raise ValueError("at most 64,262 sites")
    return f"127.0.{block + 1}.{offset + 1}"


def page_target(index: int, count: int) -> int:
    """Site ``index``'s average page size: spread evenly from SMALLEST_PAGE to LARGEST_PAGE."""
    if count <= 1:
        return (SMALLEST_PAGE + LARGEST_PAGE) // 2
    return SMALLEST_PAGE + (LARGEST_PAGE - SMALLEST_PAGE) * (index - 1) // (count - 1)


def generate_sites(root: Path, count: int, pages: int) -> list[Path]:
    """Write ``count`` sites of ``pages`` pages under ``root/NNN/`` and return their document roots.

    Every page but the home page is a sitegen shop page; the home page (``/shop/``) is the site's first
    product page with a list of links to every other page put at the top of its body, so it is as heavy
    as the others and every page is one link from it.
    """
    if pages < 2:
        raise ValueError("a site needs at least 2 pages: its home page and one more")
    roots: list[Path] = []
    saved = sitegen.TARGET_BYTES
    try:
        for index in range(1, count + 1):
            site_root = root / f"{index:03d}"
            sitegen.TARGET_BYTES = page_target(index, count)  # read by sitegen at every page
            paths = sitegen.generate_site(site_root, pages, seed=index)
            _heavy_home(site_root, paths)
            roots.append(site_root)
    finally:
        sitegen.TARGET_BYTES = saved
    return roots


def _heavy_home(site_root: Path, paths: list[str]) -> None:
    first = (site_root / paths[1].lstrip("/")).read_text(encoding="utf-8")
    links = "\n".join(f'<li><a href="{path}">{path.rsplit("/", 1)[-1]}</a></li>' for path in paths[1:])
    home = first.replace("<body>", f'<body>\n<nav class="catalogue"><ul>\n{links}\n</ul></nav>', 1)
    (site_root / "shop" / "index.html").write_text(home, encoding="utf-8")


def site_paths(site_root: Path) -> list[str]:
    """The URL paths of one generated site, home page first."""
    pages = sorted(p.name for p in (site_root / "shop").glob("*.html") if p.name != "index.html")
    return ["/shop/"] + [f"/shop/{name}" for name in pages]


@dataclass(frozen=True, slots=True)
class Served:
    """What nginx answered in a span of time: page requests by status, robots.txt requests, body bytes."""

    pages: Counter[int]
    robots: int
    other: int
    body_bytes: int

    @property
    def page_total(self) -> int:
        return sum(self.pages.values())

    def describe(self) -> str:
        statuses = ", ".join(f"{count} x {status}" for status, count in sorted(self.pages.items()))
        return (f"{self.page_total} page requests ({statuses or 'none'}), {self.robots} robots.txt, "
                f"{self.other} other, {self.body_bytes / 1e6:.1f} MB")


def nginx_config(work: Path, roots: list[Path], port: int, validators: bool) -> str:
    """The configuration serving site ``i`` (from 1) of ``roots`` on ``site_host(i):port``."""
    servers = []
    for index, site_root in enumerate(roots, start=1):
        servers.append(f"    server {{ listen {site_host(index)}:{port} backlog=256; root {site_root}; }}")
    # without validators: no ETag, and If-Modified-Since ignored (every response a full 200)
    no_validators = "" if validators else "    etag off;\n    if_modified_since off;\n"
    temp = {name: work / "tmp" / name for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    return f"""# generated by bench/nginx_sites.py: one foreground process, everything inside {work}
daemon off;
master_process off;
worker_rlimit_nofile 8192;
pid {work / "nginx.pid"};
error_log {work / "error.log"} warn;
events {{ worker_connections 4096; }}
http {{
    types {{ text/html html; text/plain txt; }}
    default_type application/octet-stream;
    log_format bench '{LOG_FORMAT}';
    access_log {work / "access.log"} bench;
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 10000;
    server_tokens off;
    index index.html;
{no_validators}{chr(10).join(servers)}
}}
"""


class NginxSites:
    """nginx serving generated sites on 127.0.1.N:PORT, as a child process of this one."""

    def __init__(self, work: Path, roots: list[Path], *, port: int = PORT, validators: bool = True) -> None:
        self.work = work
        self.roots = roots
        self.port = port
        self.validators = validators
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, index: int) -> str:
        return f"http://{site_host(index)}:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.work / "access.log"

    def start(self, timeout: float = 30.0) -> None:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError(INSTALL_HINT)
        for folder in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.work / "tmp" / folder).mkdir(parents=True, exist_ok=True)
        config = self.work / "nginx.conf"
        config.write_text(nginx_config(self.work, self.roots, self.port, self.validators), encoding="utf-8")
        self.access_log.touch()
        for index in (1, len(self.roots)):
            if self._accepts(site_host(index)):
                raise RuntimeError(f"something already listens on {site_host(index)}:{self.port} "
                                   "(another benchmark's nginx?): choose another port")
        # -e: the error log before the configuration is read (not the system's /var/log/nginx)
        self.process = subprocess.Popen([binary, "-p", str(self.work), "-c", str(config),
                                         "-e", str(self.work / "error.log")],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        for index in (1, len(self.roots)):
            while not self._accepts(site_host(index)):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"nginx did not start: {self.error_tail()}")
                time.sleep(0.05)
        if self.process.poll() is not None:
            raise RuntimeError(f"nginx exited at start: {self.error_tail()}")

    def _accepts(self, host: str) -> bool:
        try:
            with socket.create_connection((host, self.port), timeout=1):
                return True
        except OSError:
            return False

    def error_tail(self, lines: int = 5) -> str:
        path = self.work / "error.log"
        if not path.exists():
            return "(no error log)"
        return " | ".join(path.read_text(errors="replace").splitlines()[-lines:]) or "(empty error log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def log_mark(self) -> int:
        """A position in the access log: pass it to ``requests_since``."""
        return self.access_log.stat().st_size

    def requests_since(self, mark: int) -> Served:
        pages: Counter[int] = Counter()
        robots = other = body = 0
        with self.access_log.open("rb") as log:
            log.seek(mark)
            for raw in log:
                fields = raw.decode(errors="replace").split()
                if len(fields) != 4:
                    continue
                status, size, _host, uri = fields
                body += int(size) if size.isdigit() else 0
                if uri == "/robots.txt":
                    robots += 1
                elif uri.startswith("/shop/"):
                    pages[int(status)] += 1
                else:
                    other += 1
        return Served(pages, robots, other, body)

    def __enter__(self) -> NginxSites:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
