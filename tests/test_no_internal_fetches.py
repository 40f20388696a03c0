"""No internal fetches (SSRF): a seller's page cannot steer the crawler to another host or an internal address.

The fixture shop serves on 127.0.0.1:<port>; "internal services" are real servers on 127.0.0.2 and [::1]
(and 127.0.0.1 on another port), which must never receive a request. 169.254.169.254 and PostgreSQL's port
stand for the cloud metadata endpoint and a database: nothing listens there, the tests check that they are
recorded as moves and never become pages or seeds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from conftest import chromium_path
from crawlkit import crawl, fetches, rows, setup_site
from internalservice import InternalService

from monitor.config import load_settings
from monitor.crawl import prepare_crawl, run_job
from monitor.db import make_engine, make_session_factory
from monitor.models import Event, Fetch, Page, Snapshot
from monitor.siteserver import SiteServer

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"  # /products/ links to p01.html
HTML = {"Content-Type": "text/html; charset=utf-8"}


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")  # the screenshot browser: test_screenshot_guard.py
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.05")



@pytest.fixture
def same_host(site_server: Callable[..., SiteServer], tmp_path: Path) -> SiteServer:
    """Another server on the shop's own address, 127.0.0.1, on another port (as PostgreSQL's would be)."""
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "index.html").write_text("<p>Internal: cures arthritis.</p>", encoding="utf-8")
    return site_server(tmp_path / "other")


def redirect(server: SiteServer, path: str, location: str, status: int = 302) -> None:
    server.overrides[path] = (status, {"Location": location, **HTML}, b"<p>Moved</p>")


def stored(db: str) -> tuple[list[Page], list[Fetch], list[Event]]:
    return rows(db, Page), fetches(db), rows(db, Event)


def linking_shop(root: Path, paths: list[str]) -> Path:
    """A shop whose home page links to each path (tests answer them with ``server.overrides``)."""
    root.mkdir()
    links = "".join(f'<li><a href="{path}">{path}</a></li>' for path in paths)
    (root / "index.html").write_text(f"<html><body><p>Supports healthy joints.*</p><ul>{links}</ul>"
                                     "</body></html>", encoding="utf-8")
    (root / "ok.html").write_text("<p>Supports restful sleep.*</p>", encoding="utf-8")
    return root


def test_redirects_to_internal_services_are_recorded_as_moves_never_fetched_nor_seeded(
        run_cli: Callable[..., Result], db_url: str, site_server: Callable[..., SiteServer],
        internal: InternalService, internal6: InternalService, same_host: SiteServer, tmp_path: Path) -> None:
    targets = {
        "/r1.html": f"{internal.url}/admin",  # 127.0.0.2
        "/r2.html": f"{internal6.url}/",  # [::1]
        "/r3.html": f"http://localhost:{same_host.port}/",  # another name for 127.0.0.1
        "/r4.html": f"{same_host.url}/",  # the site's own address, another port
        "/r5.html": "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "/r6.html": "http://127.0.0.1:5432/",  # PostgreSQL
        "/r7.html": "file:///etc/passwd",
    }
    server = site_server(linking_shop(tmp_path / "shop", [*targets, "/r8.html", "/r9.html", "/ok.html"]))
    for path, location in targets.items():
        redirect(server, path, location, 301 if path == "/r2.html" else 302)
    # a hop on the site first, then out; and a meta refresh
    redirect(server, "/r8.html", "/r8-moved.html", 301)
    redirect(server, "/r8-moved.html", f"{internal.url}/after-a-hop", 307)
    server.overrides["/r9.html"] = (
        200, HTML, f'<meta http-equiv="refresh" content="0; url={internal.url}/refresh"><p>x</p>'.encode())
    setup_site(run_cli, db_url, "shop", f"{server.url}/")

    crawl(run_cli, db_url)

    assert internal.requests == [] and internal6.requests == [], "an internal service was fetched"
    assert not [p for _m, p, _h in same_host.requests], "another port of the site's address was fetched"
    pages, fetched, events = stored(db_url)
    page_urls = {page.url for page in pages}
    assert all(url.startswith(server.url) for url in page_urls), page_urls  # no page of another host
    moves = {event.detail.split(" -> ")[0].removeprefix(server.url): event.detail for event in events
             if event.event == "moved"}
    for path, location in targets.items():
        assert path in moves and location.split("/latest")[0].removesuffix("/") in moves[path], (path, moves)
    assert f"{internal.url}/after-a-hop" in moves["/r8.html"]
    assert f"{internal.url}/refresh" in moves["/r9.html"]
    r1 = next(page for page in pages if page.url.endswith("/r1.html"))
    assert r1.state == "moved" and r1.moved_to == f"{internal.url}/admin"
    r1_fetch = next(f for f in fetched if f.page_id == r1.id)
    assert (r1_fetch.status, r1_fetch.outcome, r1_fetch.error) == (302, "moved", None)
    assert r1_fetch.warc_path is not None  # the redirect itself is archived: the evidence of the move
    texts = " ".join(snapshot.text for snapshot in rows(db_url, Snapshot))
    assert "INTERNAL" not in texts and "Internal:" not in texts
    assert "Supports restful sleep" in texts  # the site's own pages are stored as usual

    # the next crawl: the moved pages are not seeds, their targets never were; still nothing internal
    crawl(run_cli, db_url)
    plan = json.loads(sorted((tmp_path / "data" / "runs").glob("run*-plan.json"))[-1].read_text())
    seeds = [seed["url"] for seed in plan["seeds"]]
    assert seeds and all(url.startswith(server.url) for url in seeds), seeds
    assert not [url for url in seeds if url.endswith(("/r1.html", "/r5.html"))]
    assert internal.requests == [] and internal6.requests == []
    events_after = [event for event in rows(db_url, Event) if event.event == "moved"]
    assert len(events_after) == len(moves), "a move is reported once, not on every crawl"


def test_a_page_stored_before_the_check_is_no_longer_a_seed(run_cli: Callable[..., Result], sqlite_url: str,
                                                            site_server: Callable[..., SiteServer],
                                                            internal: InternalService) -> None:
    # what the bug left behind: the internal page stored as one of the seller's, active, a seed for ever
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/", "--max-pages", "3")
    engine = make_engine(sqlite_url)
    try:
        with make_session_factory(engine).begin() as session:
            session.add(Page(site_id=1, url=f"{internal.url}/", state="active"))
    finally:
        engine.dispose()

    crawl(run_cli, sqlite_url)

    assert internal.requests == []
    poisoned = next(page for page in rows(sqlite_url, Page) if page.url.startswith(internal.url))
    assert not [f for f in fetches(sqlite_url) if f.page_id == poisoned.id]


def test_a_named_host_is_the_sites_own_and_others_are_not(run_cli: Callable[..., Result], sqlite_url: str,
                                                          site_server: Callable[..., SiteServer]) -> None:
    server = site_server(SHOP)
    own_alias = f"http://localhost:{server.port}"  # the same server under a name the watchlist gives
    redirect(server, "/products/p01.html", f"{own_alias}/products/p01-new.html", 301)
    server.overrides["/products/p01-new.html"] = (200, HTML, b"<p>Supports healthy joints.*</p>")
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/p01.html", "--url", f"{server.url}/products/",
               "--allow", "/products/", "--max-pages", "5", "--host", f"localhost:{server.port}")

    crawl(run_cli, sqlite_url)

    requested = [path for _method, path, _headers in server.requests]
    assert "/products/p01-new.html" in requested  # followed: a host of the site's own
    pages = {page.url: page for page in rows(sqlite_url, Page)}
    assert pages[f"{own_alias}/products/p01-new.html"].state == "active"  # stored under its new address

    # without it, the same redirect is a move to another host, never followed, and the page stored under
    # that host is no longer a seed
    assert run_cli("sites", "edit", "shop", "--clear-hosts", db=sqlite_url).exit_code == 0
    server.requests.clear()
    crawl(run_cli, sqlite_url)
    requested = [path for _method, path, _headers in server.requests]
    assert "/products/p01.html" in requested and "/products/p01-new.html" not in requested
    moved = {page.url: page.moved_to for page in rows(sqlite_url, Page) if page.state == "moved"}
    assert moved == {f"{server.url}/products/p01.html": f"{own_alias}/products/p01-new.html"}


def run_with_fake_dns(sqlite_url: str, table: dict[str, list[list[str]]], monkeypatch: pytest.MonkeyPatch,
                      *settings: str) -> None:
    """One crawl of the site "shop" with ``tests/fakedns.py`` as the crawl's DNS."""
    monkeypatch.setenv("CLAIMWATCH_TEST_DNS", json.dumps(table))
    monkeypatch.setenv("CLAIMWATCH_DB", sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        sessions = make_session_factory(engine)
        config = load_settings()
        job = prepare_crawl(sessions, config, "shop")
        summary = run_job(sessions, config, job, extra_settings=[
            "TWISTED_DNS_RESOLVER=tests.fakedns.FakeDNSResolver", *settings])
    finally:
        engine.dispose()
    assert summary.status == "finished", summary.line()


def test_a_host_of_the_sites_domain_that_resolves_to_an_internal_address_is_refused(
        run_cli: Callable[..., Result], sqlite_url: str, site_server: Callable[..., SiteServer],
        internal: InternalService, monkeypatch: pytest.MonkeyPatch) -> None:
    server = site_server(SHOP)
    start = f"http://shop.example.com:{server.port}/products/"  # the site's own name: 127.0.0.1 is allowed
    redirect(server, "/products/p01.html", f"http://www.shop.example.com:{internal.port}/")
    setup_site(run_cli, sqlite_url, "shop", start, "--allow", "/products/", "--max-pages", "3")

    run_with_fake_dns(sqlite_url, {"shop.example.com": [["127.0.0.1"]],
                                   "www.shop.example.com": [["127.0.0.2"]]}, monkeypatch)

    assert "/products/p01.html" in [path for _method, path, _headers in server.requests]  # the site itself
    assert internal.requests == []
    pages = {page.url: page for page in rows(sqlite_url, Page)}
    assert not [url for url in pages if "www." in url]
    p01 = pages[f"http://shop.example.com:{server.port}/products/p01.html"]
    error = next(f.error for f in fetches(sqlite_url) if f.page_id == p01.id)
    assert error is not None and "InternalAddressRefused" in error and "127.0.0.2" in error, error


def test_the_resolver_refuses_internal_addresses_at_connect_time_on_its_own(
        run_cli: Callable[..., Result], sqlite_url: str, site_server: Callable[..., SiteServer],
        internal: InternalService, monkeypatch: pytest.MonkeyPatch) -> None:
    # what a DNS answer that changes between the request's check and the connection (rebinding) leaves: the
    # request check switched off, the connection's own resolution must still refuse the internal address
    from crawler import settings as crawl_settings

    server = site_server(SHOP)
    start = f"http://shop.example.com:{server.port}/products/"
    redirect(server, "/products/p01.html", f"http://www.shop.example.com:{internal.port}/")
    setup_site(run_cli, sqlite_url, "shop", start, "--allow", "/products/", "--max-pages", "3")
    middlewares = {**crawl_settings.DOWNLOADER_MIDDLEWARES, "crawler.hostguard.HostGuardMiddleware": None,
                   "tests.fakedns.PolicyOnlyMiddleware": 10}

    run_with_fake_dns(sqlite_url, {"shop.example.com": [["127.0.0.1"]], "www.shop.example.com": [["127.0.0.2"]]},
                      monkeypatch, "DOWNLOADER_MIDDLEWARES=" + json.dumps(middlewares))

    assert "/products/p01.html" in [path for _method, path, _headers in server.requests]
    assert internal.requests == []
    p01 = next(page for page in rows(sqlite_url, Page) if page.url.endswith("/products/p01.html"))
    error = next(f.error for f in fetches(sqlite_url) if f.page_id == p01.id)
    assert error is not None and "DNS lookup failed" in error, error  # no address left to connect to


@pytest.mark.chromium
def test_a_rendered_page_cannot_reach_internal_addresses(run_cli: Callable[..., Result], sqlite_url: str,
                                                         site_server: Callable[..., SiteServer],
                                                         internal: InternalService, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # render_js: Chromium fetches the page and everything it asks for, redirect hops included
    monkeypatch.setenv("CLAIMWATCH_CHROMIUM", chromium_path())
    server = site_server(linking_shop(tmp_path / "shop", ["/r1.html", "/ok.html"]))
    index = server.root / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace("</body>", (
        f"<iframe src='{internal.url}/frame'></iframe>"
        f"<script>fetch('{internal.url}/fetch').catch(() => null);</script></body>")), encoding="utf-8")
    redirect(server, "/r1.html", f"{internal.url}/admin")
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/", "--render-js")

    crawl(run_cli, sqlite_url)

    assert internal.requests == []
    requested = [path for _method, path, _headers in server.requests]
    assert "/r1.html" in requested and "/ok.html" in requested  # the site itself was rendered
    pages = {page.url: page for page in rows(sqlite_url, Page)}
    assert all(url.startswith(server.url) for url in pages), pages
    r1 = pages[f"{server.url}/r1.html"]
    assert [f.error for f in fetches(sqlite_url) if f.page_id == r1.id][0]  # recorded, not silently dropped
    texts = " ".join(snapshot.text for snapshot in rows(sqlite_url, Snapshot))
    assert "INTERNAL" not in texts and "Supports restful sleep" in texts
