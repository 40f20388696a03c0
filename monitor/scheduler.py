"""The scheduling daemon behind `claimwatch run`: per-site crawls, the digest, alerts and mail delivery.

APScheduler 3 (``BackgroundScheduler``) keeps the schedules in the claimwatch database through its
SQLAlchemy job store (table ``apscheduler_jobs``), so a restart catches up what it missed (coalesced, within
the misfire grace time). Jobs name importable functions of this module with plain arguments (a site
name): the job store pickles references, never closures. The functions find the running ``Daemon``
through ``current_daemon()``; crawls go through the executor seam (``monitor.executor``) and never run
concurrently for one site (job ``max_instances=1`` in this process, the site lease across processes).

Jobs:

- ``crawl:<site>`` one per enabled site, the site's cron (+ random jitter), on the ``crawls`` executor;
- ``digest`` the digest email (``CLAIMWATCH_DIGEST_CRON``, default ``0 7 * * *`` in the configured zone);
- ``sync`` (in memory) reconciles the crawl jobs with the site table every ``CLAIMWATCH_SYNC_SECONDS``;
- ``outbox`` (in memory) retries mail delivery every ``CLAIMWATCH_OUTBOX_SECONDS``;
- ``catchup:<site>`` (in memory, once) re-crawls a site whose last run was interrupted.

The main thread writes the heartbeat row every ``CLAIMWATCH_HEARTBEAT_SECONDS`` and waits for a stop.
"""

from __future__ import annotations

import logging
import random
import threading
from concurrent.futures import CancelledError
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from monitor import mail
from monitor.config import DaemonSettings, Settings
from monitor.crawl import CrawlError, RunSummary
from monitor.db import make_session_factory
from monitor.executor import CrawlExecutor, ExecutorClosed, make_executor
from monitor.leases import LeaseBusy, LeaseError, holder_is_dead_here, lease_holder
from monitor.models import CrawlRun, DaemonHeartbeat, Site, utcnow
from monitor.runs import close_stale_runs
from monitor.schedules import CronError, cron_trigger, time_zone
from monitor.status import JOBS_TABLE

log = logging.getLogger("monitor.daemon")

CRAWL_PREFIX = "crawl:"
CATCHUP_PREFIX = "catchup:"
DIGEST_JOB = "digest"
HEARTBEAT_ID = 1

class DaemonError(RuntimeError):
    """The daemon cannot start; the message is one line for the user."""


# --- job functions: importable, plain arguments, looked up by the job store ----------------------------

_current: Daemon | None = None
_current_lock = threading.Lock()


def current_daemon() -> Daemon | None:
    with _current_lock:
        return _current


def _set_current(daemon: Daemon | None) -> None:
    global _current
    with _current_lock:
        _current = daemon


def crawl_job(site_name: str) -> None:
    """Scheduled crawl of one site (blocks until the crawl ends, so max_instances=1 spans it)."""
    daemon = current_daemon()
    if daemon is not None:
        daemon.crawl(site_name)


def digest_job() -> None:
    daemon = current_daemon()
    if daemon is not None:
        daemon.digest()


def deliver_job() -> None:
    daemon = current_daemon()
    if daemon is not None:
        daemon.deliver()


def sync_job() -> None:
    daemon = current_daemon()
    if daemon is not None:
        daemon.sync()


# --- the daemon ----------------------------------------------------------------------------------------


