"""Change detection end to end: crawl v1, crawl v2, and exactly the expected changes and events are stored.

The fixture pairs and their expected change sets are tests/sites/changes/ and expected.yaml; the server adds
fresh noise (timestamps, tokens, counters, prices, shuffled lists) on every request.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from crawlkit import counts, crawl, rows, setup_site

from monitor.models import Change

CHANGES = Path(__file__).resolve().parent / "sites" / "changes"
EXPECTED: dict[str, Any] = yaml.safe_load((CHANGES / "expected.yaml").read_text())["cases"]


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")  # screenshots have tests of their own (test_evidence)
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.05")


def _stored_changes(db: str) -> list[Change]:
    return rows(db, Change)


def _matches(row: Change, want: dict[str, Any]) -> bool:
    for field in ("change", "kind", "type", "severity", "before_type"):
        if field in want and getattr(row, field) != want[field]:
            return False
    for field in ("before", "after"):
        if field in want and want[field].lower() not in (getattr(row, field) or "").lower():
            return False
    for key, value in (want.get("delta") or {}).items():
        if key == "terms_include":
            if not set(value) <= set(row.delta.get("terms", [])):
                return False
        elif row.delta.get(key) != value:
            return False
    return True


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_v1_to_v2_records_exactly_the_expected_changes(case: str, run_cli, sqlite_url, site_server) -> None:
    expected = EXPECTED[case]
    server = site_server(CHANGES / case / "v1")
    setup_site(run_cli, sqlite_url, case, f"{server.url}/")
    crawl(run_cli, sqlite_url)
    crawl(run_cli, sqlite_url)  # the same version again, with fresh noise: nothing may be recorded
    assert _stored_changes(sqlite_url) == []
    snapshots_v1 = counts(sqlite_url).snapshots
    server.set_root(CHANGES / case / "v2")
    crawl(run_cli, sqlite_url)
    crawl(run_cli, sqlite_url)  # and once more: a change is recorded once
    rows = _stored_changes(sqlite_url)
    wanted = expected["changes"]
    unmatched = [want for want in wanted if not any(_matches(row, want) for row in rows)]
    assert not unmatched, f"missing {unmatched}; stored {[(r.change, r.type, r.severity, r.before, r.after) for r in rows]}"
    assert len(rows) == len(wanted), [(r.change, r.type, r.severity, r.before, r.after) for r in rows]
    if expected.get("same_content"):
        assert counts(sqlite_url).snapshots == snapshots_v1


def _events(run_cli, db: str, pages: tuple[str, ...] = ("", "offer.html")) -> list[tuple[str, str]]:
    """Events of the pages under test (the fixture pages also link to pages that do not exist)."""
    document = json.loads(run_cli("changes", "--format", "json", db=db).stdout)
    found = [(e["url"].split("/", 3)[3], e["event"]) for e in document["events"]]
    return [(name, event) for name, event in found if name in pages]


def test_outage_is_an_error_event_then_recovered_never_removed_statements(run_cli, db_url, site_server) -> None:
    server = site_server(CHANGES / "guarantee_shortened" / "v1")
    setup_site(run_cli, db_url, "shop", f"{server.url}/")
    crawl(run_cli, db_url)
    export_before = json.loads(run_cli("export", db=db_url).stdout)
    server.overrides["/"] = (503, {"Content-Type": "text/html"}, b"<h1>Service unavailable</h1>")
    crawl(run_cli, db_url)
    assert _events(run_cli, db_url) == [], "one failure is not yet an error event (threshold 2)"
    crawl(run_cli, db_url)
    assert _events(run_cli, db_url) == [("", "error")]
    assert json.loads(run_cli("export", db=db_url).stdout)["pages"] == export_before["pages"], (
        "the last good snapshot must stay current during an outage")
    server.overrides.pop("/")
    crawl(run_cli, db_url)
    assert _events(run_cli, db_url) == [("", "error"), ("", "recovered")]
    assert _stored_changes(db_url) == []


def test_timeouts_and_connection_errors_are_errors_not_removals(run_cli, sqlite_url, site_server,
                                                                  monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_DOWNLOAD_TIMEOUT", "1")
    server = site_server(CHANGES / "dshea_removed" / "v1")
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    server.delays["/"] = 2.5
    crawl(run_cli, sqlite_url)
    crawl(run_cli, sqlite_url)
    server.stop()  # connection refused from now on
    refused = crawl(run_cli, sqlite_url, ok=False)
    assert refused.exit_code != 0 and "unreachable: connection refused" in refused.stderr  # a failed run
    assert _stored_changes(sqlite_url) == []
    assert ("", "error") in _events(run_cli, sqlite_url)


def test_404_on_consecutive_crawls_is_gone(run_cli, sqlite_url, site_server) -> None:
    server = site_server(CHANGES / "guarantee_removed" / "v1")
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    server.overrides["/"] = (404, {"Content-Type": "text/html"}, b"<h1>Not found</h1>")
    crawl(run_cli, sqlite_url)
    assert _events(run_cli, sqlite_url) == []
    crawl(run_cli, sqlite_url)
    assert _events(run_cli, sqlite_url) == [("", "gone")]
    crawl(run_cli, sqlite_url)
    assert _events(run_cli, sqlite_url) == [("", "gone")], "gone is reported once"
    assert _stored_changes(sqlite_url) == []


def test_permanent_redirect_is_moved_and_history_continues(run_cli, db_url, site_server, tmp_path) -> None:
    root = tmp_path / "site"
    (root / "new").mkdir(parents=True)
    page = (CHANGES / "guarantee_shortened" / "v1" / "index.html").read_text()
    (root / "offer.html").write_text(page)
    (root / "index.html").write_text('<html><body><a href="/offer.html">Offer</a></body></html>')
    server = site_server(root)
    setup_site(run_cli, db_url, "shop", f"{server.url}/")
    crawl(run_cli, db_url)
    (root / "new" / "offer.html").write_text(page)
    server.overrides["/offer.html"] = (301, {"Location": "/new/offer.html"}, b"")
    crawl(run_cli, db_url)
    crawl(run_cli, db_url)
    assert _events(run_cli, db_url) == [("offer.html", "moved")]
    assert _stored_changes(db_url) == [], "a move alone is not a change of statements"
    exported = {p["url"].split("/", 3)[3]: p for p in json.loads(run_cli("export", db=db_url).stdout)["pages"]}
    assert "new/offer.html" in exported
    # the page keeps its history under the new URL: a later edit there is diffed against the old snapshot
    (root / "new" / "offer.html").write_text(
        (CHANGES / "guarantee_shortened" / "v2" / "index.html").read_text())
    crawl(run_cli, db_url)
    rows = _stored_changes(db_url)
    assert [(r.change, r.type, r.delta.get("days")) for r in rows] == [("modified", "money_back", [90, 30])]


def test_ab_test_flipping_between_variants_is_reported_once(run_cli, sqlite_url, site_server) -> None:
    server = site_server(CHANGES / "disease_claim_added" / "v1")
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    for version in ("v2", "v1", "v2", "v1", "v2"):
        server.set_root(CHANGES / "disease_claim_added" / version)
        crawl(run_cli, sqlite_url)
    rows = _stored_changes(sqlite_url)
    assert [(r.change, r.type) for r in rows] == [("added", "disease")]
    assert counts(sqlite_url).snapshots == 2
