"""The executor seam: where the scheduler sends a site's crawl, without knowing how or where it runs.

``LocalProcessExecutor`` runs the crawls on this machine, in ONE crawl process shared by every crawl in
flight (``monitor.crawl.CrawlProcess``: sites that come due together are crawled side by side, at most
``max_parallel`` at a time, each under its site's lease); the process ends when no crawl is left in it, and
the next due crawl starts a new one. A distributed executor (a task queue with workers on
other machines) implements the same two methods and the scheduler does not change: ``CeleryExecutor``
(``monitor.celery_executor``), chosen with ``CLAIMWATCH_EXECUTOR=celery`` through ``make_executor``.

>>> executor = LocalProcessExecutor(sessions, settings, max_parallel=2)    # doctest: +SKIP
>>> executor.submit("acme").result().status                                # doctest: +SKIP
'finished'
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import replace
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.crawl import (
    CrawlProcess,
    CrawlRefused,
    RunSummary,
    SharedCrawlProcess,
    prepare_crawl,
    run_jobs_failed,
)
from monitor.leases import DEFAULT_TTL, hold_lease, lease_holder
from monitor.models import CrawlRun

log = logging.getLogger(__name__)

KILL_GRACE = 15.0  # seconds a crawl has after SIGTERM to close its run before it is killed


class ExecutorClosed(RuntimeError):
    """The executor is shutting down and takes no more crawls."""


class CrawlExecutor(Protocol):
    """Runs site crawls somewhere; the scheduler's only view of crawling."""

    def submit(self, site_name: str) -> Future[RunSummary]:
        """Start (or queue) a crawl of one site; the future resolves to its summary.

        The future raises ``LeaseBusy`` when another process is crawling the site, and ``submit`` raises
        ``ExecutorClosed`` once ``shutdown`` has begun.
        """
        ...

    def shutdown(self, timeout: float) -> None:
        """Take no more crawls, let running ones finish for up to ``timeout`` seconds, then stop them."""
        ...


def make_executor(sessions: sessionmaker[Session], settings: Settings, *,
                  lease_ttl: float = DEFAULT_TTL) -> CrawlExecutor:
    """The executor ``settings.executor`` names: ``local`` (crawl subprocesses here, at most
    ``max_parallel_crawls`` at a time) or ``celery`` (tasks for `claimwatch worker` processes, docs/scaling.md)."""
    if settings.executor == "celery":
        from monitor.celery_executor import CeleryExecutor

        return CeleryExecutor(settings)
    return LocalProcessExecutor(sessions, settings, settings.max_parallel_crawls, lease_ttl=lease_ttl)


