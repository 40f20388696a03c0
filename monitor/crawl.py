"""On-demand crawls: ONE `python -m crawler` subprocess for all the sites of a crawl (``crawler.process``).

The parent records each site's run and writes its crawl plan, starts the crawl process with every plan (at
most ``CLAIMWATCH_MAX_PARALLEL`` sites in flight there), relays each site's progress, and records what the
crawl process could not: a site whose run it never closed, a crash (the tail of its log), a stop.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.crawlplan import plan_crawl
from monitor.leases import DEFAULT_TTL, LeaseError, hold_lease, hold_leases, lease_holder
from monitor.models import CrawlRun, Site
from monitor.processes import end_process_group, lifeline
from monitor.resources import CHECKOUT
from monitor.runs import close_stale_runs, finish_run, mark_interrupted, start_run
from monitor.screenshots import chromium_available
from monitor.stopping import CrawlStop
from monitor.storage import storage_problem
from monitor.warc import safe_name


class CrawlError(RuntimeError):
    pass


class CrawlRefused(CrawlError):
    """This site cannot be crawled as configured (e.g. render_js without Chromium); others still can.
    ``run_id``: the run recorded as failed, when one was started."""

    def __init__(self, message: str, run_id: int = 0) -> None:
        super().__init__(message)
        self.run_id = run_id


def _storage_message(exc: BaseException) -> str | None:
    """One line naming why the database or the data folder took no write (``monitor.storage``), or None."""
    problem = storage_problem(exc)
    return str(problem) if problem is not None else None


@dataclass(slots=True)
class Progress:
    site: str
    done: int = 0
    queued: int = 0
    errors: int = 0
    finished: bool = False


@dataclass(slots=True)
class RunSummary:
    site: str
    run_id: int
    status: str
    pages: int = 0
    new_snapshots: int = 0
    changes: int = 0
    errors: int = 0
    log_path: str = ""
    detail: str | None = None

    def line(self) -> str:
        text = (f"{self.site}: {self.status}, {self.pages} pages, {self.new_snapshots} new snapshots, "
                f"{self.changes} changes, {self.errors} errors (run {self.run_id}, log {self.log_path})")
        return text + (f": {self.detail}" if self.detail else "")


@dataclass(slots=True)
class CrawlJob:
    """One site's part of a crawl: built by ``prepare_crawl`` in the parent."""

    site: str
    run_id: int
    plan_path: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)


ProgressCallback = Callable[[Progress], None]


def prepare_crawl(sessions: sessionmaker[Session], settings: Settings, site_name: str) -> CrawlJob:
    with sessions.begin() as session:
        site = session.scalar(select(Site).where(Site.name == site_name))
        if site is None:
            raise CrawlError(f"no site named {site_name!r} (see `claimwatch sites list`)")
        render_js = site.render_js
        close_stale_runs(session, site.id)
        run = start_run(session, site.id)
        # safe_name: a name stored before names were validated must not lead outside the log folder
        log_path = settings.log_dir / f"{safe_name(site.name)}-run{run.id}.log"
        run.log_path = str(log_path)
        plan = plan_crawl(session, site, run.id)
    if render_js and not chromium_available(settings):
        why = (f"render_js needs Chromium, not found at {settings.chromium_path} "
               "(apt-get install chromium, or set CLAIMWATCH_CHROMIUM)")
        with sessions.begin() as session:
            finish_run(session, plan.run_id, "failed", why)
        raise CrawlRefused(why, plan.run_id)
    try:
        plan_path = plan.write(settings.data_dir / "runs" / f"run{plan.run_id}-plan.json")
        log_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # the data folder takes no files: the run fails before it starts
        why = f"cannot write the data folder {settings.data_dir}: {_storage_message(exc) or exc}"
        with sessions.begin() as session:
            finish_run(session, plan.run_id, "failed", why)
        raise CrawlRefused(why, plan.run_id) from exc
    env = dict(os.environ)
    env.update({
        "CLAIMWATCH_DB": settings.db_url,
        "CLAIMWATCH_DATA": str(settings.data_dir),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")])),
    })
    return CrawlJob(site_name, plan.run_id, plan_path, log_path, env)


