"""Deeply nested markup (issue 15, item 4): read whole, or, past the parser's limit, not analysed at all.

Past 255 levels lxml's HTML parser used to stop and drop the rest of the page, so a seller page (or an
attacker's) wrapped in 300 divs read as a page whose DSHEA disclaimer, claims and guarantee were removed.
"""

from __future__ import annotations

import json

import pytest
from crawlkit import counts, crawl, fetches, setup_site

from monitor.extract import analyse_page
from monitor.normalize import MAX_DEPTH, IncompleteParseError, html_to_blocks

DISCLAIMER = ("*These statements have not been evaluated by the Food and Drug Administration. This product is "
              "not intended to diagnose, treat, cure, or prevent any disease.")


def product_page(depth: int) -> str:
    """A product page whose claim, guarantee and disclaimer come after ``depth`` nested divs."""
    return (
        "<!DOCTYPE html><html><head><title>Calm Joint</title></head><body><main><h1>Calm Joint capsules</h1>"
        + "<div>" * depth + "<p>Ingredients: turmeric root extract.</p>" + "</div>" * depth
        + "<p>Calm Joint supports joint comfort and flexibility.</p>"
        + "<p>Try it risk-free: 60-day money-back guarantee, a full refund.</p></main>"
        + f"<footer><p>{DISCLAIMER}</p></footer></body></html>"
    )


EXPECTED = {("claim", "structure_function"), ("guarantee", "money_back"), ("disclaimer", "fda")}


@pytest.mark.parametrize("depth", [0, 256, 300, 1_500, MAX_DEPTH - 10])
def test_statements_after_deep_nesting_are_found(depth: int) -> None:
    analysis = analyse_page(product_page(depth))
    assert {(s.kind, s.type) for s in analysis.statements} >= EXPECTED
    assert [block.text for block in analysis.blocks][-1] == DISCLAIMER


@pytest.mark.parametrize("markup", ["<div>", "<b>", "<ul><li>", "<table><tr><td>"])
def test_a_parse_cut_short_is_an_error_not_a_shorter_page(markup: str) -> None:
    html = "<html><body><p>Supports joint comfort.</p>" + markup * (MAX_DEPTH + 50) + f"<p>{DISCLAIMER}</p>"
    with pytest.raises(IncompleteParseError, match="stopped at line 1"):
        html_to_blocks(html)


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")


def test_a_crawl_never_reads_deep_nesting_as_removed_statements(run_cli, sqlite_url, site_server, tmp_path) -> None:
    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text('<html><body><a href="/product.html">Calm Joint</a></body></html>')
    (root / "product.html").write_text(product_page(0))
    server = site_server(root, noise=False)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    baseline = counts(sqlite_url)

    # the same text, 300 levels deep: read whole, nothing changed
    html = {"Content-Type": "text/html; charset=utf-8"}
    server.overrides["/product.html"] = (200, html, product_page(300).encode())
    crawl(run_cli, sqlite_url)
    assert [f.outcome for f in fetches(sqlite_url) if (f.final_url or "").endswith("/product.html")] == ["new", "unchanged"]

    # deeper than the parser goes: the fetch is an analysis error, the page keeps its snapshot
    server.overrides["/product.html"] = (200, html, product_page(MAX_DEPTH + 100).encode())
    crawl(run_cli, sqlite_url)
    last = [f for f in fetches(sqlite_url) if (f.final_url or "").endswith("/product.html")][-1]
    assert last.outcome == "error" and last.status == 200
    assert (last.error or "").startswith("not analysed: IncompleteParseError: the HTML parser stopped"), last.error
    after = counts(sqlite_url)
    assert after.snapshots == baseline.snapshots and after.changes == 0
    assert json.loads(run_cli("changes", "--format", "json", db=sqlite_url).stdout)["changes"] == []


def test_reextract_leaves_a_snapshot_it_cannot_parse_whole_as_it_is(sqlite_url) -> None:
    # a body stored before parses that stop early were refused: re-extraction must not empty its snapshot
    from datetime import UTC, datetime

    from crawlkit import shop_database

    from monitor.reextract import reextract
    from monitor.store import FetchResult, PageContent, snapshot_statements, store_page

    engine, sessions, site_id = shop_database(sqlite_url)
    statements = analyse_page(product_page(0)).statements
    with sessions.begin() as session:
        stored = store_page(session, FetchResult(
            site_id=site_id, run_id=None, url="http://127.0.0.1:1/product.html", status=200,
            fetched_at=datetime(2026, 1, 1, tzinfo=UTC), body=product_page(MAX_DEPTH + 100).encode()),
            PageContent(text="old", fingerprint="old", statements=statements, extractor_version="old"))
    summary = reextract(sessions, force=True)
    with sessions.begin() as session:
        assert summary.skipped == 1 and summary.snapshots == 0
        assert stored.snapshot_id is not None
        assert [s.text for s in snapshot_statements(session, stored.snapshot_id)] == [s.text for s in statements]
    engine.dispose()
