"""A hostile seller crawled for real, then viewed through the web app: its script tags, event handlers,
`javascript:` links and template syntax stay text everywhere. The second crawl is started with the web
app's `crawl now` (through the daemon's executor seam), and the change's evidence bundle downloads and
verifies."""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path

from crawlkit import crawl, setup_site
from sqlalchemy import select
from webkit import fast_hashing, make_web_app, post  # noqa: F401

from monitor.evidence import verify_bundle
from monitor.models import Change, CrawlRun, Page, Snapshot

SITE = Path(__file__).resolve().parent / "sites" / "web"
CRAWL_DEADLINE = 180.0


def _assert_inert(html: str) -> None:
    """No markup from the page survives as markup: only our own tags, attributes and links."""
    assert "<script" not in html.lower()
    assert not re.search(r"<[^>]+\son\w+\s*=", html, re.I), "an event handler attribute"
    assert not re.search(r"""href\s*=\s*["']?\s*javascript:""", html, re.I), "a javascript: link"
    assert "<base" not in html.lower()


def test_a_hostile_page_crawled_for_real_stays_text_in_the_app(request, run_cli, site_server, sqlite_url, tmp_path,
                                                                monkeypatch):
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_CRAWL_WORKERS", "0")
    server = site_server(SITE / "v1")
    setup_site(run_cli, sqlite_url, "hostile", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    web = make_web_app(sqlite_url, tmp_path / "data", request, CLAIMWATCH_CRAWL_WORKERS="0")
    analyst = web.client("analyst")

    # the second crawl, through the web app
    server.set_root(SITE / "v2")
    assert post(analyst, "/sellers/hostile/crawl", token_from="/sellers/hostile").status_code == 302
    assert "crawl queued" in analyst.get("/sellers/hostile").text
    # a second request while it is queued or running is refused
    post(analyst, "/sellers/hostile/crawl", token_from="/sellers/hostile")
    assert "crawl not started" in analyst.get("/sellers/hostile").text
    deadline = time.monotonic() + CRAWL_DEADLINE
    while True:
        with web.sessions() as session:
            runs = list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))
        if len(runs) == 2 and runs[1].status != "running":
            break
        assert time.monotonic() < deadline, f"the web app's crawl did not finish: {[(r.id, r.status) for r in runs]}"
        time.sleep(0.2)
    assert runs[1].status == "finished", runs[1].detail
    web.app.extensions["claimwatch"].launcher.shutdown()

    with web.sessions() as session:
        changes = list(session.scalars(select(Change).order_by(Change.id)))
        page = session.scalar(select(Page).where(Page.url.endswith("/products/joint.html")))
        snapshots = list(session.scalars(select(Snapshot.id).where(Snapshot.page_id == page.id).order_by(Snapshot.id)))
    hostile = next(c for c in changes if c.after and "onerror" in c.after)
    assert "{{ 7*7 }}" in hostile.after

    pages = ["/inbox", f"/changes/{hostile.id}", f"/pages/{page.id}", f"/pages/{page.id}/compare",
             f"/pages/{page.id}/view/{snapshots[-1]}", "/sellers/hostile", "/search?q=arthritis",
             "/search?q=%3Cscript%3E", "/admin/audit"]
    admin = web.client("admin")
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, path
        assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
        _assert_inert(response.text)
    change_page = admin.get(f"/changes/{hostile.id}").text
    assert "&lt;img src=x onerror=" in change_page and "{{ 7*7 }}" in change_page
    assert "data-pwned" in change_page  # shown, as text
    raw = admin.get(f"/snapshots/{snapshots[-1]}/raw.html")
    assert b"<script>" in raw.data  # the page as fetched, byte for byte...
    assert raw.headers["Content-Security-Policy"].startswith("sandbox;")  # ...only ever in a sandbox
    source = admin.get(f"/snapshots/{snapshots[-1]}/raw.txt")
    assert source.mimetype == "text/plain" and "<script>" in source.text

    bundle = admin.get(f"/changes/{hostile.id}/evidence.zip")
    assert bundle.status_code == 200 and bundle.mimetype == "application/zip"
    assert f"change-{hostile.id}-evidence.zip" in bundle.headers["Content-Disposition"]
    path = tmp_path / "bundle.zip"
    path.write_bytes(bundle.data)
    result = verify_bundle(path)
    assert result.ok, result.message
    with zipfile.ZipFile(io.BytesIO(bundle.data)) as archive:
        assert "warc/evidence.warc.gz" in archive.namelist()
    audit = admin.get("/admin/audit").text
    assert "crawl.now" in audit and "evidence" in audit
