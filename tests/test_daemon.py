"""`claimwatch run` as a real subprocess: second-level schedules against a local fixture site and a local
SMTP server (aiosmtpd on 127.0.0.1).

One daemon goes through a whole life: crawl cycles, a content change reported in exactly one digest, a
site added while it runs, an on-demand crawl refused (and one that waits), a crawl subprocess killed by a
signal, and a SIGTERM in the middle of a crawl.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import crontab_cases
import pytest
from sqlalchemy import select, update

from monitor.config import DaemonSettings, load_settings
from monitor.crawl import RunSummary
from monitor.db import make_engine, make_session_factory, upgrade
from monitor.models import Change, CrawlRun, DaemonHeartbeat, Site
from monitor.scheduler import Daemon
from monitor.schedules import CronError, cron_trigger, crontab_weekdays
from monitor.sites import remove_site, upsert_sites
from monitor.status import collect_status
from monitor.watchlist import SiteSpec

SITES = Path(__file__).resolve().parent / "sites" / "daemon"
EVERY_3S = "*/3 * * * * *"  # 6-field: only with CLAIMWATCH_SCHEDULE_SECONDS=1


# --- a local SMTP server -------------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    controller_module = pytest.importorskip("aiosmtpd.controller")
    inbox = Inbox()
    port = free_port()
    controller = controller_module.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    return part.get_content() if part is not None else ""


# --- the daemon as a subprocess ------------------------------------------------------------------------


@dataclass
class Db:
    url: str

    def __post_init__(self) -> None:
        self.engine = make_engine(self.url)
        self.sessions = make_session_factory(self.engine)

    def runs(self, site: str | None = None) -> list[CrawlRun]:
        with self.sessions() as session:
            query = select(CrawlRun).order_by(CrawlRun.id)
            if site is not None:
                query = query.join(Site, Site.id == CrawlRun.site_id).where(Site.name == site)
            return list(session.scalars(query))

    def changes(self) -> list[Change]:
        with self.sessions() as session:
            return list(session.scalars(select(Change).order_by(Change.id)))

    def add_site(self, name: str, url: str, schedule: str = EVERY_3S, **fields: Any) -> None:
        """What `claimwatch sites add` does (the CLI only takes 5-field crons, so tests call its library)."""
        spec = SiteSpec(name=name, start_urls=(url,), allow=(f"/{name}/",), schedule=schedule, **fields)
        with self.sessions.begin() as session:
            upsert_sites(session, [spec])

    def set_schedule(self, name: str, schedule: str) -> None:
        with self.sessions.begin() as session:
            session.execute(update(Site).where(Site.name == name).values(schedule=schedule))


def base_env(tmp_path: Path, db_url: str, smtp_port: int | None = None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAIMWATCH_")}
    env.update({
        "CLAIMWATCH_DB": db_url,
        "CLAIMWATCH_DATA": str(tmp_path / "data"),
        "CLAIMWATCH_CONTACT": "tests@claimwatch.invalid",
        "CLAIMWATCH_RECIPIENTS": "analyst@agency.invalid",
        "CLAIMWATCH_MAIL_FROM": "claimwatch <claimwatch@test.invalid>",
        "CLAIMWATCH_THROTTLE_START_DELAY": "0.05",
        "CLAIMWATCH_SCHEDULE_SECONDS": "1",
        "CLAIMWATCH_JITTER_SECONDS": "0",
        "CLAIMWATCH_SYNC_SECONDS": "1",
        "CLAIMWATCH_HEARTBEAT_SECONDS": "0.5",
        "CLAIMWATCH_OUTBOX_SECONDS": "1",
        "CLAIMWATCH_DIGEST_CRON": "*/2 * * * * *",
        "CLAIMWATCH_STOP_TIMEOUT": "1",
        "CLAIMWATCH_LEASE_TTL": "5",
    })
    if smtp_port is not None:
        env.update({"CLAIMWATCH_SMTP_HOST": "127.0.0.1", "CLAIMWATCH_SMTP_PORT": str(smtp_port),
                    "CLAIMWATCH_SMTP_SECURITY": "none", "CLAIMWATCH_SMTP_TIMEOUT": "5"})
    return env


#: The waits below poll for what the daemon does; their timeouts only stop a hang, so they are generous.
HANG_STRETCH = 4


class DaemonProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "run"], env=env,
                                        stdout=subprocess.DEVNULL, stderr=self._log)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        # the timeouts bound a hang, they measure nothing: stretched so a loaded 2-core machine passes
        deadline = time.monotonic() + timeout * HANG_STRETCH
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if self.process.poll() is not None:
                pytest.fail(f"the daemon exited ({self.process.returncode}) while waiting for {what}:\n"
                            f"{self.log()[-4000:]}")
            time.sleep(0.1)
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}; daemon log:\n{self.log()[-4000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._log.close()


def cli(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


# --- the tests -----------------------------------------------------------------------------------------


def test_daemon_life(tmp_path, site_server, smtp) -> None:
    inbox, smtp_port = smtp
    db_url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    db = Db(db_url)
    upgrade(db.engine)
    server = site_server(SITES / "v1", noise=False)
    db.add_site("alpha", f"{server.url}/alpha/")
    env = base_env(tmp_path, db_url, smtp_port)
    daemon = DaemonProcess(env, tmp_path / "daemon.log")
    try:
        # 1. a baseline crawl, then the seller shortens its guarantee: the next cycle records the change
        daemon.wait_for(lambda: any(r.status == "finished" for r in db.runs("alpha")), 30, "alpha's baseline")
        server.set_root(SITES / "v2")
        changes = daemon.wait_for(db.changes, 30, "the guarantee change")
        assert any("14-day" in (change.after or "") for change in changes), changes
        finished = daemon.wait_for(
            lambda: len([r for r in db.runs("alpha") if r.status == "finished"]) >= 3, 30, "a third cycle")
        assert finished

        # 2. exactly one digest carries it, however many digest runs follow
        daemon.wait_for(lambda: inbox.messages, 20, "the digest email")
        digests_before = daemon.log().count("digest: ")
        daemon.wait_for(lambda: daemon.log().count("digest: ") >= digests_before + 2, 20, "two more digests")
        assert len(inbox.messages) == 1, [m["Subject"] for m in inbox.messages]
        message = inbox.messages[0]
        assert message["To"] and "analyst@agency.invalid" in message["To"]
        assert "14-day" in text_of(message)
        assert len(db.changes()) == 1

        # 3. a site added while the daemon runs is crawled, without a restart
        db.add_site("beta", f"{server.url}/beta/")
        daemon.wait_for(lambda: any(r.status == "finished" for r in db.runs("beta")), 20, "beta's first crawl")

        # 4. an on-demand crawl during a scheduled crawl of the same site is refused, or waits
        # (a run that starts after the delay is set: one already under way may be past that page)
        last_run = max(r.id for r in db.runs("alpha"))
        server.delays["/alpha/returns.html"] = 2.5
        running = daemon.wait_for(lambda: [r for r in db.runs("alpha")
                                           if r.id > last_run and r.status == "running" and r.pid],
                                  30, "a slow alpha crawl")
        refused = cli(env, "crawl", "--site", "alpha")
        assert refused.returncode == 1
        assert "site alpha is being crawled by" in refused.stderr and " since " in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert db.runs("alpha")[-1].id == running[-1].id  # nothing started
        waited = cli(env, "crawl", "--site", "alpha", "--wait", "30")
        assert waited.returncode == 0, waited.stderr
        assert "alpha: finished" in waited.stderr

        # 5. a crawl subprocess killed by a signal is recorded as failed; the next cycle still runs
        victim = daemon.wait_for(
            lambda: [r for r in db.runs("alpha") if r.status == "running" and r.pid], 20, "an alpha crawl")[-1]
        os.kill(victim.pid, signal.SIGKILL)
        failed = daemon.wait_for(lambda: [r for r in db.runs("alpha") if r.id == victim.id
                                          and r.status == "failed"], 20, "the killed run recorded")[0]
        assert "killed by signal 9" in (failed.detail or "")
        daemon.wait_for(lambda: [r for r in db.runs("alpha") if r.id > victim.id and r.status == "finished"],
                        30, "the next alpha cycle")

        # 6. status while it runs
        status = cli(env, "status", "--format", "json")
        assert status.returncode == 0, status.stderr
        data = json.loads(status.stdout)
        assert data["daemon"]["running"] is True and data["daemon"]["heartbeat_age_seconds"] < 5
        assert {site["name"] for site in data["sites"]} == {"alpha", "beta"}
        assert all(site["next_run"] for site in data["sites"])
        assert data["outbox"]["pending"] == 0
        table = cli(env, "status")
        assert table.returncode == 0 and "daemon: running" in table.stdout and "beta" in table.stdout

        # 7. SIGTERM in the middle of a crawl: clean exit, the run recorded as interrupted
        server.delays["/alpha/returns.html"] = 4
        last = db.runs("alpha")[-1].id
        slow = daemon.wait_for(  # a crawl that just started: still busy after the 1 s stop timeout
            lambda: [r for r in db.runs("alpha") if r.id > last and r.status == "running" and r.pid], 20,
            "a slow crawl")[-1]
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(30) == 0, daemon.log()[-3000:]
        stopped = [r for r in db.runs("alpha") if r.id == slow.id][0]
        assert stopped.status == "interrupted", (stopped.status, stopped.detail, daemon.log()[-3000:])
        assert all(r.status != "running" for r in db.runs())
        with db.sessions() as session:
            assert session.get(DaemonHeartbeat, 1) is None
        log = daemon.log()
        assert "stop requested (SIGTERM)" in log and log.rstrip().endswith("stopped")
        assert "Traceback" not in log, log[-3000:]

        # 8. the next start catches up the interrupted site at once
        server.delays.clear()
        daemon.stop()
        daemon = DaemonProcess(env, tmp_path / "daemon2.log")
        daemon.wait_for(lambda: "site alpha: its last crawl was interrupted; catching up" in daemon.log(), 20,
                        "the catch-up of alpha")
        daemon.wait_for(lambda: [r for r in db.runs("alpha") if r.id > slow.id and r.status == "finished"],
                        20, "alpha crawled again")
        daemon.process.send_signal(signal.SIGINT)
        assert daemon.process.wait(30) == 0, daemon.log()[-3000:]
        assert len(inbox.messages) == 1

        # never two crawls of one site at once: daemon cron, catch-up and on-demand crawls alike
        for site in ("alpha", "beta"):
            spans = sorted((r.started_at, r.finished_at) for r in db.runs(site))
            for (_start, end), (next_start, _end) in zip(spans, spans[1:], strict=False):
                assert end is not None and end <= next_start, (site, spans)
    finally:
        daemon.stop()
        db.engine.dispose()


def test_alerts_right_after_the_crawl(tmp_path, site_server, smtp) -> None:
    """CLAIMWATCH_ALERTS=1: a change of at least the alert severity is mailed when its crawl ends (and
    not again in the next digest)."""
    inbox, smtp_port = smtp
    db_url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    db = Db(db_url)
    upgrade(db.engine)
    server = site_server(SITES / "v1", noise=False)
    db.add_site("alpha", f"{server.url}/alpha/")
    env = base_env(tmp_path, db_url, smtp_port)
    env.update({"CLAIMWATCH_ALERTS": "1", "CLAIMWATCH_ALERT_MIN_SEVERITY": "medium",
                "CLAIMWATCH_DIGEST_CRON": "0 7 * * *"})
    daemon = DaemonProcess(env, tmp_path / "daemon.log")
    try:
        daemon.wait_for(lambda: any(r.status == "finished" for r in db.runs("alpha")), 30, "alpha's baseline")
        server.set_root(SITES / "v2")
        daemon.wait_for(lambda: inbox.messages, 30, "the alert email")
        assert "14-day" in text_of(inbox.messages[0])
        assert "alpha: 1 alert message(s) queued" in daemon.log()
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(30) == 0, daemon.log()[-3000:]
        assert len(inbox.messages) == 1
        assert all(change.reported_at is not None for change in db.changes())
    finally:
        daemon.stop()
        db.engine.dispose()


@pytest.mark.parametrize(("schedule", "digest", "expected"), [
    ("61 * * * *", None, "site broken: bad cron expression '61 * * * *'"),
    ("0 6 * *", None, "site broken: expected 5 or 6 (with seconds) cron fields"),
    ("0 6 * * *", "every morning", "CLAIMWATCH_DIGEST_CRON: expected 5 or 6"),
])
def test_bad_cron_is_a_clear_error_at_start(tmp_path, schedule, digest, expected) -> None:
    db_url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    db = Db(db_url)
    upgrade(db.engine)
    db.add_site("broken", "http://127.0.0.1:9/broken/", schedule=schedule)
    db.engine.dispose()
    env = base_env(tmp_path, db_url)
    if digest:
        env["CLAIMWATCH_DIGEST_CRON"] = digest
    result = cli(env, "run", timeout=30)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_crontab_weekdays_are_not_apschedulers() -> None:
    """crontab says 0 = Sunday, APScheduler 3 says 0 = Monday: the daemon speaks crontab."""
    assert crontab_weekdays("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_weekdays("0") == crontab_weekdays("7") == "sun"
    assert crontab_weekdays("5-7") == crontab_weekdays("fri-sun") == "fri,sat,sun"
    assert crontab_weekdays("sat,sun") == "sat,sun"


@pytest.mark.parametrize(("line", "expected"), crontab_cases.GOOD, ids=[line for line, _ in crontab_cases.GOOD])
def test_the_daemon_fires_when_crontab_would(line: str, expected: list[str]) -> None:
    # the same table as the watchlist's (test_watchlist): what one accepts, the other accepts
    trigger = cron_trigger(line, "UTC")
    fired: list[str] = []
    previous, now = None, crontab_cases.START
    for _ in expected:
        previous = trigger.get_next_fire_time(previous, now)
        fired.append(crontab_cases.shown(previous))
        now = previous + timedelta(seconds=1)
    assert fired == expected


@pytest.mark.parametrize(("line", "message"), crontab_cases.BAD, ids=[line or "empty" for line, _ in crontab_cases.BAD])
def test_the_daemon_refuses_a_bad_line_as_the_watchlist_does(line: str, message: str) -> None:
    with pytest.raises(CronError) as refused:
        cron_trigger(line, "UTC")
    assert message in str(refused.value) and "\n" not in str(refused.value)


class RecordingExecutor:
    """A stand-in behind the executor seam: records what the scheduler submits, crawls nothing."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.stopped_with: float | None = None

    def submit(self, site_name: str) -> Future[RunSummary]:
        self.submitted.append(site_name)
        future: Future[RunSummary] = Future()
        future.set_result(RunSummary(site_name, 0, "finished"))
        return future

    def shutdown(self, timeout: float) -> None:
        self.stopped_with = timeout


