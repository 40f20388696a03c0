"""The local fixture server: validators, 304s, per-request noise, overrides, root switching, robots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

import pytest

from monitor.siteserver import SiteServer

PAGE = """<!DOCTYPE html>
<html><head><title>Night Calm</title></head>
<body>
<p>Updated {{noise:timestamp}} - {{noise:counter}} people are viewing this - {{noise:price}}</p>
<input type="hidden" name="csrf" value="{{noise:token}}">
<ul>
<!-- shuffle -->
<li>Review one</li>
<li>Review two</li>
<li>Review three</li>
<li>Review four</li>
<li>Review five</li>
<li>Review six</li>
<!-- /shuffle -->
</ul>
<p>Try it for 60 days or get a full refund.</p>
</body></html>
"""


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "v1"
    (root / "shop").mkdir(parents=True)
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    (root / "shop" / "index.html").write_text("<html><body>shop v1</body></html>", encoding="utf-8")
    (root / "shop" / "manual.bin").write_bytes(b"%PDF-1.4\x00\xff\x00binary")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n", encoding="utf-8")
    return root


@pytest.fixture
def server(site: Path) -> Iterator[SiteServer]:
    with SiteServer(site, seed=1) as running:
        yield running


def test_serves_index_types_and_404(server: SiteServer) -> None:
    status, headers, body = fetch(server.url + "/shop/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == b"<html><body>shop v1</body></html>"
    status, headers, body = fetch(server.url + "/shop/manual.bin")
    assert (status, headers["Content-Type"]) == (200, "application/octet-stream")
    assert body.startswith(b"%PDF")
    assert fetch(server.url + "/nope.html")[0] == 404
    assert fetch(server.url + "/../etc/passwd")[0] == 404
    # duplicate slashes reach the same file, as on most web servers
    assert fetch(server.url + "/shop//index.html")[2] == b"<html><body>shop v1</body></html>"


def test_robots_from_tree_or_404(site: Path, server: SiteServer) -> None:
    status, headers, body = fetch(server.url + "/robots.txt")
    assert status == 200 and b"Disallow: /private/" in body
    assert headers["Content-Type"].startswith("text/plain")
    (site / "robots.txt").unlink()
    assert fetch(server.url + "/robots.txt")[0] == 404


def test_validators_and_conditional_requests(server: SiteServer) -> None:
    status, headers, _ = fetch(server.url + "/shop/")
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert status == 200 and etag and last_modified
    assert fetch(server.url + "/shop/", {"If-None-Match": etag})[0] == 304
    assert fetch(server.url + "/shop/", {"If-Modified-Since": last_modified})[0] == 304
    assert fetch(server.url + "/shop/", {"If-None-Match": '"other"'})[0] == 200
    # the ETag hashes the file, not the noisy rendering
    first, second = fetch(server.url + "/")[1]["ETag"], fetch(server.url + "/")[1]["ETag"]
    assert first == second


def test_no_validators(site: Path) -> None:
    with SiteServer(site, validators=False) as server:
        status, headers, _ = fetch(
            server.url + "/shop/", {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}
        )
        assert status == 200
        assert "ETag" not in headers and "Last-Modified" not in headers


def test_changed_file_is_reloaded(site: Path, server: SiteServer) -> None:
    etag = fetch(server.url + "/shop/")[1]["ETag"]
    page = site / "shop" / "index.html"
    page.write_text("<html><body>shop changed</body></html>", encoding="utf-8")
    os.utime(page, (time.time() + 10, time.time() + 10))
    status, headers, body = fetch(server.url + "/shop/", {"If-None-Match": etag})
    assert (status, body) == (200, b"<html><body>shop changed</body></html>")
    assert headers["ETag"] != etag


def test_noise_differs_per_request(server: SiteServer) -> None:
    bodies = {fetch(server.url + "/")[2] for _ in range(5)}
    assert len(bodies) == 5
    for body in bodies:
        assert b"{{noise:" not in body
        assert b"Try it for 60 days or get a full refund." in body
        assert sorted(line for line in body.split(b"\n") if line.startswith(b"<li>")) == [
            b"<li>Review %s</li>" % word for word in (b"five", b"four", b"one", b"six", b"three", b"two")
        ]
    orders = {tuple(line for line in body.split(b"\n") if line.startswith(b"<li>")) for body in bodies}
    assert len(orders) > 1


def test_noise_off_is_stable(site: Path) -> None:
    with SiteServer(site, noise=False) as server:
        bodies = {fetch(server.url + "/")[2] for _ in range(3)}
    assert len(bodies) == 1
    body = bodies.pop()
    assert b"2024-01-01 00:00:00" in body and b"$49.95" in body and b"0" * 32 in body
    assert body.index(b"Review one") < body.index(b"Review six")


def test_overrides_delays_and_request_log(server: SiteServer) -> None:
    server.overrides["/shop/"] = (503, {"Retry-After": "1"}, b"busy")
    status, headers, body = fetch(server.url + "/shop/")
    assert (status, body, headers["Retry-After"]) == (503, b"busy", "1")
    server.overrides["/old.html"] = (301, {"Location": "/shop/"}, b"")
    del server.overrides["/shop/"]
    status, _, body = fetch(server.url + "/old.html")  # urllib follows the redirect
    assert (status, body) == (200, b"<html><body>shop v1</body></html>")
    server.delays["/shop/"] = 0.3
    started = time.monotonic()
    fetch(server.url + "/shop/?utm_source=x")
    assert time.monotonic() - started >= 0.3
    paths = [path for method, path, _ in server.requests if method == "GET"]
    assert paths[-3:] == ["/old.html", "/shop/", "/shop/?utm_source=x"]
    assert server.requests[-1][2]["User-Agent"].startswith("Python-urllib")


def test_set_root_switches_versions(site: Path, server: SiteServer, tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    (v2 / "shop").mkdir(parents=True)
    (v2 / "shop" / "index.html").write_text("<html><body>shop v2</body></html>", encoding="utf-8")
    assert fetch(server.url + "/shop/")[2] == b"<html><body>shop v1</body></html>"
    server.set_root(v2)
    assert fetch(server.url + "/shop/")[2] == b"<html><body>shop v2</body></html>"
    assert fetch(server.url + "/robots.txt")[0] == 404
    server.set_root(site)
    assert fetch(server.url + "/shop/")[2] == b"<html><body>shop v1</body></html>"
    with pytest.raises(NotADirectoryError):
        server.set_root(tmp_path / "missing")


def test_folder_without_slash_redirects(server: SiteServer) -> None:
    server.overrides.clear()
    status, _, body = fetch(server.url + "/shop")
    assert (status, body) == (200, b"<html><body>shop v1</body></html>")
    assert [path for _, path, _ in server.requests][-2:] == ["/shop", "/shop/"]


def test_stop_is_idempotent(site: Path) -> None:
    server = SiteServer(site).start()
    url = server.url
    server.stop()
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url + "/", timeout=2)


def test_command_line(site: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor.siteserver", str(site), "--no-noise"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert b"2024-01-01 00:00:00" in fetch(url + "/")[2]
    finally:
        process.terminate()
        process.wait(timeout=10)
