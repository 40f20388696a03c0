"""The screenshot browser cannot be steered to internal services (real Chromium, real servers on loopback).

A page's ``location.href``, meta refresh, ``window.open``, frames, images and ``fetch`` to an internal address
must not load anything from it, and the screenshot must show the archived page, with the URL it shows
recorded; ``evidence verify`` must refuse a screenshot of another origin.
"""

from __future__ import annotations

import json
import logging
import shutil
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from conftest import chromium_path
from crawlkit import crawl, rows, setup_site
from internalservice import InternalService

from monitor.hosts import HostPolicy
from monitor.models import Snapshot
from monitor.screenshots import ScreenshotTarget, take_screenshots
from monitor.siteserver import SiteServer

pytestmark = pytest.mark.chromium

JS_SHOP = Path(__file__).resolve().parent / "sites" / "js"
MARKER = "<!-- marker: tests may insert static statements here -->"
DISEASE_CLAIM = "Cures arthritis and rebuilds damaged knee cartilage in two weeks."
BLUE, RED = (0, 0, 255), (255, 0, 0)  # the archived page's background; the internal page's (internalservice)



def top_left_pixel(png: bytes) -> tuple[int, int, int]:
    """The first pixel of an 8-bit RGB(A) PNG (whatever the first row's filter, its first pixel is as stored)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, idat = 8, b""
    while position < len(png):
        length, kind = int.from_bytes(png[position:position + 4], "big"), png[position + 4:position + 8]
        if kind == b"IDAT":
            idat += png[position + 8:position + 8 + length]
        position += 12 + length
    first = zlib.decompressobj().decompress(idat, 8)
    return first[1], first[2], first[3]


def archived(extra: str) -> bytes:
    return (f"<!doctype html><html><body style='background:#0000ff;margin:0'><h1 style='margin:200px'>Archived"
            f"</h1><img src='/own.png'>{extra}</body></html>").encode()


def test_a_page_cannot_take_the_screenshot_browser_to_internal_addresses(
        site_server: Callable[..., SiteServer], internal: InternalService, internal6: InternalService,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chromium = chromium_path()
    (tmp_path / "site").mkdir()
    (tmp_path / "other").mkdir()
    site = site_server(tmp_path / "site")
    same_host = site_server(tmp_path / "other")  # 127.0.0.1 on another port, reached by the name localhost
    tricks = {
        1: f"<script>location.href = '{internal.url}/location';</script>",
        2: f"<meta http-equiv='refresh' content='0; url={internal.url}/refresh'>",
        3: f"<script>window.open('{internal.url}/popup');</script>",
        4: (f"<iframe src='{internal.url}/frame'></iframe><img src='{internal6.url}/image'>"
            f"<img src='http://localhost:{same_host.port}/by-name'>"
            f"<script>fetch('{internal.url}/fetch').catch(() => null);</script>"),
    }
    policy = HostPolicy.for_site([f"{site.url}/"])
    targets = [ScreenshotTarget(n, f"{site.url}/p{n}.html", archived(html), "text/html; charset=utf-8", True, policy)
               for n, html in tricks.items()]

    with caplog.at_level(logging.INFO):
        shots = take_screenshots(targets, chromium)

    assert internal.requests == [] and internal6.requests == [] and same_host.requests == []
    assert sorted(shots) == [1, 2, 3, 4]
    for n, shot in shots.items():
        assert shot.url == f"{site.url}/p{n}.html"  # the URL it shows: the archived page's
        assert top_left_pixel(shot.png) == BLUE, n  # the archived page, not the internal one (red)
    # the page's own image was loaded through the guard; the attempts on internal addresses were made and
    # stopped (so the assertions above are not vacuous)
    assert [path for _method, path, _headers in site.requests].count("/own.png") == 4
    logged = caplog.text
    for blocked in ("/location blocked", "/popup blocked"):
        assert f"navigation to {internal.url}{blocked}" in logged
    for refused in (f"127.0.0.2:{internal.port} refused", f"::1:{internal6.port} refused",
                    f"localhost:{same_host.port} refused"):
        assert f"browser connection to {refused}" in logged


def test_a_changed_page_is_photographed_as_archived_and_verify_refuses_another_origin(
        run_cli: Callable[..., Result], sqlite_url: str, site_server: Callable[..., SiteServer],
        internal: InternalService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_CHROMIUM", chromium_path())
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    root = tmp_path / "site"
    shutil.copytree(JS_SHOP, root)
    server = site_server(root)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    home = root / "index.html"
    steer = (f"<p>{DISEASE_CLAIM}</p><iframe src='{internal.url}/frame'></iframe>"
             f"<script>location.href = '{internal.url}/admin';</script>")
    home.write_text(home.read_text(encoding="utf-8").replace(MARKER, steer), encoding="utf-8")
    assert "1 changes" in crawl(run_cli, sqlite_url).stderr

    assert internal.requests == []
    shot = next(snapshot for snapshot in rows(sqlite_url, Snapshot) if snapshot.screenshot_sha256)
    assert shot.screenshot_url == f"{server.url}/"
    png = (tmp_path / "data" / "screenshots" / f"{shot.screenshot_sha256}.png").read_bytes()
    assert top_left_pixel(png) != RED

    bundle = tmp_path / "bundle.zip"
    assert run_cli("evidence", f"{server.url}/", "--out", str(bundle), db=sqlite_url).exit_code == 0
    with zipfile.ZipFile(bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(members["manifest.json"])
    assert manifest["snapshots"][-1]["screenshot_url"] == f"{server.url}/"
    verified = run_cli("evidence", "verify", str(bundle))
    assert verified.exit_code == 0 and verified.stdout.startswith("OK: "), verified.stdout + verified.stderr

    for forged_url, why in ((f"{internal.url}/admin", "shows"), (None, "no screenshot_url")):
        manifest["snapshots"][-1]["screenshot_url"] = forged_url
        forged = tmp_path / "forged.zip"
        with zipfile.ZipFile(forged, "w") as archive:
            for name, content in members.items():
                archive.writestr(name, json.dumps(manifest).encode() if name == "manifest.json" else content)
        failed = run_cli("evidence", "verify", str(forged))
        assert failed.exit_code == 1 and "FAILED" in failed.stderr and why in failed.stderr, failed.stderr
        assert len(failed.stderr.strip().splitlines()) == 1
