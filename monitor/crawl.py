"""On-demand crawls: one `python -m crawler crawl site` subprocess per site (a fresh reactor each time).

The parent records the run, writes the crawl plan, starts the subprocess with the database URL in its
environment, relays its progress, and records a crash as a failed run with the tail of its log.
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
from dataclasses import dataclass, field, replace
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
from monitor.screenshots import chromium_available, chromium_launch_options
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
    """Everything a crawl subprocess needs; built by ``prepare_crawl`` in the parent."""

    site: str
    run_id: int
    plan_path: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    scrapy_settings: list[str] = field(default_factory=list)  # `-s NAME=VALUE` (render_js sites)


ProgressCallback = Callable[[Progress], None]


def prepare_crawl(sessions: sessionmaker[Session], settings: Settings, site_name: str) -> CrawlJob:
    with sessions.begin() as session:
        site = session.scalar(select(Site).where(Site.name == site_name))
        if site is None:
            raise CrawlError(f"no site named {site_name!r} (see `claimwatch sites list`)")
        js_settings = render_js_settings(settings) if site.render_js else []
        close_stale_runs(session, site.id)
        run = start_run(session, site.id)
        # safe_name: a name stored before names were validated must not lead outside the log folder
        log_path = settings.log_dir / f"{safe_name(site.name)}-run{run.id}.log"
        run.log_path = str(log_path)
        plan = plan_crawl(session, site, run.id)
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
        "SCRAPY_SETTINGS_MODULE": "crawler.settings",
        "CLAIMWATCH_DB": settings.db_url,
        "CLAIMWATCH_DATA": str(settings.data_dir),
        "CLAIMWATCH_CONTACT": settings.contact,
        "CLAIMWATCH_CHROMIUM": settings.chromium_path,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")])),
    })
    return CrawlJob(site_name, plan.run_id, plan_path, log_path, env, js_settings)


def render_js_settings(settings: Settings) -> list[str]:
    """Scrapy settings sending pages through scrapy-playwright and the system Chromium (render_js sites);
    plain sites keep Scrapy's HTTP download handler."""
    if not chromium_available(settings):
        raise CrawlRefused(f"render_js needs Chromium, not found at {settings.chromium_path} "
                         "(apt-get install chromium, or set CLAIMWATCH_CHROMIUM)")
    handler = "crawler.browserguard.GuardedPlaywrightHandler"  # Chromium through the site's host policy
    return [
        "DOWNLOAD_HANDLERS=" + json.dumps({"http": handler, "https": handler}),
        "TWISTED_REACTOR=twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "PLAYWRIGHT_BROWSER_TYPE=chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS=" + json.dumps(chromium_launch_options(settings.chromium_path)),
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT=4",
    ]


def crawl_command(job: CrawlJob, extra_settings: Sequence[str] = ()) -> list[str]:
    command = [sys.executable, "-m", "crawler", "crawl", "site", "-a", f"plan={job.plan_path}",
               "-s", f"LOG_FILE={job.log_path}"]
    for setting in [*job.scrapy_settings, *extra_settings]:
        command += ["-s", setting]
    return command


