"""Nothing dropped without a record (issue 15, items 5 and 6).

A known page whose fetch Scrapy gives up on (a gzip body inflating past the size limit, a redirect loop, too
many redirects, robots.txt now disallowing it) leaves a fetch row naming the reason, counts as an error in the
run's summary, and after repeated failures (CLAIMWATCH_ERROR_THRESHOLD) an `error` event; its statements are
never reported removed. A site that cannot be reached at all fails the crawl with the reason on its line.
"""

from __future__ import annotations

import gzip
import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from crawlkit import crawl, fetches, runs, setup_site

from monitor.fetch_errors import unreachable_reason
from monitor.siteserver import SiteServer

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.1")
    monkeypatch.setenv("CLAIMWATCH_DOWNLOAD_MAXSIZE", "200000")


def _gzip_bomb(server: SiteServer) -> str:
    # ~3.6 MB of HTML in ~10 KB of gzip: under the size limit on the wire, far over it inflated
    html = b"<html><body>" + b"<p>90-day money-back guarantee.</p>" * 100_000 + b"</body></html>"
    server.overrides["/products/guarantee.html"] = (
        200, {"Content-Type": "text/html", "Content-Encoding": "gzip"}, gzip.compress(html))
    return "products/guarantee.html"


def _redirect_loop(server: SiteServer) -> str:
    server.overrides["/products/p01.html"] = (302, {"Location": "/products/p01-next.html"}, b"")
    server.overrides["/products/p01-next.html"] = (302, {"Location": "/products/p01.html"}, b"")
    return "products/p01.html"


def _too_many_redirects(server: SiteServer) -> str:
    server.overrides["/products/p02.html"] = (302, {"Location": "/products/hop/1"}, b"")
    for hop in range(1, 40):  # Scrapy follows REDIRECT_MAX_TIMES (20) hops
        server.overrides[f"/products/hop/{hop}"] = (302, {"Location": f"/products/hop/{hop + 1}"}, b"")
    return "products/p02.html"


def _robots_disallow(server: SiteServer) -> str:
    robots = b"User-agent: *\nDisallow: /private/\nDisallow: /products/p03.html\n"
    server.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"}, robots)
    return "products/p03.html"


BREAKAGES: dict[str, tuple[Callable[[SiteServer], str], str]] = {
    "gzip-bomb": (_gzip_bomb, "body over the size limit after decompression"),
    "redirect-loop": (_redirect_loop, "redirect loop"),
    "too-many-redirects": (_too_many_redirects, "too many redirects"),
    "robots-disallow": (_robots_disallow, "disallowed by robots.txt"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_a_known_page_given_up_on_is_recorded_counted_and_reported(
        breakage: str, run_cli, sqlite_url: str, site_server) -> None:
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)
    baseline = runs(sqlite_url)[-1]
    assert baseline.status == "finished"

    break_page, reason = BREAKAGES[breakage]
    path = break_page(server)
    url = f"{server.url}/{path}"
    result = crawl(run_cli, sqlite_url)
    first = runs(sqlite_url)[-1]
    rows = [f for f in fetches(sqlite_url) if f.run_id == first.id and f.outcome == "error"
            and reason in (f.error or "")]
    assert len(rows) == 1, [(f.final_url, f.error) for f in fetches(sqlite_url) if f.run_id == first.id and f.error]
    assert rows[0].sha256 is None
    # the run's summary counts it: one error more than the baseline (its 404)
    assert first.errors == baseline.errors + 1
    line = next(line for line in result.stderr.splitlines() if line.startswith("shop: "))
    assert f"{first.errors} errors" in line, line

    crawl(run_cli, sqlite_url)  # failing again: CLAIMWATCH_ERROR_THRESHOLD (2) consecutive failures
    report = json.loads(run_cli("changes", "--format", "json", db=sqlite_url).stdout)
    events = [e for e in report["events"] if e["url"] == url]
    assert [e["event"] for e in events] == ["error"], report["events"]
    assert reason in events[0]["detail"]
    assert report["changes"] == [], "a page that could not be fetched had its statements reported removed"


def test_a_recrawl_obeys_robots_txt_from_its_first_request(run_cli, sqlite_url: str, site_server) -> None:
    # a re-crawl requests its known pages all at once, while robots.txt is still being fetched: every one
    # of them waits for it and is checked (Scrapy 2.19 let all but one of those waiting through)
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)
    server.overrides["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\nDisallow: /products/p\n")
    seen = len(server.requests)
    crawl(run_cli, sqlite_url)
    fetched = [path for _m, path, _h in server.requests[seen:] if path.startswith("/products/p")]
    assert fetched == [], f"robots.txt disallows them: {fetched}"
    run = runs(sqlite_url)[-1].id
    refused = [f for f in fetches(sqlite_url) if f.run_id == run and f.error == "disallowed by robots.txt"]
    assert len(refused) == 30


def test_links_robots_txt_disallows_are_still_not_pages(run_cli, sqlite_url: str, site_server) -> None:
    # only known pages (and start URLs) are recorded when robots.txt refuses them: /private/ links are not
    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    assert not [f for f in fetches(sqlite_url) if "robots" in (f.error or "")]
    assert not [p for _m, p, _h in server.requests if p.startswith("/private/")]


def test_a_site_refusing_connections_fails_the_crawl_with_the_reason(run_cli, db_url: str) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound but never listening: every connection is refused
        port = closed.getsockname()[1]
        setup_site(run_cli, db_url, "shop", f"http://127.0.0.1:{port}/products/")
        result = crawl(run_cli, db_url, ok=False)
    assert result.exit_code != 0
    line = next(line for line in result.stderr.splitlines() if line.startswith("shop: "))
    assert "unreachable: connection refused" in line and "finished" not in line, line
    [run] = runs(db_url)
    assert run.status == "failed" and (run.detail or "").startswith("unreachable: connection refused")


def test_an_unknown_host_fails_the_crawl_with_the_reason(run_cli, sqlite_url: str) -> None:
    setup_site(run_cli, sqlite_url, "shop", "http://shop.invalid/products/")
    result = crawl(run_cli, sqlite_url, ok=False)
    assert result.exit_code != 0
    line = next(line for line in result.stderr.splitlines() if line.startswith("shop: "))
    assert "unreachable: unknown host" in line and "finished" not in line, line


UNREACHABLE_CASES = [
    # (status, error) of a run's fetches -> the reason it was unreachable, or None
    ([], None),
    ([(None, "unreachable: connection refused (127.0.0.1:9)")], "connection refused"),
    ([(None, "unreachable: unknown host (DNS lookup failed)"), (None, "unreachable: connection refused (x)"),
      (None, "unreachable: unknown host (DNS lookup failed)")], "unknown host"),
    ([(None, "unreachable: connection refused (x)"), (200, None)], None),  # one page answered
    ([(None, "unreachable: connection refused (x)"), (None, "timeout after 30 s")], None),
    ([(503, None)], None),
]


@pytest.mark.parametrize(("fetched", "expected"), UNREACHABLE_CASES)
def test_unreachable_reason(fetched: list[tuple[int | None, str | None]], expected: str | None) -> None:
    assert unreachable_reason(fetched) == expected
