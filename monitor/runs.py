"""A crawl run's life, in one place: started (``start_run``, by `claimwatch crawl` before the crawl process
starts), ended by the crawl process once its pages are stored (``run_screenshots``, then ``finish_run`` on its
storage thread: pipelines/store.py), or, when that process could not,
by `claimwatch crawl` from how it exited (``finish_run``, ``mark_interrupted``); runs left 'running' by a
process that no longer exists are closed (``close_stale_runs``)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from monitor.fetch_errors import UNREACHABLE, unreachable_reason
from monitor.fulltext import index_pending
from monitor.models import Change, CrawlRun, Fetch, Snapshot, utcnow
from monitor.processes import pid_alive

if TYPE_CHECKING:
    from monitor.config import Settings

log = logging.getLogger(__name__)


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
    index_pending(session)  # the run's statements into the full-text index, in one statement


def run_screenshots(settings: Settings, run_id: int) -> int:
    """Screenshots of the run's pages that got a high or medium change, before the run is ended; the number
    taken. Blocking (sync Playwright): called off the crawl's event loop. Missing screenshots never fail a
    finished crawl."""
    from monitor.screenshots import capture_run_screenshots

    try:
        taken = capture_run_screenshots(settings, run_id)
    except Exception as exc:  # noqa: BLE001 - missing screenshots must not fail a finished crawl
        log.error("screenshots failed: %s", exc)
        return 0
    if taken:
        log.info("took %d screenshots", taken)
    return taken


def _unreachable(session: Session, run_id: int) -> str | None:
    """Why a run reached nothing of its site ("connection refused"); None when any fetch got an answer."""
    fetched = select(Fetch.status, Fetch.error).where(Fetch.run_id == run_id)
    answered = fetched.where(or_(Fetch.status.is_not(None), Fetch.error.is_(None),
                                 ~Fetch.error.startswith(UNREACHABLE, autoescape=True)))
    if session.execute(answered.limit(1)).first() is not None:
        return None
    return unreachable_reason((status, error) for status, error in session.execute(fetched))


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
    """Fill a run's counters from what it stored (cheaper than bumping them on every page), in one query."""
    fetches = select(func.count()).select_from(Fetch).where(Fetch.run_id == run.id)
    counts = session.execute(select(
        fetches.scalar_subquery(),
        fetches.where(Fetch.outcome == "error").scalar_subquery(),
        select(func.count()).select_from(Snapshot).join(Fetch, Fetch.id == Snapshot.fetch_id)
        .where(Fetch.run_id == run.id).scalar_subquery(),
        select(func.count()).select_from(Change).where(Change.run_id == run.id).scalar_subquery(),
    )).one()
    run.pages, run.errors, run.new_snapshots, run.changes = (int(count or 0) for count in counts)


def close_stale_runs(session: Session, site_id: int | None = None) -> int:
    """Runs left 'running' by a process that no longer exists are recorded as interrupted.

    For one site (``site_id``: its crawl is about to start, under its lease) every such run of it; for all
    sites (a daemon starting), not the runs of a site whose lease is held and unexpired: that site is being
    crawled now, perhaps on another machine (a Celery worker), where its pid means nothing here."""
    from monitor.leases import holder_is_dead_here
    from monitor.models import SiteLease

    query = select(CrawlRun).where(CrawlRun.status == "running")
    if site_id is not None:
        query = query.where(CrawlRun.site_id == site_id)
    leased: set[int] = set()
    if site_id is None:
        now = utcnow()
        leased = {lease.site_id for lease in session.scalars(select(SiteLease))
                  if lease.expires_at > now and not holder_is_dead_here(lease.holder)}
    closed = 0
    for run in session.scalars(query):
        if run.site_id in leased:
            continue
        if not pid_alive(run.pid):
            finish_run(session, run.id, "interrupted", "the crawl process ended without closing the run")
            closed += 1
    return closed
