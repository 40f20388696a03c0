"""Seller, page timeline, side-by-side view, raw page, screenshots, search and the sites admin through the
web app's test client, on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, datetime

from report_fixtures import populate_example
from sqlalchemy import select
from webkit import fast_hashing, make_web_app, post  # noqa: F401

from monitor.leases import lease_holder, release, try_acquire
from monitor.models import Page, Site, Snapshot
from monitor.screenshots import store_screenshot

JOINT = "https://vitalroots.example/products/joint-flex"


def _png() -> bytes:
    """A real 2x2 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def _setup(request, db_url, tmp_path):
    web = make_web_app(db_url, tmp_path / "data", request)
    with web.sessions.begin() as session:
        populate_example(session, datetime.now(UTC))
        joint = session.scalar(select(Page).where(Page.url == JOINT))
        snapshots = list(session.scalars(select(Snapshot.id).where(Snapshot.page_id == joint.id).order_by(Snapshot.id)))
        other = session.scalar(select(Snapshot.id).where(Snapshot.page_id != joint.id))
        return web, joint.id, snapshots, other


def test_timeline_side_by_side_raw_page_and_screenshots(request, sqlite_url, tmp_path):
    web, page_id, (older, newer), other = _setup(request, sqlite_url, tmp_path)
    png = _png()
    sha = store_screenshot(web.settings, png)
    with web.sessions.begin() as session:
        session.get(Snapshot, newer).screenshot_sha256 = sha
    viewer = web.client("viewer")
    timeline = viewer.get(f"/pages/{page_id}").text
    assert f"#{older}" in timeline and f"#{newer}" in timeline and "Fetch log" in timeline
    assert re.search(r"SHA-256 [0-9a-f]{64}", timeline)
    compare = viewer.get(f"/pages/{page_id}/compare").text  # the latest two by default
    assert f"Before: snapshot #{older}" in compare and f"After: snapshot #{newer}" in compare
    assert '<del class="del">Try it for 90 days: full refund, no questions asked.</del>' in compare
    assert '<ins class="ins">Try it for 30 days: refund less shipping.</ins>' in compare
    assert "Shrinks arthritis flare-ups in a week." in compare  # added, right side
    assert compare.count("Supports comfortable joints after workouts.") == 2  # unchanged, both sides
    assert f'src="/snapshots/{newer}/screenshot.png"' in compare
    shot = viewer.get(f"/snapshots/{newer}/screenshot.png")
    assert shot.status_code == 200 and shot.mimetype == "image/png" and shot.data == png
    assert viewer.get(f"/snapshots/{older}/screenshot.png").status_code == 404
    # ids of another page are not this page's
    assert viewer.get(f"/pages/{page_id}/compare?a={other}&b={newer}").status_code == 404
    assert viewer.get(f"/pages/{page_id}/view/{other}").status_code == 404
    assert viewer.get("/pages/999999").status_code == 404

    frame = viewer.get(f"/pages/{page_id}/view/{newer}").text
    assert re.search(r'<iframe class="raw" sandbox=""', frame)
    raw = viewer.get(f"/snapshots/{newer}/raw.html")
    policy = raw.headers["Content-Security-Policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy and "script" not in policy
    assert raw.headers["X-Frame-Options"] == "SAMEORIGIN" and raw.headers["X-Content-Type-Options"] == "nosniff"
    text = viewer.get(f"/snapshots/{newer}/raw.txt")
    assert text.mimetype == "text/plain" and text.text.startswith("<html>")


def test_screenshots_and_downloads_cannot_leave_their_store(request, sqlite_url, tmp_path):
    web, page_id, (_older, newer), _other = _setup(request, sqlite_url, tmp_path)
    secret = tmp_path / "data" / "web-secret-key"
    secret.parent.mkdir(parents=True, exist_ok=True)
    secret.write_text("do not serve me\n")
    with web.sessions.begin() as session:  # a row altered to point outside the screenshot folder
        session.get(Snapshot, newer).screenshot_sha256 = "../web-secret-key"
    viewer = web.client("viewer")
    assert viewer.get(f"/snapshots/{newer}/screenshot.png").status_code == 404
    for path in ("/snapshots/..%2Fweb-secret-key/screenshot.png", "/snapshots/../../web-secret-key",
                 f"/snapshots/{newer}/..%2F..%2Fweb-secret-key", "/static/../web-secret-key",
                 "/changes/..%2F..%2Fweb-secret-key/evidence.zip"):
        response = viewer.get(path)
        assert response.status_code == 404 and b"do not serve me" not in response.data, path


def test_search_finds_current_and_past_statements(request, db_url, tmp_path):
    web, page_id, _snapshots, _other = _setup(request, db_url, tmp_path)
    viewer = web.client("viewer")

    def rows(query: str) -> list[str]:
        html = viewer.get(f"/search?{query}").text
        return re.findall(r"<tr><td><span class=\"badge[^>]*>[^<]*</span> ([^<]*)<br>([^<]*)</td>", html)

    found = rows("q=arthritis")
    assert ("claim / disease", "Shrinks arthritis flare-ups in a week.") in found
    assert rows("q=shrink+ARTHRITIS") == rows("q=arthritis")  # stemmed, case-folded, every word required
    assert rows("q=arthritis+osteoporosis") == []
    html = viewer.get("/search?q=comfortable+joints").text
    assert "2 snapshots" in html and "on the page" in html  # one hit across both versions
    assert rows("q=90+days") and "gone" in viewer.get("/search?q=90+days").text  # only in the old version
    assert rows("q=joints&kind=guarantee") == []
    assert rows("q=joints&site=nightcalm-labs") == []
    for hostile in ('arthritis" OR "x', "NEAR(a b)", "*", "text:arthritis", "a AND", "'; DROP TABLE statement; --"):
        assert viewer.get("/search", query_string={"q": hostile}).status_code == 200
    assert rows("q=%22arthritis%22") == rows("q=arthritis")


def test_sites_admin_validates_like_the_command_line(request, run_cli, sqlite_url, tmp_path):
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    admin = web.client("admin")
    form = {"name": "acme", "start_urls": "ftp://shop.example/", "max_pages": "10", "schedule": "0 6 * * *",
            "enabled": "on"}
    refused = post(admin, "/admin/sites/new", form, token_from="/admin/sites/new")
    cli = run_cli("sites", "add", "acme", "--url", "ftp://shop.example/", db=sqlite_url)
    message = cli.stderr.strip().removeprefix("Error: ")
    assert refused.status_code == 400 and message in refused.text.replace("&#39;", "'")
    added = post(admin, "/admin/sites/new", {**form, "start_urls": "https://shop.example/\nhttps://shop.example/b"},
                 token_from="/admin/sites/new")
    assert added.status_code == 302
    edited = post(admin, "/admin/sites/acme", {**form, "start_urls": "https://shop.example/", "max_pages": "-3"},
                  token_from="/admin/sites/acme")
    assert edited.status_code == 400 and "field &#39;max_pages&#39;" in edited.text
    post(admin, "/admin/sites/acme", {**form, "start_urls": "https://shop.example/", "max_pages": "7"},
         token_from="/admin/sites/acme")
    post(admin, "/admin/sites/acme/enabled", {"enabled": "0"}, token_from="/admin/sites")
    with web.sessions() as session:
        site = session.scalar(select(Site).where(Site.name == "acme"))
        assert (site.max_pages, site.enabled, site.start_urls) == (7, False, ["https://shop.example/"])
    bad = post(admin, "/admin/sites/import", {"yaml": "sites:\n  - name: ../../x\n    start_urls: [https://a.example/]\n"},
               token_from="/admin/sites")
    assert bad.status_code == 302 and "not a valid site name" in admin.get("/admin/sites").text
    good = "sites:\n  - name: beta\n    start_urls: [\"https://beta.example/\"]\n    max_pages: 5\n"
    post(admin, "/admin/sites/import", {"yaml": good}, token_from="/admin/sites")
    exported = admin.get("/admin/sites/watchlist.yaml").text
    assert "name: beta" in exported and "name: acme" in exported and "max_pages: 5" in exported


def test_crawl_now_is_refused_while_the_site_is_crawled(request, sqlite_url, tmp_path):
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    admin = web.client("admin")
    post(admin, "/admin/sites/new", {"name": "busy", "start_urls": "http://127.0.0.1:9/", "max_pages": "5",
                                     "schedule": "0 6 * * *", "enabled": "on"}, token_from="/admin/sites/new")
    lease = try_acquire(web.sessions, "busy", lease_holder(), ttl=60)
    analyst = web.client("analyst")
    response = post(analyst, "/sellers/busy/crawl", token_from="/sellers/busy")
    assert response.status_code == 302
    page = analyst.get("/sellers/busy").text
    assert "crawl not started: a crawl of this site is running" in page
    assert re.search(r"<button type=\"submit\" disabled\s*>Crawl now</button>", page)
    release(web.sessions, lease)
    post(admin, "/admin/sites/busy/enabled", {"enabled": "0"}, token_from="/admin/sites")
    post(analyst, "/sellers/busy/crawl", token_from="/sellers/busy")
    assert "site busy is disabled" in analyst.get("/sellers/busy").text
    assert post(analyst, "/sellers/nosuch/crawl", token_from="/inbox").status_code == 302
