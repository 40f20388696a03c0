"""Stopping `claimwatch crawl` on Ctrl-C or SIGTERM: promptly, recorded, and without freeing a site early.

The first signal asks each running crawl process to stop (SIGTERM: Scrapy takes no more requests, stores
what it has fetched and closes its run); ``grace`` seconds later whatever still runs is killed with its whole
process group (page workers, browser), since a download from a slow server would hold Scrapy's graceful stop
for up to DOWNLOAD_TIMEOUT. A second signal kills at once. Crawls that have not started do not start. The
caller (``monitor.crawl.crawl_sites``) records the runs as interrupted and releases the sites' leases only
once every crawl process has exited.

>>> stop = CrawlStop()                                           # doctest: +SKIP
>>> with stop.on_signals():                                      # doctest: +SKIP
...     crawl_sites(sessions, settings, ["acme"], stop=stop)
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Iterator, Sequence
from types import FrameType

STOP_GRACE = 5.0  # seconds a crawl has, once asked to stop, to store what it fetched before it is killed


def signal_text(signum: int) -> str:
    """How a stop signal is named to the user: "SIGINT (Ctrl-C)", "SIGTERM"."""
    name = signal.Signals(signum).name
    return f"{name} (Ctrl-C)" if signum == signal.SIGINT else name


class CrawlStop:
    """The crawl processes of one `claimwatch crawl`, and the request to stop them."""

    def __init__(self, grace: float = STOP_GRACE) -> None:
        self.grace = grace
        self.reason: str | None = None  # "interrupted by SIGINT (Ctrl-C)" once a stop was asked for
        self.signum: int | None = None
        self._lock = threading.RLock()  # RLock: taken again when a signal handler interrupts its holder
        self._running: dict[int, subprocess.Popen[str]] = {}
        self._signalled: set[int] = set()
        self._timer: threading.Timer | None = None

    def started(self, process: subprocess.Popen[str]) -> None:
        """A crawl process started (``run_jobs``' ``on_start``); one started after the stop is killed."""
        with self._lock:
            self._running[process.pid] = process
            late = self.reason is not None
        if late:
            self._signal(process, signal.SIGKILL)

    def ended(self, process: subprocess.Popen[str]) -> bool:
        """Forget a crawl process that exited; whether this stop signalled it."""
        with self._lock:
            self._running.pop(process.pid, None)
            return process.pid in self._signalled

    def request(self, why: str, signum: int | None = None) -> None:
        """Stop every crawl: SIGTERM now, SIGKILL to their process groups after ``grace`` seconds (at once
        when a stop was asked for already)."""
        with self._lock:
            again = self.reason is not None
            if not again:
                self.reason, self.signum = why, signum
            running = list(self._running.values())
        if again:
            self.kill()
            return
        for process in running:
            self._signal(process, signal.SIGTERM)
        self._timer = threading.Timer(self.grace, self.kill)
        self._timer.daemon = True
        self._timer.start()

    def kill(self) -> None:
        """SIGKILL every running crawl process and its process group."""
        with self._lock:
            running = list(self._running.values())
        for process in running:
            self._signal(process, signal.SIGKILL)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def _signal(self, process: subprocess.Popen[str], signum: int) -> None:
        with self._lock:
            if process.returncode is not None:
                return  # reaped: its pid may be another process's by now
            self._signalled.add(process.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if signum == signal.SIGKILL:  # the crawl leads its group (start_new_session): all of it
                os.killpg(process.pid, signum)
            else:  # the crawl process alone: its page workers store what it hands them, then stop
                os.kill(process.pid, signum)

    @contextlib.contextmanager
    def on_signals(self, signums: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[CrawlStop]:
        """Turn these signals into stop requests while the block runs (only the main thread can catch
        signals: from another thread, the block just runs)."""
        def handler(signum: int, frame: FrameType | None) -> None:
            self.request(f"interrupted by {signal_text(signum)}", signum)

        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.signal(signum, handler) for signum in signums}
        try:
            yield self
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)
            self.close()