class CrawlProcessClosed(CrawlError):
    """The crawl process takes no more sites (its input was closed, or it ended)."""


class CrawlProcess:
    """One crawl process (``python -m crawler --stdin``), fed sites while it runs; each site's summary comes
    back as a future, resolved when the process says the site's run is closed, or when the process ends.

    >>> process = CrawlProcess(sessions, settings, log_path).start()     # doctest: +SKIP
    >>> future = process.submit(prepare_crawl(sessions, settings, "acme"))  # doctest: +SKIP
    >>> process.close_input(); future.result().status                   # doctest: +SKIP
    'finished'
    """

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, log_path: Path, *,
                 parallel: int | None = None, extra_settings: Sequence[str] = (),
                 env: dict[str, str] | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.log_path = log_path
        self.parallel = parallel
        self.extra_settings = list(extra_settings)
        self.env = env
        self.process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._jobs: dict[str, CrawlJob] = {}
        self._futures: dict[str, Future[RunSummary]] = {}
        self._progress: dict[str, tuple[Progress, ProgressCallback | None]] = {}
        self._accepting = False
        self._stray: list[str] = []
        self._reader: threading.Thread | None = None
        self.exited = threading.Event()

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "crawler", "--stdin", "--log", str(self.log_path)]
        if self.parallel:
            command += ["--parallel", str(self.parallel)]
        for setting in self.extra_settings:
            command += ["-s", setting]
        return command

    def start(self) -> CrawlProcess:
        env = dict(self.env if self.env is not None else os.environ)
        env.update({
            "CLAIMWATCH_DB": self.settings.db_url,
            "CLAIMWATCH_DATA": str(self.settings.data_dir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")])),
        })
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        fd, lifeline_env = lifeline()  # the crawl dies with this process, however it ends (monitor.processes)
        self.process = subprocess.Popen(
            self.command(), env={**env, **lifeline_env}, cwd=str(CHECKOUT), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, pass_fds=(fd,),
        )
        self._accepting = True
        self._reader = threading.Thread(target=self._read, name=f"crawl-{self.process.pid}", daemon=True)
        self._reader.start()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def in_flight(self) -> int:
        with self._lock:
            return len(self._futures)

    def submit(self, job: CrawlJob, on_progress: ProgressCallback | None = None) -> Future[RunSummary]:
        """Hand a prepared site to the crawl process; raises ``CrawlProcessClosed`` once it takes no more."""
        assert self.process is not None and self.process.stdin is not None, "not started"
        future: Future[RunSummary] = Future()
        with self._lock:
            if not self._accepting:
                raise CrawlProcessClosed("the crawl process takes no more sites")
            with self.sessions.begin() as session:
                run = session.get(CrawlRun, job.run_id)
                if run is not None:
                    run.pid, run.log_path = self.process.pid, str(self.log_path)
            job = replace(job, log_path=self.log_path)
            self._jobs[job.site] = job
            self._futures[job.site] = future
            self._progress[job.site] = (Progress(job.site), on_progress)
            try:
                self.process.stdin.write(f"{job.plan_path}\n")
                self.process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):  # it ended: the reader resolves the future
                self._accepting = False
        return future

    def close_input(self) -> None:
        """No more sites: the process ends once the ones it has are crawled."""
        with self._lock:
            self._accepting = False
            stdin = self.process.stdin if self.process is not None else None
        if stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                stdin.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the process to end and every future to be resolved; False on timeout."""
        return self.exited.wait(timeout)

    # --- the reader thread ---------------------------------------------------------------------------------

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            for line in self.process.stdout:
                self._line(line)
        finally:
            code = self.process.wait()
            with self._lock:
                self._accepting = False
            end_process_group(self.process.pid)  # nothing of the crawl outlives it: the pool, a browser
            crashed = _failure_detail(code, self.log_path, self._stray) if code != 0 else None
            with self._lock:
                left = list(self._futures)
            for site in left:
                if crashed is None:
                    status, detail = "failed", "the crawl process ended without closing the run"
                else:
                    status = "interrupted" if code in (-signal.SIGTERM, -signal.SIGINT) else "failed"
                    detail = crashed
                self._resolve(site, status, detail)
            self.exited.set()

    def _line(self, line: str) -> None:
        try:
            data = json.loads(line)
        except ValueError:
            self._stray.append(line.rstrip())
            del self._stray[:-10]
            return
        site = data.get("site") if isinstance(data, dict) else None
        with self._lock:
            known = isinstance(site, str) and site in self._futures
            entry = self._progress.get(site) if isinstance(site, str) else None
        if not known or not isinstance(site, str):
            self._stray.append(line.rstrip())
            del self._stray[:-10]
            return
        if "done" in data and entry is not None:
            state, callback = entry
            state.done, state.queued, state.errors = data["done"], data["queued"], data["errors"]
            state.finished = bool(data.get("final"))
            if callback is not None:
                callback(state)
        elif isinstance(data.get("run"), dict):
            self._resolve(site, str(data["run"].get("status") or "failed"), data["run"].get("detail"))

    def _resolve(self, site: str, status: str, detail: str | None) -> None:
        with self._lock:
            job = self._jobs.pop(site, None)
            future = self._futures.pop(site, None)
            self._progress.pop(site, None)
        if job is None or future is None:
            return
        try:
            future.set_result(_record_end(self.sessions, job, status, detail))
        except Exception as exc:  # noqa: BLE001 - the waiter gets it
            future.set_exception(exc)


class SharedCrawlProcess:
    """One crawl process shared by the crawls of this process that overlap in time (the daemon's, a Celery
    worker's): each ``run(job)`` joins the running crawl process, or starts one; the process is told to end
    when no crawl is left in it, and the next crawl starts a new one. Thread-safe."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, parallel: int | None = None) -> None:
        self.sessions = sessions
        self.settings = settings
        self.parallel = max(1, parallel or settings.max_parallel_crawls)
        self._lock = threading.Lock()
        self._process: CrawlProcess | None = None

    def current(self) -> CrawlProcess | None:
        with self._lock:
            return self._process

    def _join(self) -> CrawlProcess:
        with self._lock:
            process = self._process
            if process is None or process.exited.is_set():
                stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
                process = self._process = CrawlProcess(self.sessions, self.settings,
                                                       self.settings.log_dir / f"crawl-{stamp}.log",
                                                       parallel=self.parallel).start()
            return process

    def run(self, job: CrawlJob, on_submitted: Callable[[CrawlProcess], None] | None = None) -> RunSummary:
        """Crawl one prepared site in the shared process; its summary. ``on_submitted``: called with the
        process once the site is in it (to stop it on request)."""
        while True:
            process = self._join()
            try:
                future = process.submit(job)
                break
            except CrawlProcessClosed:
                with self._lock:
                    if self._process is process:
                        self._process = None
        if on_submitted is not None:
            on_submitted(process)
        try:
            return future.result()
        finally:
            with self._lock:
                idle = process.in_flight() == 0 and self._process is process
                if idle:
                    self._process = None
            if idle:  # nothing left in it: it ends, and the next crawl starts a new one
                process.close_input()


def crawl_log_path(settings: Settings, first: CrawlJob, sites: int) -> Path:
    """The crawl process's log: the site's own log for one site, one log named after the first run else."""
    if sites == 1:
        return first.log_path
    return settings.log_dir / f"crawl-run{first.run_id}.log"


def run_jobs(
    sessions: sessionmaker[Session],
    settings: Settings,
    jobs: Sequence[CrawlJob],
    *,
    on_progress: ProgressCallback | None = None,
    parallel: int | None = None,
    extra_settings: Sequence[str] = (),
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> dict[str, RunSummary]:
    """Crawl the prepared sites in one crawl process, to the end; each site's summary."""
    if not jobs:
        return {}
    first = min(jobs, key=lambda job: job.run_id)
    process = CrawlProcess(sessions, settings, crawl_log_path(settings, first, len(jobs)), parallel=parallel,
                           extra_settings=extra_settings, env=jobs[0].env).start()
    if on_start is not None:
        assert process.process is not None
        on_start(process.process)
    futures = {job.site: process.submit(job, on_progress) for job in jobs}
    process.close_input()
    process.wait()
    return {site: future.result() for site, future in futures.items()}


def _record_end(sessions: sessionmaker[Session], job: CrawlJob, status: str, detail: str | None) -> RunSummary:
    """The run as the crawl process closed it, or closed here when that process could not."""
    try:
        with sessions.begin() as session:
            finish_run(session, job.run_id, status, detail)
            run = session.get(CrawlRun, job.run_id)
            assert run is not None
            return RunSummary(job.site, run.id, run.status, run.pages, run.new_snapshots, run.changes,
                              run.errors, str(job.log_path), run.detail or detail)
    except Exception as exc:
        why = _storage_message(exc)
        if why is None:
            raise
        unrecorded = f"the run could not be recorded: {why}"
        return RunSummary(job.site, job.run_id, "failed", log_path=str(job.log_path),
                          detail=f"{detail}; {unrecorded}" if detail else unrecorded)


def run_job(
    sessions: sessionmaker[Session],
    settings: Settings,
    job: CrawlJob,
    *,
    on_progress: ProgressCallback | None = None,
    extra_settings: Sequence[str] = (),
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> RunSummary:
    """Run one prepared site's crawl to the end and return its summary (``settings``: those the job was
    prepared with, its database among them)."""
    return run_jobs(sessions, settings, [job], on_progress=on_progress, extra_settings=extra_settings,
                    on_start=on_start)[job.site]


def _failure_detail(code: int, log_path: Path, stray: list[str]) -> str:
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    tail: list[str] = []
    with contextlib.suppress(OSError):
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
    lines = [f"crawl process {how}", *stray[-10:], *tail]
    return "\n".join(lines)


def run_jobs_guarded(
    sessions: sessionmaker[Session],
    settings: Settings,
    jobs: Sequence[CrawlJob],
    *,
    on_progress: ProgressCallback | None = None,
    parallel: int | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> dict[str, RunSummary]:
    """``run_jobs``, with a failure to even start the crawl process recorded as failed runs."""
    try:
        return run_jobs(sessions, settings, jobs, on_progress=on_progress, parallel=parallel, on_start=on_start)
    except Exception as exc:  # noqa: BLE001 - recorded for every site, never lost
        return run_jobs_failed(sessions, jobs, exc)


def run_jobs_failed(sessions: sessionmaker[Session], jobs: Sequence[CrawlJob],
                    exc: BaseException) -> dict[str, RunSummary]:
    """The sites' runs recorded as failed because their crawl could not be run at all."""
    detail = f"could not run the crawl: {_storage_message(exc) or repr(exc)}"
    summaries = {}
    for job in jobs:
        try:
            with sessions.begin() as session:
                finish_run(session, job.run_id, "failed", detail)
        except Exception as again:  # noqa: BLE001 - the same database: say so, once
            detail += f"; the run could not be recorded: {_storage_message(again) or repr(again)}"
        summaries[job.site] = RunSummary(job.site, job.run_id, "failed", log_path=str(job.log_path), detail=detail)
    return summaries


def crawl_site(
    sessions: sessionmaker[Session],
    settings: Settings,
    site_name: str,
    *,
    holder: str,
    lease_ttl: float = DEFAULT_TTL,
    wait: float = 0.0,
    on_progress: ProgressCallback | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    shared: SharedCrawlProcess | None = None,
) -> RunSummary:
    """Crawl one site under its lease (what a Celery worker runs): in a crawl process of its own, or in
    ``shared``, the crawl process of the other crawls running in this process.

    Raises ``LeaseBusy`` when another process holds the site's lease for longer than ``wait`` seconds.
    """
    with hold_lease(sessions, site_name, holder, ttl=lease_ttl, wait=wait):
        job = prepare_crawl(sessions, settings, site_name)
        if shared is None:
            return run_jobs_guarded(sessions, settings, [job], on_progress=on_progress,
                                    on_start=on_start)[site_name]
        try:
            return shared.run(job)
        except Exception as exc:  # noqa: BLE001 - recorded as the site's failed run, never lost
            return run_jobs_failed(sessions, [job], exc)[site_name]


def crawl_sites(
    sessions: sessionmaker[Session],
    settings: Settings,
    site_names: Sequence[str],
    *,
    on_progress: ProgressCallback | None = None,
    parallel: int | None = None,
    wait: float = 0.0,
    stop: CrawlStop | None = None,
) -> list[RunSummary]:
    """Crawl several sites now, in one crawl process, at most ``parallel`` sites in flight; summaries in the
    order given.

    The leases of all the sites are taken first (waiting up to ``wait`` seconds for a crawl by another
    process, e.g. the daemon, to end); a site still busy then is a ``CrawlError`` and nothing is crawled.
    ``stop`` (``monitor.stopping``) stops the crawl on request: the runs are recorded as interrupted, and
    the leases are released only once the crawl process has exited.
    """
    try:
        with hold_leases(sessions, list(dict.fromkeys(site_names)), lease_holder(), wait=wait):
            return _crawl_prepared(sessions, settings, site_names, on_progress=on_progress,
                                   parallel=parallel, stop=stop)
    except LeaseError as exc:
        raise CrawlError(str(exc)) from exc
    except Exception as exc:
        why = _storage_message(exc)
        if why is None:
            raise
        raise CrawlError(f"cannot crawl {', '.join(site_names)}: {why}") from exc


def _crawl_prepared(
    sessions: sessionmaker[Session],
    settings: Settings,
    site_names: Sequence[str],
    *,
    on_progress: ProgressCallback | None,
    parallel: int | None,
    stop: CrawlStop | None = None,
) -> list[RunSummary]:
    """Plan each site's run and hand it to the crawl process as soon as it is planned: the process starts
    with the first site, its start-up overlapping the planning of the others, and crawls while the rest are
    planned. A site refused at planning (render_js without Chromium, a data folder that takes no files) is a
    failed run, and so is every site the crawl process could not be started for or take; the others go on."""
    names = list(dict.fromkeys(site_names))
    results: dict[str, RunSummary] = {}
    submitted: dict[str, tuple[CrawlJob, Future[RunSummary]]] = {}
    process: CrawlProcess | None = None
    broken: BaseException | None = None  # why the crawl process could not be started, or took no more
    for name in names:
        try:
            job = prepare_crawl(sessions, settings, name)
        except CrawlRefused as exc:  # one misconfigured site must not keep the others from being crawled
            results[name] = RunSummary(name, exc.run_id, "failed", detail=str(exc))
            continue
        if stop is not None and stop.reason is not None:
            results[name] = _interrupted(sessions, RunSummary(name, job.run_id, "running", log_path=str(job.log_path)),
                                         f"{stop.reason} before the crawl started")
            continue
        if broken is None:
            try:
                if process is None:
                    process = CrawlProcess(sessions, settings, crawl_log_path(settings, job, len(names)),
                                           parallel=parallel, env=job.env).start()
                    if stop is not None and process.process is not None:
                        stop.started(process.process)
                submitted[name] = (job, process.submit(job, on_progress))
                continue
            except Exception as exc:  # noqa: BLE001 - recorded for every site it concerns, never lost
                broken = exc
        results.update(run_jobs_failed(sessions, [job], broken))
    if process is None:
        return [results[name] for name in site_names]
    process.close_input()
    process.wait()
    for name, (job, future) in submitted.items():
        try:
            results[name] = future.result()
        except Exception as exc:  # noqa: BLE001 - recorded as the site's failed run, never lost
            results.update(run_jobs_failed(sessions, [job], exc))
    if stop is not None and process.process is not None and stop.ended(process.process) and stop.reason:
        for name in submitted:
            results[name] = _interrupted(sessions, results[name], stop.reason)
    return [results[name] for name in site_names]


def _interrupted(sessions: sessionmaker[Session], summary: RunSummary, why: str) -> RunSummary:
    try:
        with sessions.begin() as session:
            mark_interrupted(session, summary.run_id, why)
    except Exception as exc:  # noqa: BLE001 - the summary still says it, the stale run is closed later
        why = f"{why}; the run could not be recorded: {_storage_message(exc) or repr(exc)}"
    return replace(summary, status="interrupted", detail=why)


def enabled_site_names(session: Session) -> list[str]:
    return list(session.scalars(select(Site.name).where(Site.enabled.is_(True)).order_by(Site.name)))
