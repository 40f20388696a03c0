"""Crawling the fixture shop end to end: subprocess spider -> pipelines -> store, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from crawlkit import counts, crawl, fetches, page_urls, runs, setup_site

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"

PRODUCT_PAGES = {
    "products/", *(f"products/p{n:02d}.html" for n in range(1, 31)), "products/guarantee.html",
    "products/canonical.html", "products/canonical.html?color=blue", "products/broken-encoding.html",
    "products/malformed.html",
}


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")  # screenshots have tests of their own (test_evidence)
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.1")


def test_prefix_robots_canonical_and_odd_responses(run_cli, db_url, site_server) -> None:
    server = site_server(SHOP)
    setup_site(run_cli, db_url, "shop", f"{server.url}/products/", "--allow", "/products/", "--max-pages", "200")
    result = crawl(run_cli, db_url)
    assert "shop: finished" in result.stderr

    pages = page_urls(db_url)
    # one row per page: tracking parameters, fragments and double slashes fold into canonical URLs
    assert set(pages) >= PRODUCT_PAGES
    assert set(pages) - PRODUCT_PAGES == {"products/manual.bin", "products/missing.html"}
    requested = [path for _method, path, _headers in server.requests]
    assert not [p for p in requested if p.startswith("/private/")], "robots.txt Disallow was not honoured"
    assert not [p for p in requested if p.startswith("/blog")], "followed links outside the allowed prefix"

    by_url = {f.final_url or "": f for f in fetches(db_url)}
    binary = next(f for url, f in by_url.items() if url.endswith("manual.bin"))
    assert binary.outcome == "skipped" and binary.sha256 is None and "not HTML" in (binary.error or "")
    missing = [f for f in fetches(db_url) if f.status == 404]
    assert len(missing) == 1
    c = counts(db_url)
    assert c.snapshots == len(PRODUCT_PAGES)  # broken encoding and malformed HTML still made snapshots
    assert c.changes == 0  # a first crawl is the baseline


def test_broken_pages_still_yield_their_statements(run_cli, sqlite_url, site_server) -> None:
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)
    exported = run_cli("export", "--format", "json", db=sqlite_url)
    import json

    pages = {p["url"].split("/", 3)[3]: p for p in json.loads(exported.stdout)["pages"]}
    malformed = [s["text"] for s in pages["products/malformed.html"]["statements"] if s["kind"] == "guarantee"]
    assert any("90-day" in text for text in malformed)
    broken = [s for s in pages["products/broken-encoding.html"]["statements"]]
    assert any(s["kind"] == "guarantee" and "30-day" in s["text"] for s in broken)
    assert any(s["kind"] == "disclaimer" and s["type"] == "fda" for s in broken)


def test_max_pages_limits_the_crawl(run_cli, sqlite_url, site_server) -> None:
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/",
               "--max-pages", "5")
    crawl(run_cli, sqlite_url)
    assert counts(sqlite_url).fetches == 5
    pages = set(page_urls(sqlite_url))
    assert "products/p05.html" not in pages and len(pages) == 5


def test_the_crawl_process_opens_no_console(run_cli, sqlite_url, site_server) -> None:
    # Scrapy's telnet console and (since 2.19) its remote control run Python sent to a local port: a
    # process that reads untrusted pages must not offer either
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/",
               "--max-pages", "3")
    crawl(run_cli, sqlite_url)
    [run] = runs(sqlite_url)
    log = Path(run.log_path or "").read_text()
    assert "Spider opened" in log, "the crawl log is not Scrapy's"
    enabled = log.split("Enabled extensions:", 1)[1].split("]", 1)[0]
    assert "RemoteControl" not in enabled and "TelnetConsole" not in enabled, enabled
    assert "listening" not in log.lower(), [line for line in log.splitlines() if "listening" in line.lower()]


def test_whole_host_without_allow_still_respects_robots(run_cli, sqlite_url, site_server) -> None:
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/", "--max-pages", "200")
    crawl(run_cli, sqlite_url)
    pages = set(page_urls(sqlite_url))
    assert {"", "blog/", "blog/post-1.html"} <= pages or {"/", "blog/", "blog/post-1.html"} <= pages
    assert not any(p.startswith("private") for p in pages)
    assert not [p for _m, p, _h in server.requests if p.startswith("/private/")]


def test_unchanged_recrawl_creates_nothing_new(run_cli, db_url, site_server) -> None:
    """With validators: 304s; without them and with per-request noise: no new snapshot, no new body."""
    for validators in (True, False):
        server = site_server(SHOP, validators=validators, noise=True)
        name = f"shop-{validators}"
        setup_site(run_cli, db_url, name, f"{server.url}/products/", "--allow", "/products/")
        crawl(run_cli, db_url, "--site", name)
        before = counts(db_url)
        crawl(run_cli, db_url, "--site", name)
        after = counts(db_url)
        assert after.snapshots == before.snapshots, f"validators={validators}: noise made new snapshots"
        assert after.changes == before.changes == 0
        assert after.fetches > before.fetches
        assert after.bodies == before.bodies, f"validators={validators}: an unchanged page cost a new body"
        if validators:
            second_run = runs(db_url)[-1].id
            outcomes = {f.outcome for f in fetches(db_url) if f.run_id == second_run and f.status != 404}
            assert outcomes <= {"not_modified", "skipped"}, outcomes
            conditional = [h for _m, p, h in server.requests if p.endswith("p01.html")]
            assert any("If-None-Match" in h or "if-none-match" in {k.lower() for k in h} for h in conditional)


def test_404_and_503_are_recorded_and_never_remove_statements(run_cli, db_url, site_server) -> None:
    server = site_server(SHOP)
    setup_site(run_cli, db_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, db_url)
    baseline = counts(db_url)
    server.overrides["/products/guarantee.html"] = (503, {"Content-Type": "text/html"}, b"<p>Down</p>")
    server.overrides["/products/p01.html"] = (404, {"Content-Type": "text/html"}, b"<p>Not here</p>")
    crawl(run_cli, db_url)
    crawl(run_cli, db_url)
    after = counts(db_url)
    assert after.changes == 0, "an outage was reported as changed statements"
    assert after.snapshots == baseline.snapshots
    statuses = [f.status for f in fetches(db_url) if (f.final_url or "").endswith("guarantee.html")]
    assert 503 in statuses
    import json

    changes = json.loads(run_cli("changes", "--format", "json", db=db_url).stdout)
    events = {(e["url"].split("/", 3)[3], e["event"]) for e in changes["events"]}
    assert ("products/guarantee.html", "error") in events
    assert ("products/p01.html", "gone") in events
    assert changes["changes"] == []


def test_oversized_response_is_an_error_not_stored(run_cli, sqlite_url, site_server, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_DOWNLOAD_MAXSIZE", str(200_000))
    server = site_server(SHOP)
    big = b"<html><body>" + b"<p>90-day money-back guarantee.</p>" * 20_000 + b"</body></html>"
    server.overrides["/products/guarantee.html"] = (200, {"Content-Type": "text/html"}, big)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)
    rows = [f for f in fetches(sqlite_url) if f.error and "DOWNLOAD_MAXSIZE" in f.error]
    assert len(rows) == 1 and rows[0].sha256 is None and rows[0].outcome == "error"


def test_timeout_is_recorded(run_cli, sqlite_url, site_server, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_DOWNLOAD_TIMEOUT", "1")
    server = site_server(SHOP)
    server.delays["/products/"] = 3.0
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/",
               "--max-pages", "4")
    crawl(run_cli, sqlite_url)
    errors = [f.error for f in fetches(sqlite_url) if f.error]
    assert errors and "timeout" in errors[0].lower()
