"""JavaScript pages: a render_js site goes through scrapy-playwright and the system Chromium, so statements
that only a script writes are extracted; the same pages over plain HTTP do not have them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import chromium_path
from crawlkit import crawl, fetches, setup_site

from monitor.warc import read_record

JS_SHOP = Path(__file__).resolve().parent / "sites" / "js"


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.1")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")


def _home_statements(run_cli, db: str, site: str) -> list[dict[str, str]]:
    exported = run_cli("export", "--format", "json", "--site", site, db=db)
    assert exported.exit_code == 0, exported.stderr
    pages = {page["url"].rstrip("/").rsplit("/", 1)[-1]: page for page in json.loads(exported.stdout)["pages"]}
    assert {"about.html"} <= set(pages) and len(pages) == 2
    home = next(page for name, page in pages.items() if name != "about.html")
    return home["statements"]


def test_script_written_statements_only_with_render_js(run_cli, sqlite_url, site_server, tmp_path,
                                                        monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_CHROMIUM", chromium_path())
    server = site_server(JS_SHOP)
    setup_site(run_cli, sqlite_url, "rendered", f"{server.url}/", "--render-js")
    assert run_cli("sites", "add", "plain", "--url", f"{server.url}/", db=sqlite_url).exit_code == 0
    result = crawl(run_cli, sqlite_url)
    assert "rendered: finished, 2 pages" in result.stderr and "plain: finished, 2 pages" in result.stderr

    rendered = _home_statements(run_cli, sqlite_url, "rendered")
    plain = _home_statements(run_cli, sqlite_url, "plain")
    kinds = {(s["kind"], s["type"]) for s in rendered}
    assert ("guarantee", "money_back") in kinds
    assert ("claim", "disease") in kinds  # arrives 150 ms after a fetch(): the crawl waited for it
    assert any("60-day money-back guarantee" in s["text"] for s in rendered)
    assert any("cure arthritis" in s["text"] for s in rendered)
    # both see the static statements; only the rendered crawl sees what the script wrote
    assert ("claim", "structure_function") in {(s["kind"], s["type"]) for s in plain}
    assert not any(s["kind"] == "guarantee" or s["type"] == "disease" for s in plain)

    # the browser asked for the script's data, with claimwatch's honest User-Agent on the page request
    paths = [(path, headers) for _method, path, headers in server.requests]
    assert any(path == "/claims.json" for path, _headers in paths)
    page_agents = {headers.get("User-Agent") or headers.get("user-agent") for path, headers in paths if path == "/"}
    assert all(agent and agent.startswith("claimwatch/") for agent in page_agents)

    # rendered pages are archived as the DOM Chromium built, marked as such; plain ones as sent
    data = tmp_path / "data"
    by_site = {}
    for fetch in fetches(sqlite_url):
        assert fetch.warc_path is not None and fetch.warc_offset is not None
        record = read_record(data, fetch.warc_path, fetch.warc_offset)
        by_site.setdefault(fetch.warc_path.split("/")[-1].split("-run")[0], []).append((fetch, record))
    for fetch, record in by_site["rendered"]:
        assert record.warc_header("Claimwatch-Rendered")
        assert record.http_status == 200
        assert hashlib.sha256(record.payload).hexdigest() == fetch.sha256
    assert any(b"cure arthritis" in record.payload for _fetch, record in by_site["rendered"])
    assert all(record.warc_header("Claimwatch-Rendered") is None for _fetch, record in by_site["plain"])


def test_render_js_without_chromium_is_a_clear_error(run_cli, sqlite_url, site_server, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_CHROMIUM", "/nonexistent/chromium")
    server = site_server(JS_SHOP)
    setup_site(run_cli, sqlite_url, "rendered", f"{server.url}/", "--render-js")
    result = crawl(run_cli, sqlite_url, ok=False)
    assert result.exit_code == 1
    assert "render_js needs Chromium" in result.stderr and "/nonexistent/chromium" in result.stderr
    assert not server.requests  # nothing was fetched half-configured


def test_a_refused_render_js_site_does_not_stop_the_others(run_cli, sqlite_url, site_server, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_CHROMIUM", "/nonexistent/chromium")
    rendered = site_server(JS_SHOP)
    plain = site_server(JS_SHOP)
    setup_site(run_cli, sqlite_url, "rendered", f"{rendered.url}/", "--render-js")
    assert run_cli("sites", "add", "plain", "--url", f"{plain.url}/", db=sqlite_url).exit_code == 0
    result = crawl(run_cli, sqlite_url, ok=False)
    assert result.exit_code == 1 and "crawl did not finish for: rendered" in result.stderr
    assert "plain: finished" in result.stderr
    assert plain.requests and not rendered.requests