class Daemon:
    """One scheduler process: ``start()``, ``run()`` until ``request_stop()``, then a graceful stop."""

    def __init__(self, engine: Engine, settings: Settings, options: DaemonSettings,
                 executor: CrawlExecutor | None = None) -> None:
        self.engine = engine
        self.sessions = make_session_factory(engine)
        self.settings = settings
        self.options = options
        self.holder = lease_holder()
        self._executor = executor
        self._scheduler: Any = None
        self._stop = threading.Event()
        self._sync_lock = threading.Lock()
        self._bad_schedules: dict[str, str] = {}  # site -> schedule already reported as bad

    @property
    def executor(self) -> CrawlExecutor:
        if self._executor is None:
            self._executor = make_executor(self.sessions, self.settings, lease_ttl=self.options.lease_ttl)
        return self._executor

    # --- start ---------------------------------------------------------------------------------------------

    def check(self) -> None:
        """Fail with one line when the time zone, the digest cron or an enabled site's cron is bad."""
        problems: list[str] = []
        try:
            time_zone(self.settings.timezone)
        except CronError as exc:
            raise DaemonError(str(exc)) from None
        try:
            self._trigger(self.options.digest_cron, jitter=0)
        except CronError as exc:
            problems.append(f"CLAIMWATCH_DIGEST_CRON: {exc}")
        with self.sessions() as session:
            sites = session.execute(select(Site.name, Site.schedule).where(Site.enabled.is_(True))
                                    .order_by(Site.name)).all()
        for name, schedule in sites:
            try:
                self._trigger(schedule)
            except CronError as exc:
                problems.append(f"site {name}: {exc}")
        if problems:
            raise DaemonError("; ".join(problems))

    def start(self) -> None:
        """Check the configuration, take the heartbeat, close stale runs, schedule, start."""
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.triggers.interval import IntervalTrigger

        self.check()
        self._take_heartbeat()
        with self.sessions.begin() as session:
            closed = close_stale_runs(session)
        if closed:
            log.info("closed %d stale crawl run(s) of a previous daemon as interrupted", closed)
        # Crawl jobs block their thread for the whole crawl; more slots than crawl processes just queue
        # them in the executor, while housekeeping keeps its own small pool.
        crawl_slots = max(8, 4 * self.settings.max_parallel_crawls)
        scheduler = _scheduler_class()(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename=JOBS_TABLE),
                       "memory": MemoryJobStore()},
            executors={"default": ThreadPoolExecutor(4), "crawls": ThreadPoolExecutor(crawl_slots)},
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.options.misfire_grace},
            timezone=time_zone(self.settings.timezone),
        )
        self._scheduler = scheduler
        _set_current(self)
        scheduler.start(paused=True)  # catch-up and sync happen before the first job runs
        self._schedule_digest()
        self.sync()
        self._schedule_catchups()
        scheduler.add_job(sync_job, IntervalTrigger(seconds=self.options.sync_seconds), id="sync",
                          name="sync sites", jobstore="memory", replace_existing=True)
        scheduler.add_job(deliver_job, IntervalTrigger(seconds=self.options.outbox_seconds), id="outbox",
                          name="deliver outbox", jobstore="memory", replace_existing=True)
        scheduler.resume()
        log.info("daemon %s started: %d site(s) scheduled, digest %r (%s), %d parallel crawl(s)",
                 self.holder, len(self._crawl_jobs()), self.options.digest_cron, self.settings.timezone,
                 self.settings.max_parallel_crawls)

    def run(self) -> None:
        """Beat until a stop is requested, then stop gracefully."""
        try:
            while not self._stop.wait(self.options.heartbeat_seconds):
                self._beat()
        finally:
            self._shutdown()

    def request_stop(self, reason: str) -> None:
        """Ask the daemon to stop (safe from a signal handler)."""
        if not self._stop.is_set():
            log.info("stop requested (%s)", reason)
        self._stop.set()

    # --- jobs ----------------------------------------------------------------------------------------------

    def crawl(self, site_name: str) -> RunSummary | None:
        try:
            future = self.executor.submit(site_name)
        except ExecutorClosed:
            return None
        try:
            summary = future.result()
        except CancelledError:
            log.info("site %s: crawl not started: the daemon is stopping", site_name)
            return None
        except LeaseBusy as exc:
            log.warning("site %s: crawl skipped: %s", site_name, exc)
            return None
        except (LeaseError, CrawlError) as exc:
            log.error("site %s: crawl not started: %s", site_name, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - one crawl's trouble must not stop the daemon
            _failed(exc, "site %s: crawl could not run", site_name)
            return None
        level = logging.INFO if summary.status == "finished" else logging.WARNING
        first = (summary.detail or "").strip().splitlines()
        log.log(level, "site %s: crawl %s: %d pages, %d new snapshots, %d changes, %d errors (run %d, log %s)%s",
                site_name, summary.status, summary.pages, summary.new_snapshots, summary.changes,
                summary.errors, summary.run_id, summary.log_path, f": {first[0]}" if first else "")
        if self.options.alerts and summary.changes:
            self.alert(summary)
        return summary

    def alert(self, summary: RunSummary) -> None:
        try:
            with self.sessions.begin() as session:
                queued = mail.queue_alerts(session, self.settings, run_id=summary.run_id,
                                           min_severity=self.options.alert_min_severity)
            if queued:
                log.info("site %s: %d alert message(s) queued", summary.site, len(queued))
                self.deliver()
        except Exception as exc:  # noqa: BLE001
            _failed(exc, "site %s: could not queue alerts", summary.site)

    def digest(self) -> None:
        try:
            with self.sessions.begin() as session:
                queued = mail.queue_reports(session, self.settings, since=None, until=utcnow(),
                                            min_severity=self.options.digest_min_severity, kind="digest")
            log.info("digest: %d message(s) queued", len(queued))
        except Exception as exc:  # noqa: BLE001
            _failed(exc, "digest: could not build the digest")
            return
        self.deliver()

    def deliver(self) -> None:
        try:
            result = mail.deliver_outbox(self.sessions, self.settings)
        except Exception as exc:  # noqa: BLE001 - retried by the outbox job
            _failed(exc, "outbox: delivery failed")
            return
        if result:
            log.info("outbox: %s", result)

    def sync(self) -> None:
        """Reconcile the crawl jobs with the enabled sites: add, remove, re-schedule."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        with self._sync_lock:
            try:
                self._sync(scheduler)
            except Exception as exc:  # noqa: BLE001 - tried again at the next interval
                _failed(exc, "sync: could not reconcile the schedules with the site table")

    def _sync(self, scheduler: Any) -> None:
        with self.sessions() as session:
            sites = session.execute(select(Site.name, Site.schedule).where(Site.enabled.is_(True))).all()
        wanted = {CRAWL_PREFIX + name: (name, schedule) for name, schedule in sites}
        jobs = self._crawl_jobs()
        for job_id in sorted(jobs.keys() - wanted.keys()):
            scheduler.remove_job(job_id, jobstore="default")
            log.info("site %s: unscheduled (removed or disabled)", job_id.removeprefix(CRAWL_PREFIX))
        for job_id, (name, schedule) in sorted(wanted.items()):
            signature = self._signature(f"crawl {name}", schedule, self.options.jitter)
            job = jobs.get(job_id)
            if job is not None and job.name == signature:
                continue
            try:
                trigger = self._trigger(schedule)
            except CronError as exc:
                if self._bad_schedules.get(name) != schedule:
                    log.error("site %s: not (re-)scheduled: %s", name, exc)
                    self._bad_schedules[name] = schedule
                continue
            self._bad_schedules.pop(name, None)
            if job is None:
                job = scheduler.add_job(crawl_job, trigger, args=[name], id=job_id, name=signature,
                                        jobstore="default", executor="crawls", replace_existing=True)
                log.info("site %s: scheduled %r, next crawl at %s", name, schedule, _when(job.next_run_time))
            else:
                scheduler.modify_job(job_id, jobstore="default", name=signature)
                job = scheduler.reschedule_job(job_id, jobstore="default", trigger=trigger)
                log.info("site %s: re-scheduled %r, next crawl at %s", name, schedule,
                         _when(job.next_run_time))

    # --- helpers -------------------------------------------------------------------------------------------

    def _trigger(self, expression: str, jitter: int | None = None) -> Any:
        return cron_trigger(expression, self.settings.timezone,
                            jitter=self.options.jitter if jitter is None else jitter,
                            seconds=self.options.schedule_seconds)

    def _signature(self, what: str, schedule: str, jitter: int) -> str:
        # Stored as the job's name: a job whose signature differs is re-scheduled, an equal one keeps its
        # next run time (so a run missed while the daemon was down is still caught up).
        return f"{what} [{schedule}] tz={self.settings.timezone} jitter={jitter}"

    def _crawl_jobs(self) -> dict[str, Any]:
        jobs = self._scheduler.get_jobs(jobstore="default") if self._scheduler is not None else []
        return {job.id: job for job in jobs if job.id.startswith(CRAWL_PREFIX)}

    def _schedule_digest(self) -> None:
        signature = self._signature("digest", self.options.digest_cron, 0)
        job = self._scheduler.get_job(DIGEST_JOB, jobstore="default")
        if job is None or job.name != signature:
            job = self._scheduler.add_job(digest_job, self._trigger(self.options.digest_cron, jitter=0),
                                          id=DIGEST_JOB, name=signature, jobstore="default",
                                          replace_existing=True)
        log.info("digest: next at %s", _when(job.next_run_time))

    def _schedule_catchups(self) -> None:
        """Sites whose last run was interrupted (a stop, a crash) are crawled again soon after a start."""
        from apscheduler.triggers.date import DateTrigger

        with self.sessions() as session:
            latest = (select(CrawlRun.site_id, func.max(CrawlRun.id).label("run_id"))
                      .group_by(CrawlRun.site_id).subquery())
            names = list(session.scalars(
                select(Site.name).join(latest, latest.c.site_id == Site.id)
                .join(CrawlRun, CrawlRun.id == latest.c.run_id)
                .where(Site.enabled.is_(True), CrawlRun.status == "interrupted").order_by(Site.name)))
        for name in names:
            at = utcnow() + timedelta(seconds=random.uniform(1, max(1, min(self.options.jitter, 60))))
            self._scheduler.add_job(crawl_job, DateTrigger(run_date=at), args=[name], id=CATCHUP_PREFIX + name,
                                    name=f"catch up {name}", jobstore="memory", executor="crawls",
                                    replace_existing=True)
            log.info("site %s: its last crawl was interrupted; catching up at %s", name, _when(at))

    # --- heartbeat -----------------------------------------------------------------------------------------

    def _take_heartbeat(self) -> None:
        now = utcnow()
        try:
            with self.sessions.begin() as session:
                row = session.get(DaemonHeartbeat, HEARTBEAT_ID, with_for_update=True)
                if row is not None and row.holder != self.holder:
                    age = (now - row.beat_at).total_seconds()
                    if age < self.options.stale_heartbeat and not holder_is_dead_here(row.holder):
                        raise DaemonError(f"another claimwatch daemon is running ({row.holder}, last "
                                          f"heartbeat {age:.0f} s ago); stop it first")
                if row is None:
                    session.add(DaemonHeartbeat(id=HEARTBEAT_ID, holder=self.holder, started_at=now, beat_at=now))
                else:
                    row.holder, row.started_at, row.beat_at = self.holder, now, now
        except IntegrityError:
            raise DaemonError("another claimwatch daemon is starting at the same time") from None

    def _beat(self) -> None:
        try:
            with self.sessions.begin() as session:
                count = session.execute(
                    update(DaemonHeartbeat).where(DaemonHeartbeat.id == HEARTBEAT_ID,
                                                  DaemonHeartbeat.holder == self.holder)
                    .values(beat_at=utcnow())
                ).rowcount  # type: ignore[attr-defined]
            if not count:
                log.error("heartbeat: the heartbeat row was taken by another daemon")
        except Exception as exc:  # noqa: BLE001 - a database hiccup must not stop the daemon
            _failed(exc, "heartbeat: could not write the heartbeat", level=logging.WARNING)

    def _shutdown(self) -> None:
        log.info("stopping: no new crawls; running crawls may finish within %.0f s",
                 self.options.stop_timeout)
        running = self._scheduler is not None and self._scheduler.running
        if running:
            self._scheduler.pause()  # no job starts from now on
        if self._executor is not None:
            self._executor.shutdown(self.options.stop_timeout)
        if running:  # the crawl jobs return once their crawls ended; housekeeping jobs are short
            self._scheduler.shutdown(wait=True)
        try:
            with self.sessions.begin() as session:
                session.execute(delete(DaemonHeartbeat).where(DaemonHeartbeat.id == HEARTBEAT_ID,
                                                              DaemonHeartbeat.holder == self.holder))
        except Exception as exc:  # noqa: BLE001
            _failed(exc, "could not remove the heartbeat row", level=logging.WARNING)
        _set_current(None)
        log.info("stopped")


def _scheduler_class() -> Any:
    """APScheduler's BackgroundScheduler, minus one race: woken by shutdown(), its thread processes jobs
    once more before it checks the state, and submits those due (e.g. while paused for a graceful stop)
    to executors already shut down ("cannot schedule new futures after shutdown")."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class Scheduler(BackgroundScheduler):
        def _process_jobs(self) -> float | None:
            if self.state == STATE_STOPPED:
                return None
            return super()._process_jobs()

    return Scheduler


def _failed(exc: BaseException, message: str, *args: object, level: int = logging.ERROR) -> None:
    """One log line for a failure (``message: ExcType: text``); the traceback only at debug level."""
    detail = " ".join(str(exc).split()) or "(no detail)"
    log.log(level, f"{message}: %s: %s", *args, type(exc).__name__, detail)
    log.debug("traceback of the failure above", exc_info=exc)


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never (paused)"
