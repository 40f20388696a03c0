"""Crawl runs: started, finished, failed or interrupted; stale runs of dead processes are closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.models import Change, CrawlRun, Fetch, Snapshot, utcnow
from monitor.processes import pid_alive


def start_run(session: Session, site_id: int, log_path: str | None = None) -> CrawlRun:
    run = CrawlRun(site_id=site_id, status="running", started_at=utcnow(), log_path=log_path,
                   pages=0, new_snapshots=0, changes=0, errors=0)
    session.add(run)
    session.flush()
    return run


def finish_run(session: Session, run_id: int, status: str, detail: str | None = None,
               at: datetime | None = None) -> None:
    """Close a run once: a run already closed keeps its first status."""
    run = session.get(CrawlRun, run_id)
    if run is None or run.status != "running":
        return
    run.status = status
    run.finished_at = at or utcnow()
    if detail:
        run.detail = detail[-4000:]
    count_run(session, run)


def count_run(session: Session, run: CrawlRun) -> None:
    """Fill a run's counters from what it stored (cheaper than bumping them on every page)."""
    def count(query: Any) -> int:
        return int(session.scalar(query) or 0)

    run.pages = count(select(func.count()).select_from(Fetch).where(Fetch.run_id == run.id))
    run.errors = count(select(func.count()).select_from(Fetch)
                       .where(Fetch.run_id == run.id, Fetch.outcome == "error"))
    run.new_snapshots = count(select(func.count()).select_from(Snapshot).join(Fetch, Fetch.id == Snapshot.fetch_id)
                              .where(Fetch.run_id == run.id))
    run.changes = count(select(func.count()).select_from(Change).where(Change.run_id == run.id))


def close_stale_runs(session: Session, site_id: int | None = None) -> int:
    """Runs left 'running' by a process that no longer exists are recorded as interrupted."""
    query = select(CrawlRun).where(CrawlRun.status == "running")
    if site_id is not None:
        query = query.where(CrawlRun.site_id == site_id)
    closed = 0
    for run in session.scalars(query):
        if not pid_alive(run.pid):
            finish_run(session, run.id, "interrupted", "the crawl process ended without closing the run")
            closed += 1
    return closed
