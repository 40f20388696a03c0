"""What `claimwatch status` shows: sites, their last and next runs, the outbox and the daemon's heartbeat.

Reads only. Next run times come from the scheduler's job table (written by `claimwatch run`); without a
daemon ever started there are none.

>>> collect_status(session)["outbox"]                                   # doctest: +SKIP
{'pending': 0, 'failed': 0, 'unknown': 0}
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, inspect, select, text
from sqlalchemy.orm import Session

from monitor.leases import current_leases
from monitor.models import CrawlRun, DaemonHeartbeat, Outbox, Site, utcnow

JOBS_TABLE = "apscheduler_jobs"  # the scheduler's SQLAlchemy job store (monitor.scheduler.JOBS_TABLE)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if moment else None


def next_run_times(session: Session) -> dict[str, datetime | None]:
    """Job id (``crawl:<site>``, ``digest``) -> its next run time, from the job store's own table."""
    connection = session.connection()
    if not inspect(connection).has_table(JOBS_TABLE):
        return {}
    rows = connection.execute(text(f"SELECT id, next_run_time FROM {JOBS_TABLE}"))
    return {job_id: datetime.fromtimestamp(float(when), UTC) if when is not None else None
            for job_id, when in rows}


def collect_status(session: Session, *, stale_after: float = 15.0, now: datetime | None = None) -> dict[str, Any]:
    """Everything `claimwatch status` prints, as plain JSON-ready data."""
    now = now or utcnow()
    jobs = next_run_times(session)
    leases = current_leases(session)
    latest = select(CrawlRun.site_id, func.max(CrawlRun.id).label("run_id")).group_by(CrawlRun.site_id).subquery()
    last_runs = {run.site_id: run for run in session.scalars(
        select(CrawlRun).join(latest, latest.c.run_id == CrawlRun.id))}
    sites = []
    for site in session.scalars(select(Site).order_by(Site.name)):
        run = last_runs.get(site.id)
        lease = leases.get(site.name)
        sites.append({
            "name": site.name,
            "enabled": site.enabled,
            "schedule": site.schedule,
            "next_run": _iso(jobs.get(f"crawl:{site.name}")),
            "crawling": ({"holder": lease.holder, "since": _iso(lease.acquired_at)}
                         if lease is not None and lease.expires_at > now else None),
            "last_run": None if run is None else {
                "id": run.id, "status": run.status, "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at), "pages": run.pages, "new_snapshots": run.new_snapshots,
                "changes": run.changes, "errors": run.errors, "log": run.log_path,
            },
        })
    outbox = {status: count for status, count in session.execute(
        select(Outbox.status, func.count()).group_by(Outbox.status))}
    beat = session.get(DaemonHeartbeat, 1)
    age = (now - beat.beat_at).total_seconds() if beat is not None else None
    return {
        "daemon": {
            "running": age is not None and age < stale_after,
            "holder": beat.holder if beat is not None else None,
            "started_at": _iso(beat.started_at) if beat is not None else None,
            "heartbeat_at": _iso(beat.beat_at) if beat is not None else None,
            "heartbeat_age_seconds": round(age, 1) if age is not None else None,
        },
        "digest": {"next_run": _iso(jobs.get("digest"))},
        # unknown: the server may have stored it but never said so; it is re-sent only by `outbox retry --unknown`
        "outbox": {"pending": int(outbox.get("pending", 0)), "failed": int(outbox.get("failed", 0)),
                   "unknown": int(outbox.get("unknown", 0))},
        "sites": sites,
    }
