"""The daemon's executor for Celery workers (``CLAIMWATCH_EXECUTOR=celery``, docs/scaling.md).

``submit(site)`` sends a crawl request to the broker's queue and returns a future that resolves to the
crawl's ``RunSummary`` once a worker (`claimwatch worker`, on any machine sharing the database) has
crawled the site: the same seam as ``LocalProcessExecutor``. One thread of this executor does all the
talking to the broker and the result backend (Celery's clients are not meant to be shared between
threads), polling pending results every ``poll_interval`` seconds.

``shutdown(timeout)`` stops taking requests and waits up to ``timeout`` seconds for those in flight;
requests still queued or crawling after that are not taken back: the workers carry them out and record
their runs, the daemon just stops waiting (their futures are cancelled).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.celery_app import CRAWL_TASK, make_celery_app, request_time
from monitor.config import Settings
from monitor.crawl import CrawlError, RunSummary
from monitor.executor import ExecutorClosed
from monitor.leases import LeaseBusy, LeaseError

if TYPE_CHECKING:
    from celery import Celery
    from celery.result import AsyncResult

log = logging.getLogger("monitor.executor")


class TaskFailed(RuntimeError):
    """The crawl task itself failed on its worker (not the crawl: that is a failed ``RunSummary``)."""


def outcome_summary(outcome: Any) -> RunSummary:
    """The ``RunSummary`` a crawl task returned; ``LeaseBusy``, ``LeaseError``, ``CrawlError`` as raised."""
    if not isinstance(outcome, dict):
        raise TaskFailed(f"the crawl task returned {type(outcome).__name__}, not an outcome")
    kind = outcome.get("outcome")
    if kind == "crawled":
        fields = outcome["summary"]
        return RunSummary(**{name: fields[name] for name in RunSummary.__dataclass_fields__ if name in fields})
    if kind == "busy":
        raise LeaseBusy(str(outcome["site"]), str(outcome["holder"]), datetime.fromisoformat(outcome["since"]))
    if kind == "error":
        message = str(outcome.get("message") or "the crawl could not start")
        raise LeaseError(message) if outcome.get("kind") == "lease" else CrawlError(message)
    raise TaskFailed(f"the crawl task returned an unknown outcome {kind!r}")


@dataclass
class _Request:
    site: str
    future: Future[RunSummary]
    result: AsyncResult | None = None
    sent_at: float = 0.0  # time.monotonic() when it went to the broker


class CeleryExecutor:
    """Crawls as Celery tasks: any number of `claimwatch worker` processes, on any machines, take them."""

    def __init__(self, settings: Settings, *, app: Celery | None = None, poll_interval: float = 0.5) -> None:
        self.settings = settings
        self.app = app if app is not None else make_celery_app(settings, client=True)
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        self._closed = False
        self._incoming: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._pending: list[_Request] = []  # only touched by the dispatcher thread
        self._futures: set[Future[RunSummary]] = set()
        self._done = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._sent = threading.Condition()
        self._submitted = 0  # requests submitted / handed to the broker (or failed to be): under _sent
        self._handled = 0

    def submit(self, site_name: str) -> Future[RunSummary]:
        future: Future[RunSummary] = Future()
        with self._lock:
            if self._closed:
                raise ExecutorClosed("the executor is shutting down")
            self._futures.add(future)
            if self._thread is None:
                self._thread = threading.Thread(target=self._dispatch, name="celery-dispatch", daemon=True)
                self._thread.start()
        future.add_done_callback(self._forget)
        with self._sent:
            self._submitted += 1
        self._incoming.put(_Request(site_name, future))
        self._wake.set()
        return future

    def wait_sent(self, timeout: float) -> bool:
        """Wait until every request submitted so far was sent to the broker (or failed to be)."""
        with self._sent:
            return self._sent.wait_for(lambda: self._handled >= self._submitted, timeout=timeout)

    def shutdown(self, timeout: float) -> None:
        with self._lock:
            self._closed = True
            futures = set(self._futures)
            thread = self._thread
        pending = {future for future in futures if not future.done()}
        if pending:
            log.info("waiting up to %.0f s for %d crawl(s) on the workers to finish", timeout, len(pending))
            _done, pending = wait_futures(pending, timeout=timeout)
        for future in pending:
            future.cancel()  # the worker carries on and records the run; nobody waits for it here
        if pending:
            log.info("stopped waiting for %d crawl(s): the workers finish them and record their runs",
                     len(pending))
        self._done.set()
        self._wake.set()
        if thread is not None:
            thread.join(timeout=10)

    def _forget(self, future: Future[RunSummary]) -> None:
        with self._lock:
            self._futures.discard(future)

    # --- the dispatcher thread -----------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while not self._done.is_set():
            self._wake.clear()
            self._send_incoming()
            self._collect()
            self._wake.wait(self.poll_interval)
        while True:  # requests that came while stopping: nobody waits for them
            try:
                self._incoming.get_nowait().future.cancel()
            except queue.Empty:
                break
            with self._sent:
                self._handled += 1
                self._sent.notify_all()

    def _send_incoming(self) -> None:
        while True:
            try:
                request = self._incoming.get_nowait()
            except queue.Empty:
                return
            try:
                self._send(request)
            finally:
                with self._sent:
                    self._handled += 1
                    self._sent.notify_all()

    def _send(self, request: _Request) -> None:
        if request.future.cancelled():
            return
        try:
            request.result = self.app.send_task(
                CRAWL_TASK, kwargs={"site": request.site, "requested_at": request_time()},
                queue=self.settings.celery.queue)
        except Exception as exc:  # noqa: BLE001 - the broker is down: this crawl is not queued
            from kombu.utils.url import maybe_sanitize_url

            detail = " ".join(str(exc).split()) or type(exc).__name__
            where = maybe_sanitize_url(self.settings.celery.broker_url)
            self._settle(request, error=CrawlError(f"could not queue the crawl on {where}: {detail}"))
            return
        request.sent_at = time.monotonic()
        log.info("site %s: crawl queued for the workers (task %s)", request.site, request.result.id)
        self._pending.append(request)

    def _collect(self) -> None:
        still: list[_Request] = []
        for request in self._pending:
            result = request.result
            assert result is not None
            if request.future.cancelled():
                continue
            try:
                if not result.ready():
                    if time.monotonic() - request.sent_at > self.settings.celery.result_timeout:
                        self._settle(request, error=TaskFailed(
                            f"no answer from the workers after {self.settings.celery.result_timeout:.0f} s "
                            f"(task {result.id}; is a `claimwatch worker` taking queue "
                            f"{self.settings.celery.queue!r}?)"))
                        continue
                    still.append(request)
                    continue
                value, failed = result.result, result.failed()
            except Exception as exc:  # noqa: BLE001 - the result backend is away for now: ask again later
                log.debug("site %s: result of task %s not readable yet: %r", request.site, result.id, exc)
                still.append(request)
                continue
            with contextlib.suppress(Exception):
                result.forget()
            if failed:
                detail = " ".join(str(value).split()) or type(value).__name__
                self._settle(request, error=TaskFailed(f"the crawl task failed on its worker: {detail}"))
                continue
            try:
                summary = outcome_summary(value)
            except (LeaseError, CrawlError, TaskFailed) as exc:
                self._settle(request, error=exc)
            else:
                self._settle(request, summary=summary)
        self._pending = still

    @staticmethod
    def _settle(request: _Request, *, summary: RunSummary | None = None, error: BaseException | None = None) -> None:
        if not request.future.set_running_or_notify_cancel():
            return
        if error is not None:
            request.future.set_exception(error)
        else:
            assert summary is not None
            request.future.set_result(summary)
