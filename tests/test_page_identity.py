"""One page, one history (issue 15, item 16): `/x/` and `/x/index.html`, and the URLs whose
`<link rel=canonical>` names another page of the site, are that one page; a change on it is reported once.

Fixture: tests/sites/identity (see its README), crawled through the real CLI.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from crawlkit import counts, crawl, fetches, rows, setup_site

from monitor.models import Event, Page

SITE = Path(__file__).resolve().parent / "sites" / "identity"
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")


def _pages(db_url: str, base: str) -> dict[str, Page]:
    return {page.url.removeprefix(base): page for page in rows(db_url, Page)}


def test_a_page_reached_under_several_urls_is_one_page_with_one_history(run_cli, db_url, site_server) -> None:
    server = site_server(SITE, noise=False)
    base = f"{server.url}/shop/"
    setup_site(run_cli, db_url, "shop", base, "--allow", "/shop/")
    crawl(run_cli, db_url)

    pages = _pages(db_url, base)
    with_history = {url for url, page in pages.items() if page.current_snapshot_id is not None}
    [loop] = with_history & {"loop-a.html", "loop-b.html"}  # two pages naming each other: one is kept
    assert with_history == {"", "product.html", "guide.html", loop}
    other = ({"loop-a.html", "loop-b.html"} - {loop}).pop()
    assert {url: page.moved_to for url, page in pages.items() if page.state == "moved"} == {
        "product.html?color=blue": base + "product.html",
        "collections/sale/product.html": base + "product.html",
        other: base + loop,
    }
    requested = [path for _method, path, _headers in server.requests]
    assert "/shop/index.html" not in requested and not [path for path in requested if path.startswith("/blog/")]
    assert requested.count("/shop/product.html") == 1
    assert sorted(f.outcome for f in fetches(db_url) if f.outcome == "alias") == ["alias"] * 3
    assert counts(db_url).changes == 0 and counts(db_url).events == 0

    # the seller cuts both guarantees: each cut is one change, on its one page
    home = (SITE / "shop" / "index.html").read_bytes().replace(b"90-day", b"30-day")
    product = (SITE / "shop" / "product.html").read_bytes().replace(b"60-day", b"14-day")
    server.overrides["/shop/"] = (200, HTML, home)
    server.overrides["/shop/product.html"] = (200, HTML, product)  # (with ?color=blue too: the same file)
    crawl(run_cli, db_url)
    changes = json.loads(run_cli("changes", "--format", "json", db=db_url).stdout)
    assert sorted((c["url"].removeprefix(base), c["kind"]) for c in changes["changes"]) == [
        ("", "guarantee"), ("product.html", "guarantee")]
    assert changes["events"] == []
    assert set(_pages(db_url, base)) == set(pages)


def test_a_page_stored_under_a_url_that_is_no_longer_canonical_moves_with_its_history(run_cli, sqlite_url,
                                                                                      site_server) -> None:
    # a database from before /x/index.html was /x/: that row is fetched once more and marked moved to /x/
    # (an event); /x/ goes on with its history (taking it when it has none yet), and nothing is reported
    from sqlalchemy import select

    from monitor.db import make_engine, make_session_factory
    from monitor.extract import analyse_page
    from monitor.models import Site
    from monitor.store import FetchResult, PageContent, store_page

    server = site_server(SITE, noise=False)
    base = f"{server.url}/shop/"
    setup_site(run_cli, sqlite_url, "shop", base, "--allow", "/shop/")
    engine = make_engine(sqlite_url)
    body = (SITE / "shop" / "index.html").read_bytes()
    with make_session_factory(engine).begin() as session:
        site_id = session.scalars(select(Site.id).where(Site.name == "shop")).one()
        store_page(session, FetchResult(site_id=site_id, run_id=None, url=base + "index.html", status=200,
                                        body=body, fetched_at=datetime(2026, 1, 1, tzinfo=UTC)),
                   PageContent(text="home", fingerprint="old", statements=analyse_page(body).statements))
    engine.dispose()
    crawl(run_cli, sqlite_url)

    pages = _pages(sqlite_url, base)
    assert pages["index.html"].state == "moved" and pages["index.html"].moved_to == base
    assert pages[""].state == "active" and pages[""].current_snapshot_id is not None
    [event] = rows(sqlite_url, Event)
    assert event.event == "moved" and event.detail == f"{base}index.html -> {base} (its canonical URL)"
    assert json.loads(run_cli("changes", "--format", "json", db=sqlite_url).stdout)["changes"] == []