class LocalProcessExecutor:
    """Crawls on this machine: a thread per crawl (its lease, its plan, waiting for its summary), all of them
    in one shared crawl process while they overlap."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, max_parallel: int | None = None,
                 *, lease_ttl: float = DEFAULT_TTL, kill_grace: float = KILL_GRACE) -> None:
        self.sessions = sessions
        self.settings = settings
        self.max_parallel = max(1, max_parallel or settings.max_parallel_crawls)
        self.lease_ttl = lease_ttl
        self.kill_grace = kill_grace
        # threads wait on their crawl (lease, plan, summary); the crawl process runs max_parallel at once
        self._pool = ThreadPoolExecutor(4 * self.max_parallel, thread_name_prefix="crawl")
        self._lock = threading.Lock()
        self._shared = SharedCrawlProcess(sessions, settings, self.max_parallel)
        self._children: dict[str, CrawlProcess] = {}
        self._futures: set[Future[RunSummary]] = set()
        self._stopped: dict[int, str] = {}  # pid -> why we signalled it
        self._closed = False

    def submit(self, site_name: str) -> Future[RunSummary]:
        with self._lock:
            if self._closed:
                raise ExecutorClosed("the executor is shutting down")
            future = self._pool.submit(self._crawl, site_name)
            self._futures.add(future)
        future.add_done_callback(self._forget)
        return future

    def running(self) -> dict[str, int]:
        """Site name -> pid of the crawl process crawling it, for the crawls running now."""
        with self._lock:
            return {site: process.pid for site, process in self._children.items()}

    def shutdown(self, timeout: float) -> None:
        with self._lock:
            self._closed = True
            futures = set(self._futures)
        self._pool.shutdown(wait=False, cancel_futures=True)  # queued crawls never start
        pending = {future for future in futures if not future.done()}
        if pending:
            log.info("waiting up to %.0f s for %d running crawl(s) to finish", timeout, len(pending))
            _done, pending = wait_futures(pending, timeout=timeout)
        if pending:
            self._stop_children(signal.SIGTERM, "the daemon stopped: crawl still running after "
                                                f"{timeout:.0f} s (SIGTERM)")
            _done, pending = wait_futures(pending, timeout=self.kill_grace)
        if pending:
            self._stop_children(signal.SIGKILL, f"the daemon stopped: crawl ignored SIGTERM for "
                                                f"{self.kill_grace:.0f} s (SIGKILL)")
            wait_futures(pending, timeout=10)
        self._pool.shutdown(wait=True)

    # --- inside the worker threads ---------------------------------------------------------------------

    def _crawl(self, site_name: str) -> RunSummary:
        # A holder per crawl, not per executor: two jobs of one site in this process (a catch-up and its
        # cron) must not share the lease.
        with hold_lease(self.sessions, site_name, lease_holder(), ttl=self.lease_ttl):
            try:
                job = prepare_crawl(self.sessions, self.settings, site_name)
            except CrawlRefused as exc:
                return RunSummary(site_name, exc.run_id, "failed", detail=str(exc))

            def submitted(process: CrawlProcess) -> None:
                with self._lock:
                    self._children[site_name] = process
                    closed = self._closed
                log.info("site %s: crawl started (pid %d)", site_name, process.pid)
                if closed:  # the stop came while the crawl was being prepared
                    self._signal(process, signal.SIGTERM, "the daemon stopped while the crawl was starting")

            try:
                summary = self._shared.run(job, submitted)
            except Exception as exc:  # noqa: BLE001 - recorded as the site's failed run, never lost
                summary = run_jobs_failed(self.sessions, [job], exc)[site_name]
            finally:
                with self._lock:
                    self._children.pop(site_name, None)
        pid = self._pid_of(summary)
        with self._lock:
            why = self._stopped.get(pid) if pid else None
        if why is not None and summary.status != "interrupted":
            # Stopped by us: an interrupted run, whether it exited cleanly or by the signal.
            summary = self._record_interrupted(summary, why)
        return summary

    def _pid_of(self, summary: RunSummary) -> int | None:
        try:
            with self.sessions.begin() as session:
                run = session.get(CrawlRun, summary.run_id)
                return run.pid if run is not None else None
        except Exception:  # noqa: BLE001 - only used to tell whether we stopped it
            return None

    def _forget(self, future: Future[RunSummary]) -> None:
        with self._lock:
            self._futures.discard(future)

    # --- stopping --------------------------------------------------------------------------------------

    def _stop_children(self, signum: signal.Signals, why: str) -> None:
        with self._lock:
            processes = {process.pid: process for process in self._children.values()}
        current = self._shared.current()
        if current is not None:
            processes[current.pid] = current
        for process in processes.values():
            if not process.exited.is_set():
                log.warning("crawl process %d: %s", process.pid, why)
                self._signal(process, signum, why)

    def _signal(self, process: CrawlProcess, signum: signal.Signals, why: str) -> None:
        with self._lock:
            self._stopped.setdefault(process.pid, why)
        # The crawl is a session leader (start_new_session): SIGTERM to it alone (it stops its crawls and
        # stores what was fetched), SIGKILL to its whole group (pool processes, browsers)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if signum == signal.SIGKILL:
                os.killpg(process.pid, signum)
            else:
                os.kill(process.pid, signum)

    def _record_interrupted(self, summary: RunSummary, why: str) -> RunSummary:
        try:
            with self.sessions.begin() as session:
                run = session.get(CrawlRun, summary.run_id)
                if run is not None:
                    run.status = "interrupted"
                    run.detail = why if not run.detail else f"{why}\n{run.detail}"[-4000:]
        except Exception as exc:  # noqa: BLE001 - the run keeps the status its crawl gave it
            log.warning("site %s: could not record run %d as interrupted: %r", summary.site, summary.run_id, exc)
            return summary
        return replace(summary, status="interrupted", detail=why)
