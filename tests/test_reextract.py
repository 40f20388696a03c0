"""`claimwatch reextract`: rules upgrades rewrite statements from stored bodies and never alert anyone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from crawlkit import counts, crawl, setup_site
from sqlalchemy import delete, select, update

from monitor.db import make_engine, make_session_factory
from monitor.extract import extractor_version
from monitor.models import Change, Snapshot, StatementRow, utcnow

DEMO = Path(__file__).resolve().parent.parent / "monitor" / "demo_sites"


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")  # screenshots have tests of their own (test_evidence)


def _changes(run_cli, db: str) -> list[tuple]:
    document = json.loads(run_cli("changes", "--format", "json", db=db).stdout)
    return sorted((c["url"], c["change"], c["type"], c["before"], c["after"], c["severity"])
                  for c in document["changes"])


def test_reextract_restores_statements_and_reports_nothing_new(run_cli, db_url, site_server) -> None:
    server = site_server(DEMO / "v1")
    setup_site(run_cli, db_url, "calmleg", f"{server.url}/calmleg/", "--allow", "/calmleg/")
    crawl(run_cli, db_url)
    server.set_root(DEMO / "v2")
    crawl(run_cli, db_url)
    expected_export = json.loads(run_cli("export", db=db_url).stdout)
    expected_changes = _changes(run_cli, db_url)
    assert expected_changes
    fetches_before = counts(db_url).fetches

    # an analyst already received every change; then the rules are upgraded: pretend the stored
    # statements came from an older, poorer extractor that missed every disease claim
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        session.execute(update(Change).values(reported_at=utcnow()))
        session.execute(delete(StatementRow).where(StatementRow.type == "disease"))
        session.execute(update(Snapshot).values(extractor_version="old-rules"))
    degraded = json.loads(run_cli("export", db=db_url).stdout)
    assert degraded != expected_export

    result = run_cli("reextract", db=db_url)
    assert result.exit_code == 0, result.stderr
    assert "re-extracted" in result.stderr
    assert json.loads(run_cli("export", db=db_url).stdout) == expected_export
    assert _changes(run_cli, db_url) == expected_changes
    assert counts(db_url).fetches == fetches_before, "re-extraction must not refetch"
    with sessions() as session:
        versions = set(session.scalars(select(Snapshot.extractor_version)))
        unreported = session.scalars(select(Change).where(Change.reported_at.is_(None))).all()
    engine.dispose()
    assert versions == {extractor_version()}
    assert unreported == [], "a rules upgrade was queued for analysts as a site change"

    # already current: a second run touches nothing
    again = run_cli("reextract", db=db_url)
    assert "re-extracted 0 snapshots" in again.stderr
