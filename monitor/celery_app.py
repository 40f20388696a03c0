"""Scale-out on Celery: the app, its one task ("crawl a site") and the worker behind `claimwatch worker`.

The app is built from ``Settings`` by ``make_celery_app`` (nothing is built at import time; Celery's own CLI
finds one through this module's ``app`` attribute, made on first access from the environment, e.g.
``celery -A monitor.celery_app inspect active``). See docs/scaling.md.

How a crawl request survives a dead worker:

- late acknowledgement (``task_acks_late``, ``task_reject_on_worker_lost``, prefetch 1): a request is
  acknowledged only once its crawl ended, so the broker hands the request of a worker that died to another
  one (RabbitMQ when the dead worker's connection closes, Redis once the visibility timeout passed);
- the site lease (``monitor.leases``) keeps a second worker off a site that is being crawled: the dead
  worker's lease expires one TTL after its last renewal (at once when it was a process of the same host),
  and until then the redelivered request is retried every ``CLAIMWATCH_BUSY_RETRY`` seconds, up to
  ``CLAIMWATCH_BUSY_MAX_WAIT`` (then it is reported busy, like the local executor does at once);
- a request is satisfied by any crawl of its site that started after it was made and ended (finished or
  failed): a second delivery of a request whose crawl already ran (a lost acknowledgement, a visibility
  timeout shorter than a crawl) returns that crawl's summary instead of crawling again.

The task returns a JSON-safe ``dict`` (``crawl_outcome``); ``monitor.celery_executor`` turns it back into a
``RunSummary`` or the exception the daemon expects.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import DEFAULT_LEASE_TTL, Settings
from monitor.crawl import CrawlError, RunSummary, SharedCrawlProcess, crawl_site
from monitor.leases import LeaseBusy, LeaseError, lease_holder
from monitor.models import CrawlRun, Site

if TYPE_CHECKING:
    from celery import Celery, Task

log = logging.getLogger(__name__)

CRAWL_TASK = "claimwatch.crawl_site"
#: Runs that answer a crawl request: a crawl that ended, well or not; "interrupted" ones are redone.
ANSWERING_STATUSES = ("finished", "failed")
BROKER_CHECK_TIMEOUT = 5.0  # seconds `claimwatch worker` waits for the broker before giving up


def celery_config(settings: Settings, *, client: bool = False) -> dict[str, Any]:
    """Celery's configuration for claimwatch (pure: settings in, a mapping out). ``client``: for the side
    that sends requests (the daemon), which gives up on an unreachable result store after a few tries
    instead of Celery's twenty (a worker keeps trying: it must store what it crawled)."""
    options = settings.celery
    config: dict[str, Any] = {
        "broker_url": options.broker_url,
        "result_backend": options.backend_url,
        "task_default_queue": options.queue,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # acknowledged when the crawl ended (well or not), never when it started; a worker process that
        # dies mid-crawl hands the request back; each worker takes one request per free slot
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "result_expires": 7 * 86400,
        "broker_connection_retry_on_startup": True,
        "worker_hijack_root_logger": True,
        "worker_redirect_stdouts": False,
        "enable_utc": True,
        "timezone": "UTC",
    }
    if options.broker_url.startswith(("redis:", "rediss:")):
        # Redis has no acknowledgements of its own: a delivered request comes back to the queue once it was
        # unacknowledged this long. Swept every tenth of it (10 s at most) by every worker.
        sweep = max(1, min(10, int(options.visibility_timeout / 10)))
        config["broker_transport_options"] = {
            "visibility_timeout": options.visibility_timeout,
            "unacked_restore_interval": sweep,
            "unacked_restore_throttle": 1,
        }
        config["result_backend_transport_options"] = {"visibility_timeout": options.visibility_timeout}
        if client:
            config["result_backend_transport_options"]["retry_policy"] = {
                "max_retries": 2, "interval_start": 0.5, "interval_step": 0.5, "interval_max": 1}
    return config


class CrawlContext:
    """What the task needs in a worker: the settings, and one engine per process (made on first use)."""

    def __init__(self, settings: Settings, lease_ttl: float = DEFAULT_LEASE_TTL) -> None:
        self.settings = settings
        self.lease_ttl = lease_ttl
        self._lock = threading.Lock()
        self._pid = 0
        self._sessions: sessionmaker[Session] | None = None
        self._shared: SharedCrawlProcess | None = None

    def sessions(self) -> sessionmaker[Session]:
        from monitor.db import make_engine, make_session_factory

        with self._lock:
            if self._sessions is None or self._pid != os.getpid():  # a forked pool process makes its own
                engine = make_engine(self.settings.db_url, busy_timeout=self.settings.db_busy_timeout)
                self._sessions, self._pid = make_session_factory(engine), os.getpid()
                self._shared = None
            return self._sessions

    def shared(self) -> SharedCrawlProcess:
        """The crawl process this worker's concurrent tasks share (sites side by side in one Scrapy
        process, as on one machine: ``monitor.crawl.SharedCrawlProcess``)."""
        sessions = self.sessions()
        with self._lock:
            if self._shared is None:
                self._shared = SharedCrawlProcess(sessions, self.settings)
            return self._shared


def make_celery_app(settings: Settings, *, lease_ttl: float = DEFAULT_LEASE_TTL, client: bool = False) -> Celery:
    """The Celery app of these settings, with the crawl task registered (``client``: see ``celery_config``).

    >>> app = make_celery_app(load_settings())                                  # doctest: +SKIP
    >>> app.send_task(CRAWL_TASK, kwargs={"site": "acme", "requested_at": None})  # doctest: +SKIP
    """
    from celery import Celery

    app = Celery("claimwatch", set_as_current=False)
    app.conf.update(celery_config(settings, client=client))
    context = CrawlContext(settings, lease_ttl)

    @app.task(name=CRAWL_TASK, bind=True, max_retries=None)
    def crawl_site_task(task: Task, site: str, requested_at: str | None = None) -> dict[str, Any]:
        return run_crawl_request(task, context, site, requested_at)

    del crawl_site_task  # registered with the app by the decorator
    return app