def run_job(
    sessions: sessionmaker[Session],
    job: CrawlJob,
    *,
    on_progress: ProgressCallback | None = None,
    extra_settings: Sequence[str] = (),
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> RunSummary:
    """Run one prepared crawl to the end and return its summary."""
    fd, lifeline_env = lifeline()  # the crawl dies with this process, however it ends (monitor.processes)
    process = subprocess.Popen(
        crawl_command(job, extra_settings), env={**job.env, **lifeline_env}, cwd=str(CHECKOUT),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True, pass_fds=(fd,),
    )
    with sessions.begin() as session:
        run = session.get(CrawlRun, job.run_id)
        assert run is not None
        run.pid = process.pid
    if on_start is not None:
        on_start(process)
    progress = Progress(job.site)
    stray: list[str] = []
    # how the crawl process says the run ended (pipelines.workers.report_run_end)
    status, detail = "finished", None
    assert process.stdout is not None
    for line in process.stdout:
        try:
            data = json.loads(line)
        except ValueError:
            stray.append(line.rstrip())
            continue
        if isinstance(data, dict) and "done" in data:
            progress.done, progress.queued, progress.errors = data["done"], data["queued"], data["errors"]
            progress.finished = bool(data.get("final"))
            if on_progress is not None:
                on_progress(progress)
        elif isinstance(data, dict) and isinstance(data.get("run"), dict):
            status, detail = str(data["run"].get("status") or "failed"), data["run"].get("detail")
    code = process.wait()
    end_process_group(process.pid)  # nothing of the crawl outlives it: page workers, a browser
    if code != 0:
        detail = _failure_detail(code, job.log_path, stray)
        status = "interrupted" if code in (-signal.SIGTERM, -signal.SIGINT) else "failed"
    try:
        # the crawl process closed the run with its counts; this records it when that process could not
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


def _failure_detail(code: int, log_path: Path, stray: list[str]) -> str:
    how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
    tail: list[str] = []
    with contextlib.suppress(OSError):
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
    lines = [f"crawl process {how}", *stray[-10:], *tail]
    return "\n".join(lines)


def run_job_guarded(
    sessions: sessionmaker[Session],
    job: CrawlJob,
    *,
    on_progress: ProgressCallback | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
) -> RunSummary:
    """``run_job``, with a failure to even start the subprocess recorded as a failed run."""
    try:
        return run_job(sessions, job, on_progress=on_progress, on_start=on_start)
    except Exception as exc:  # noqa: BLE001 - one site's failure must not lose the others
        detail = f"could not run the crawl: {_storage_message(exc) or repr(exc)}"
        try:
            with sessions.begin() as session:
                finish_run(session, job.run_id, "failed", detail)
        except Exception as again:  # noqa: BLE001 - the same database: say so, once
            detail += f"; the run could not be recorded: {_storage_message(again) or repr(again)}"
        return RunSummary(job.site, job.run_id, "failed", log_path=str(job.log_path), detail=detail)


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
) -> RunSummary:
    """Crawl one site under its lease (what the daemon's executor runs).

    Raises ``LeaseBusy`` when another process holds the site's lease for longer than ``wait`` seconds.
    """
    with hold_lease(sessions, site_name, holder, ttl=lease_ttl, wait=wait):
        job = prepare_crawl(sessions, settings, site_name)
        return run_job_guarded(sessions, job, on_progress=on_progress, on_start=on_start)


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
    """Crawl several sites now, at most ``parallel`` at a time; summaries in the order given.

    The leases of all the sites are taken first (waiting up to ``wait`` seconds for a crawl by another
    process, e.g. the daemon, to end); a site still busy then is a ``CrawlError`` and nothing is crawled.
    ``stop`` (``monitor.stopping``) stops the crawls on request: their runs are recorded as interrupted, and
    the leases are released only once every crawl process has exited.
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
    jobs: list[CrawlJob] = []
    results: dict[str, RunSummary] = {}
    for name in site_names:
        try:
            jobs.append(prepare_crawl(sessions, settings, name))
        except CrawlRefused as exc:  # one misconfigured site must not keep the others from being crawled
            results[name] = RunSummary(name, exc.run_id, "failed", detail=str(exc))
    semaphore = threading.Semaphore(max(1, parallel or settings.max_parallel_crawls))
    lock = threading.Lock()

    def work(job: CrawlJob) -> None:
        with semaphore:
            summary = _run_stoppable(sessions, job, on_progress, stop)
        with lock:
            results[job.site] = summary

    threads = [threading.Thread(target=work, args=(job,), name=f"crawl-{job.site}") for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[name] for name in site_names]


def _run_stoppable(sessions: sessionmaker[Session], job: CrawlJob, on_progress: ProgressCallback | None,
                   stop: CrawlStop | None) -> RunSummary:
    """``run_job_guarded``; with a ``stop``, a crawl is not started once a stop was asked for, and its run is
    recorded as interrupted when the stop signalled its process (whatever its exit)."""
    if stop is None:
        return run_job_guarded(sessions, job, on_progress=on_progress)
    if stop.reason is not None:
        return _interrupted(sessions, RunSummary(job.site, job.run_id, "running", log_path=str(job.log_path)),
                            f"{stop.reason} before the crawl started")
    started: list[subprocess.Popen[str]] = []

    def on_start(process: subprocess.Popen[str]) -> None:
        started.append(process)
        stop.started(process)

    summary = run_job_guarded(sessions, job, on_progress=on_progress, on_start=on_start)
    signalled = bool(started) and stop.ended(started[0])
    return _interrupted(sessions, summary, stop.reason) if signalled and stop.reason else summary


def _interrupted(sessions: sessionmaker[Session], summary: RunSummary, why: str) -> RunSummary:
    try:
        with sessions.begin() as session:
            mark_interrupted(session, summary.run_id, why)
    except Exception as exc:  # noqa: BLE001 - the summary still says it, the stale run is closed later
        why = f"{why}; the run could not be recorded: {_storage_message(exc) or repr(exc)}"
    return replace(summary, status="interrupted", detail=why)


def enabled_site_names(session: Session) -> list[str]:
    return list(session.scalars(select(Site.name).where(Site.enabled.is_(True)).order_by(Site.name)))
