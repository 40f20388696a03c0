"""Crawl runs: started, finished, failed or interrupted; stale runs of dead processes are closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from monitor.fetch_errors import UNREACHABLE, unreachable_reason
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
    """Close a run once: a run already closed keeps its first status. A crawl that finished without reaching
    its site at all (every fetch failed to connect) is a failed run, "unreachable: <why>"."""
    run = session.get(CrawlRun, run_id)
    if run is None or run.status != "running":
        return
    reason = _unreachable(session, run_id) if status == "finished" else None
    if reason is not None:
        status, detail = "failed", f"{UNREACHABLE}{reason}"
    run.status = status
    run.finished_at = at or utcnow()
    if detail:
        run.detail = detail[-4000:]
    count_run(session, run)


def _unreachable(session: Session, run_id: int) -> str | None:
    """Why a run reached nothing of its site ("connection refused"); None when any fetch got an answer."""
    fetched = select(Fetch.status, Fetch.error).where(Fetch.run_id == run_id)
    answered = fetched.where(or_(Fetch.status.is_not(None), Fetch.error.is_(None),
                                 ~Fetch.error.startswith(UNREACHABLE, autoescape=True)))
    if session.execute(answered.limit(1)).first() is not None:
        return None
    return unreachable_reason(session.execute(fetched).tuples().all())


def mark_interrupted(session: Session, run_id: int, why: str) -> None:
    """Record a run stopped on purpose (Ctrl-C, SIGTERM) as interrupted, whatever its crawl process made of
    the stop (a clean "interrupted", or "failed" when it had to be killed); ``why`` leads its detail."""
    run = session.get(CrawlRun, run_id)
    if run is None:
        return
    if run.status == "running":
        finish_run(session, run_id, "interrupted", why)
        return
    run.status = "interrupted"
    if not (run.detail or "").startswith(why):  # the reason first, then the end of what the crawl said
        run.detail = f"{why}\n{run.detail[-(3999 - len(why)):]}" if run.detail else why[:4000]


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