def run_crawl_request(task: Task, context: CrawlContext, site: str, requested_at: str | None) -> dict[str, Any]:
    """The body of the crawl task: crawl ``site`` under its lease, or answer from a crawl that already did."""
    sessions = context.sessions()
    since = _moment(requested_at)
    request_id = task.request.id or "?"
    if since is not None:
        done = answering_run(sessions, site, since)
        if done is not None:
            log.info("site %s: request %s already answered by run %d (%s)", site, request_id, done.run_id,
                     done.status)
            return crawl_outcome(done, reused=True)
    try:
        summary = crawl_site(sessions, context.settings, site, holder=lease_holder(), lease_ttl=context.lease_ttl,
                             shared=context.shared())
    except LeaseBusy as busy:
        options = context.settings.celery
        waited = (datetime.now(UTC) - since).total_seconds() if since is not None else 0.0
        if waited + options.busy_retry <= options.busy_max_wait:
            log.info("site %s: %s; request %s tried again in %g s", site, busy, request_id, options.busy_retry)
            raise task.retry(countdown=options.busy_retry) from None
        log.warning("site %s: request %s given up after %.0f s: %s", site, request_id, waited, busy)
        return busy_outcome(busy)
    except (CrawlError, LeaseError) as exc:
        log.error("site %s: request %s: %s", site, request_id, exc)
        return error_outcome(exc)
    log.info("%s", summary.line())
    return crawl_outcome(summary)


def answering_run(sessions: sessionmaker[Session], site: str, since: datetime) -> RunSummary | None:
    """The latest crawl of ``site`` that started at or after ``since`` and ended (finished or failed)."""
    with sessions() as session:
        run = session.scalar(
            select(CrawlRun).join(Site, Site.id == CrawlRun.site_id)
            .where(Site.name == site, CrawlRun.started_at >= since,
                   CrawlRun.status.in_(ANSWERING_STATUSES))
            .order_by(CrawlRun.id.desc()).limit(1))
        if run is None:
            return None
        return RunSummary(site, run.id, run.status, run.pages, run.new_snapshots, run.changes, run.errors,
                          run.log_path or "", run.detail)


# --- what the task returns (JSON) ----------------------------------------------------------------------


def crawl_outcome(summary: RunSummary, *, reused: bool = False) -> dict[str, Any]:
    return {"outcome": "crawled", "summary": asdict(summary), "reused": reused}


def busy_outcome(busy: LeaseBusy) -> dict[str, Any]:
    return {"outcome": "busy", "site": busy.site, "holder": busy.holder, "since": busy.since.isoformat()}


def error_outcome(exc: CrawlError | LeaseError) -> dict[str, Any]:
    kind = "lease" if isinstance(exc, LeaseError) else "crawl"
    return {"outcome": "error", "kind": kind, "message": str(exc)}


def request_time() -> str:
    """When a crawl request is made, as the task carries it (UTC, ISO 8601)."""
    return datetime.now(UTC).isoformat()


def _moment(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the worker ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    concurrency: int = 64  # sites crawled at once, in one shared crawl process (CLAIMWATCH_MAX_PARALLEL)
    queues: tuple[str, ...] = ()  # default: the settings' queue
    pool: str = "threads"  # a task only waits for its crawl process: threads suffice
    loglevel: str = "INFO"
    nodename: str | None = None  # default claimwatch-<pid>@<host>


def broker_problem(settings: Settings, timeout: float = BROKER_CHECK_TIMEOUT) -> str | None:
    """One line saying why the broker cannot be reached, or None when it can."""
    from kombu import Connection
    from kombu.utils.url import maybe_sanitize_url

    url = settings.celery.broker_url
    connection = Connection(url, connect_timeout=timeout,
                            transport_options={"socket_connect_timeout": timeout, "socket_timeout": timeout})
    try:
        connection.ensure_connection(max_retries=0, timeout=timeout)  # one try, no retries
    except Exception as exc:  # noqa: BLE001 - whatever the transport raises, the user gets one line
        detail = " ".join(str(exc).split()) or type(exc).__name__
        return f"cannot reach the broker at {maybe_sanitize_url(url)}: {detail}"
    finally:
        connection.release()
    return None


def start_worker(settings: Settings, options: WorkerOptions, *, lease_ttl: float = DEFAULT_LEASE_TTL) -> int:
    """Run a Celery worker that crawls sites until it is stopped; its exit status."""
    from celery.utils.nodenames import default_nodename, host_format

    app = make_celery_app(settings, lease_ttl=lease_ttl)
    app.set_current()
    nodename = host_format(default_nodename(options.nodename or f"claimwatch-{os.getpid()}@%h"))
    worker = app.Worker(hostname=nodename, pool_cls=options.pool, concurrency=options.concurrency,
                        queues=list(options.queues or (settings.celery.queue,)), loglevel=options.loglevel,
                        quiet=True, without_mingle=True, without_gossip=True)  # workers need not know each other
    worker.start()
    return int(worker.exitcode or 0)


def __getattr__(name: str) -> Any:
    """``monitor.celery_app.app``, for Celery's own command line (built from the environment on access)."""
    if name == "app":
        from monitor.config import load_settings

        return make_celery_app(load_settings())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
