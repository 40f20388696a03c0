"""The SQLite full-text index of statements is filled in bulk (migration 0007, monitor.fulltext): a new
statement is queued, and indexed at its run's end, after ``reextract`` or before a search; an analyst's search
finds every stored statement, and deleting statements, queued or indexed, keeps the index exact."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from report_fixtures import add_page, add_site, add_snapshot, make_database
from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from monitor.db import downgrade, make_engine, upgrade
from monitor.models import CrawlRun, Site, StatementRow
from monitor.runs import finish_run
from monitor.web.search import SearchQuery, search_statements

WHEN = datetime(2026, 12, 1, 9, tzinfo=UTC)
STATEMENTS = [("claim", "disease", "Reverses arthritis in weeks."), ("claim", "disease", "Cures gout for good."),
              ("guarantee", "money_back", "90-day money-back guarantee.")]


def _queued(session: Session) -> int:
    return session.execute(text("SELECT count(*) FROM statement_fts_pending")).scalar_one()


def _indexed(session: Session, word: str) -> list[str]:
    ids = select(text("rowid")).select_from(text("statement_fts")).where(text("statement_fts MATCH :w"))
    return sorted(session.scalars(select(StatementRow.text).where(StatementRow.id.in_(ids)),
                                  {"w": word}))


def _assert_exact(session: Session) -> None:
    """FTS5's own check of an external-content index against its table (raises when they differ)."""
    session.execute(text("INSERT INTO statement_fts(statement_fts, rank) VALUES ('integrity-check', 1)"))


def _stored(sessions: sessionmaker[Session], seller: str = "amberroot") -> int:
    """A seller's running crawl run and one page's snapshot of STATEMENTS; the run's id."""
    with sessions.begin() as session:
        site = add_site(session, seller)
        run = CrawlRun(site_id=site.id, status="running")
        session.add(run)
        page = add_page(session, site, f"https://{seller}.example/", when=WHEN)
        add_snapshot(session, page, when=WHEN, statements=STATEMENTS)
        session.flush()
        return run.id


def test_a_runs_statements_are_queued_then_indexed_when_the_run_ends(tmp_path: Path) -> None:
    sessions = make_database(tmp_path / "db.sqlite")
    run_id = _stored(sessions)
    with sessions() as session:
        assert _queued(session) == 3 and _indexed(session, "arthritis") == []
    with sessions.begin() as session:
        finish_run(session, run_id, "finished")
    with sessions() as session:
        assert _queued(session) == 0
        assert _indexed(session, "arthritis") == ["Reverses arthritis in weeks."]
        assert _indexed(session, "cure") == ["Cures gout for good."]  # porter stemming, as before
        _assert_exact(session)


def test_a_search_finds_statements_of_a_run_still_running(tmp_path: Path) -> None:
    """A crawl killed before its run ended (or one still crawling) leaves its statements queued: the search
    indexes them first."""
    sessions = make_database(tmp_path / "db.sqlite")
    _stored(sessions)
    with sessions() as session:
        hits = search_statements(session, "sqlite", SearchQuery(text="gout"))
        assert [hit.text for hit in hits] == ["Cures gout for good."]
        assert _queued(session) == 0
        _assert_exact(session)


def test_deleting_queued_and_indexed_statements_keeps_the_index_exact(tmp_path: Path) -> None:
    sessions = make_database(tmp_path / "db.sqlite")
    run_id = _stored(sessions)
    with sessions.begin() as session:
        finish_run(session, run_id, "finished")  # the first three: indexed
        site_page = session.scalars(select(StatementRow.snapshot_id)).first()
        session.add(StatementRow(snapshot_id=site_page, position=9, kind="claim", type="disease",
                                 text="Dissolves kidney stones.", key="dissolves kidney stones", attributes={},
                                 severity="high", rule="model", matched=[]))
    with sessions.begin() as session:  # one indexed, one queued
        session.execute(delete(StatementRow).where(StatementRow.text.in_(
            ["Cures gout for good.", "Dissolves kidney stones."])))
    with sessions.begin() as session:
        assert _queued(session) == 0
        session.execute(text("UPDATE statement SET text = 'Reverses arthritis and gout.' WHERE text LIKE 'Rev%'"))
    with sessions.begin() as session:
        hits = search_statements(session, "sqlite", SearchQuery(text="gout"))
        assert [hit.text for hit in hits] == ["Reverses arthritis and gout."]
        _assert_exact(session)
        assert session.scalar(select(func.count()).select_from(StatementRow)) == 2


def test_removing_a_seller_takes_its_statements_out_of_the_index_and_the_queue(tmp_path: Path) -> None:
    """Statements go with their seller by the database's cascades; the triggers see those deletions too."""
    sessions = make_database(tmp_path / "db.sqlite")
    run_id = _stored(sessions)
    with sessions.begin() as session:
        finish_run(session, run_id, "finished")
        site = session.scalars(select(Site)).one()
        later = add_page(session, site, "https://amberroot.example/gout", when=WHEN)
        add_snapshot(session, later, when=WHEN, statements=[("claim", "disease", "Stops gout flares overnight.")])
    with sessions.begin() as session:
        assert _queued(session) == 1
        session.execute(delete(Site))
    with sessions.begin() as session:
        assert _queued(session) == 0 and _indexed(session, "gout") == []
        _assert_exact(session)


def test_the_migration_keeps_every_statement_searchable_both_ways(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        upgrade(engine, "0006")  # row-by-row indexing
        sessions = sessionmaker(engine)
        _stored(sessions)
        upgrade(engine)
        with sessions() as session:
            assert _queued(session) == 0 and _indexed(session, "arthritis") == ["Reverses arthritis in weeks."]
        _stored(sessions, "brightmere")  # queued under 0007
        downgrade(engine, "0006")  # the queue is indexed on the way down
        with sessions() as session:
            assert len(_indexed(session, "arthritis")) == 2
            _assert_exact(session)
    finally:
        engine.dispose()