def test_live_configuration_through_the_executor_seam(tmp_path, caplog) -> None:
    """Sites added, re-scheduled, disabled and removed reach the jobs without a restart; the scheduler only
    sees the executor's two methods. Waits on what the daemon does (submissions, its jobs, its log), never
    for a fixed time; the timeout only bounds a hang."""
    db = Db(f"sqlite:///{tmp_path / 'claimwatch.db'}")
    upgrade(db.engine)
    db.add_site("alpha", "http://127.0.0.1:9/alpha/", schedule="*/1 * * * * *")
    settings = load_settings({"CLAIMWATCH_DATA": str(tmp_path / "data")}, db_url=db.url)
    options = DaemonSettings.from_env({"CLAIMWATCH_SCHEDULE_SECONDS": "1", "CLAIMWATCH_JITTER_SECONDS": "0",
                                       "CLAIMWATCH_SYNC_SECONDS": "0.2", "CLAIMWATCH_HEARTBEAT_SECONDS": "0.2",
                                       "CLAIMWATCH_STOP_TIMEOUT": "7"})
    caplog.set_level(logging.ERROR, logger="monitor.scheduler")
    executor = RecordingExecutor()
    daemon = Daemon(db.engine, settings, options, executor)
    daemon.start()
    runner = threading.Thread(target=daemon.run)
    runner.start()

    def jobs() -> dict[str, str]:
        with db.sessions() as session:
            return {site["name"]: site["next_run"] for site in collect_status(session)["sites"] if site["next_run"]}

    def eventually(predicate: Callable[[], Any], what: str, timeout: float = 10 * HANG_STRETCH) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)

    try:
        eventually(lambda: "alpha" in executor.submitted, "a crawl of alpha")
        db.add_site("beta", "http://127.0.0.1:9/beta/", schedule="*/1 * * * * *")
        eventually(lambda: "beta" in executor.submitted, "beta, added while running")
        db.set_schedule("beta", "0 6 1 1 *")  # re-scheduled: once a year
        eventually(lambda: (jobs().get("beta") or "").endswith("-01-01T06:00:00Z"), "beta re-scheduled")
        with db.sessions.begin() as session:
            session.execute(update(Site).where(Site.name == "alpha").values(enabled=False))
        eventually(lambda: "alpha" not in jobs(), "alpha disabled")
        # a witness on alpha's old schedule: while it runs twice, neither disabled alpha nor yearly beta runs
        db.add_site("gamma", "http://127.0.0.1:9/gamma/", schedule="*/1 * * * * *")
        eventually(lambda: "gamma" in executor.submitted, "gamma, the witness")
        count = len(executor.submitted)
        eventually(lambda: executor.submitted[count:].count("gamma") >= 2, "two more runs of gamma")
        assert set(executor.submitted[count:]) == {"gamma"}  # neither disabled alpha nor yearly beta ran
        with db.sessions.begin() as session:
            remove_site(session, "beta")
            remove_site(session, "gamma")
        eventually(lambda: jobs() == {}, "beta and gamma removed")
        db.set_schedule("alpha", "61 * * * *")  # a bad cron slipped into the table: logged, not fatal
        with db.sessions.begin() as session:
            session.execute(update(Site).where(Site.name == "alpha").values(enabled=True))
        eventually(lambda: "site alpha: not (re-)scheduled" in caplog.text, "the bad cron to be logged")
        assert runner.is_alive() and jobs() == {}
    finally:
        daemon.request_stop("test")
        runner.join(30)
        db.engine.dispose()
    assert not runner.is_alive() and executor.stopped_with == 7
