"""Scale-out on Celery with real parts (issue 16): two `claimwatch worker` processes, each with a data folder of
its own (two machines sharing one PostgreSQL), take crawl requests from a real broker (Redis, and RabbitMQ).

The worker crawling the fixture shop is SIGKILLed mid-crawl, while the server holds the answer to its fourth
page request (a server-side hold, released once the worker is dead). Then: the other worker crawls the site again and its
run finishes; no page is stored twice (one fetch row per page in each run, one snapshot per page); the
two crawls never overlap (the killed run's last fetch precedes the new run, one lease holder at a time);
and the evidence of a page the killed worker stored comes out of `claimwatch evidence` run from a third,
empty data folder after both workers' folders are gone (CLAIMWATCH_EVIDENCE=database).

Then, on the surviving worker, a crawl requested while someone else holds the site's lease is not lost:
it is retried until the lease is free, and only then crawled.

Waits poll what the processes do, with deadlines that only stop a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from monitor.celery_executor import CeleryExecutor
from monitor.config import load_settings
from monitor.db import make_engine, make_session_factory, upgrade
from monitor.leases import release, try_acquire
from monitor.models import CrawlRun, Fetch, Page, Site, SiteLease, Snapshot
from monitor.sites import upsert_sites
from monitor.watchlist import SiteSpec

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"
MAX_PAGES = 8  # pages of the shop a crawl fetches
HELD_REQUEST = 4  # the server holds the answer to the 4th page request it gets (not counting robots.txt)
GUARD = 60.0  # seconds: reached only when what is awaited never happens


def wait_for(predicate: Callable[[], Any], what: str, *, timeout: float = GUARD,
             watch: list[Worker] | None = None) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for worker in watch or []:
            if worker.process.poll() is not None:
                pytest.fail(f"worker {worker.name} exited ({worker.process.returncode}) while waiting for {what}:\n"
                            f"{worker.log()[-3000:]}")
        time.sleep(0.05)
    logs = "\n".join(f"--- {w.name}:\n{w.log()[-3000:]}" for w in watch or [])
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{logs}")


class Worker:
    """`claimwatch worker` in a subprocess, with a data folder of its own (a machine of its own)."""

    def __init__(self, name: str, env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "worker", "--concurrency", "1"],
                                        env=env, stdout=subprocess.DEVNULL, stderr=self._log)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._log.close()


class Shop:
    """The fixture shop's database: runs, fetches, snapshots and the lease, read as the workers write them."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)

    def runs(self) -> list[CrawlRun]:
        with self.sessions() as session:
            return list(session.scalars(select(CrawlRun).order_by(CrawlRun.id)))

    def fetches(self, run_id: int | None = None) -> list[Fetch]:
        with self.sessions() as session:
            query = select(Fetch).order_by(Fetch.id)
            if run_id is not None:
                query = query.where(Fetch.run_id == run_id)
            return list(session.scalars(query))

    def holder(self) -> str | None:
        with self.sessions() as session:
            return session.scalar(select(SiteLease.holder))


class HolderLog:
    """Samples the site's lease holder every few milliseconds: who held it, in which order."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.seen: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            holder = self.shop.holder()
            if holder and (not self.seen or self.seen[-1] != holder):
                self.seen.append(holder)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(5)
        return self.seen


def holder_pid(holder: str) -> int:
    return int(holder.rsplit(":", 2)[1])


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, broker_url: str, site_server) -> Iterator[dict[str, Any]]:
    """PostgreSQL with the shop, the shop's server (holding its HELD_REQUEST-th page request), the workers'
    environment and a queue of this test's own."""
    server = site_server(SHOP, noise=False)
    held, release_held = threading.Event(), threading.Event()
    served: list[str] = []  # page paths requested so far; the held one is the HELD_REQUEST-th
    lock = threading.Lock()

    def hold(path: str) -> None:
        with lock:
            served.append(path)
            holding = len(served) == HELD_REQUEST and not held.is_set()
        if holding:
            held.set()
            release_held.wait(GUARD)

    for page in (SHOP / "products").iterdir():
        server.hooks[f"/products/{page.name}"] = hold
    server.hooks["/products/"] = hold
    engine = make_engine(pg_url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        upsert_sites(session, [SiteSpec(name="shop", start_urls=(f"{server.url}/products/",),
                                        allow=("/products/",), max_pages=MAX_PAGES)])
    engine.dispose()
    queue = f"cw-test-{uuid.uuid4().hex[:12]}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAIMWATCH_")}
    env.update({
        "CLAIMWATCH_DB": pg_url,
        "CLAIMWATCH_BROKER": broker_url,
        "CLAIMWATCH_QUEUE": queue,
        "CLAIMWATCH_VISIBILITY_TIMEOUT": "10",  # Redis: a dead worker's request is handed on after 10 s
        "CLAIMWATCH_BUSY_RETRY": "0.5",
        "CLAIMWATCH_LEASE_TTL": "5",
        "CLAIMWATCH_EVIDENCE": "database",
        "CLAIMWATCH_CONTACT": "tests@claimwatch.invalid",
        "CLAIMWATCH_THROTTLE_START_DELAY": "0.05",
        "CLAIMWATCH_SCREENSHOTS": "0",
    })
    shop = Shop(pg_url)
    yield {"env": env, "shop": shop, "held": held, "release_held": release_held, "queue": queue,
           "broker": broker_url, "server": server, "served": served}
    release_held.set()
    shop.engine.dispose()
    _delete_queue(broker_url, queue)


def _delete_queue(broker_url: str, queue: str) -> None:
    """Remove this test's queue (and what is left in it) from the broker."""
    try:
        if broker_url.startswith(("redis:", "rediss:")):
            import redis

            client = redis.Redis.from_url(broker_url)
            keys = [*client.scan_iter(match=f"{queue}*"), *client.scan_iter(match=f"_kombu.binding*.{queue}")]
            if keys:
                client.delete(*keys)
            client.close()
            return
        from kombu import Connection
        from kombu import Queue as KombuQueue

        with Connection(broker_url, connect_timeout=5) as connection:
            KombuQueue(queue, channel=connection.channel()).delete()
    except Exception:  # noqa: BLE001 - cleanup only: a left-over queue harms nothing
        pass


def test_a_worker_killed_mid_crawl_is_replaced_and_nothing_is_stored_twice(cluster, tmp_path: Path) -> None:
    env, shop = cluster["env"], cluster["shop"]
    workers = [Worker(name, {**env, "CLAIMWATCH_DATA": str(tmp_path / name)}, tmp_path / f"{name}.log")
               for name in ("machine1", "machine2")]
    executor = CeleryExecutor(load_settings(env))
    holders = HolderLog(shop)
    try:
        for worker in workers:
            wait_for(lambda w=worker: " ready." in w.log(), f"worker {worker.name} to be ready", watch=workers)

        # 1. the daemon's seam: one crawl request; a worker takes it and crawls until the held page
        future = executor.submit("shop")
        assert cluster["held"].wait(GUARD), "no worker crawled the shop up to the held page"
        [first_run] = wait_for(lambda: [r for r in shop.runs() if len(shop.fetches(r.id)) >= 3],
                               "pages of the first run to be stored", watch=workers)
        holder = shop.holder()
        assert holder is not None, "the site is being crawled without its lease"
        [victim] = [w for w in workers if w.process.pid == holder_pid(holder)]
        [survivor] = [w for w in workers if w is not victim]

        # 2. SIGKILL the worker that is crawling: no goodbye, no acknowledgement
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait(10)
        cluster["release_held"].set()

        # 3. the request comes back to the other worker, which crawls the site to the end
        summary = future.result(timeout=GUARD + 30)
        assert summary.status == "finished", summary.line()
        assert summary.run_id != first_run.id
        runs = {run.id: run for run in shop.runs()}
        assert sorted(runs) == [first_run.id, summary.run_id], "a crawl of its own per delivery, no more"
        killed, replacement = runs[first_run.id], runs[summary.run_id]
        assert killed.status == "interrupted", (killed.status, killed.detail)
        assert replacement.status == "finished"

        # one lease holder at a time, the killed worker's then the survivor's; none left
        seen = holders.stop()
        assert [holder_pid(h) for h in seen] == [victim.process.pid, survivor.process.pid], seen
        assert shop.holder() is None

        # the two crawls never overlapped: the killed run's last download came before the new run began
        killed_fetches, new_fetches = shop.fetches(killed.id), shop.fetches(replacement.id)
        assert killed_fetches and max(f.fetched_at for f in killed_fetches) < replacement.started_at

        # nothing stored twice: one fetch row per page in each run (the restart adds one per page, in its
        # own run), the new run covers every page the killed one had reached, one snapshot per page
        for fetches in (killed_fetches, new_fetches):
            repeated = [page for page, n in Counter(f.page_id for f in fetches).items() if n > 1]
            assert not repeated, f"pages fetched twice in one run: {repeated}"
        assert {f.page_id for f in killed_fetches} <= {f.page_id for f in new_fetches}
        held_path = cluster["served"][HELD_REQUEST - 1]
        with shop.sessions() as session:
            snapshots = Counter(session.scalars(select(Snapshot.page_id)))
            held = session.scalar(select(Page.id).where(Page.url.like(f"%{held_path}")))
        assert snapshots and max(snapshots.values()) == 1, snapshots
        assert held in {f.page_id for f in new_fetches}, f"the new run did not fetch the held page {held_path}"
        assert len(new_fetches) == MAX_PAGES, "the new run did not crawl the whole site"

        # 4. the evidence of a page the killed worker stored, from a third machine: the workers' data
        # folders are gone, the analyst's is empty
        stored_by_killed = [f for f in killed_fetches if f.outcome == "new" and f.status == 200]
        assert stored_by_killed
        with shop.sessions() as session:
            url = session.scalar(select(Page.url).where(Page.id == stored_by_killed[0].page_id))
        survivor.stop()
        for worker in workers:
            (tmp_path / worker.name).rename(tmp_path / f"{worker.name}-gone")
        analyst = {**env, "CLAIMWATCH_DATA": str(tmp_path / "analyst")}
        bundle = tmp_path / "bundle.zip"
        made = subprocess.run([sys.executable, "-m", "monitor.cli", "evidence", str(url), "--out", str(bundle)],
                              env=analyst, capture_output=True, text=True, timeout=GUARD)
        assert made.returncode == 0, made.stderr
        checked = subprocess.run([sys.executable, "-m", "monitor.cli", "evidence", "verify", str(bundle)],
                                 env=analyst, capture_output=True, text=True, timeout=GUARD)
        assert checked.returncode == 0 and checked.stdout.startswith("OK"), checked.stdout + checked.stderr
    finally:
        holders.stop()
        executor.shutdown(0)
        for worker in workers:
            worker.stop()


def test_a_crawl_of_a_leased_site_waits_for_the_lease_and_is_not_lost(cluster, tmp_path: Path) -> None:
    env, shop = cluster["env"], cluster["shop"]
    cluster["held"].set()  # no page held in this test, and a short crawl: what matters is when it starts
    with shop.sessions.begin() as session:
        session.execute(update(Site).values(max_pages=3))
    worker = Worker("machine1", {**env, "CLAIMWATCH_DATA": str(tmp_path / "machine1")}, tmp_path / "worker.log")
    try:
        wait_for(lambda: " ready." in worker.log(), "the worker to be ready", watch=[worker])
        lease = try_acquire(shop.sessions, "shop", "elsewhere:1:analyst", ttl=600)  # someone else crawls it
        enqueue = subprocess.Popen([sys.executable, "-m", "monitor.cli", "enqueue", "--site", "shop"], env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: worker.log().count("tried again in 0.5 s") >= 3, "the busy request to be retried",
                     watch=[worker])
            assert shop.runs() == [], "crawled while another holder had the lease"
            assert enqueue.poll() is None, "`claimwatch enqueue` gave up while the request waits"
            released_at = time.time()
            release(shop.sessions, lease)
            out, err = enqueue.communicate(timeout=GUARD)
        finally:
            if enqueue.poll() is None:
                enqueue.kill()
                enqueue.communicate()
        assert enqueue.returncode == 0, err
        [run] = shop.runs()
        assert run.status == "finished" and run.started_at.timestamp() >= released_at - 1
        assert f"shop: finished, {run.pages} pages" in err, err
    finally:
        worker.stop()


def test_a_worker_without_its_broker_stops_with_one_line(tmp_path: Path, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    engine.dispose()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAIMWATCH_")}
    env.update({"CLAIMWATCH_DB": sqlite_url, "CLAIMWATCH_DATA": str(tmp_path / "data"),
                "CLAIMWATCH_BROKER": "redis://user:secret@127.0.0.1:1/0"})
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "worker"], env=env, capture_output=True,
                          text=True, timeout=GUARD)
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot reach the broker at redis://user:**@127.0.0.1:1/0: ")
    assert done.stderr.count("\n") == 1 and "secret" not in done.stderr


# --- the pieces, without a broker ----------------------------------------------------------------------


def test_the_executor_is_chosen_by_the_settings(sqlite_url: str, tmp_path: Path) -> None:
    from monitor.executor import LocalProcessExecutor, make_executor

    env = {"CLAIMWATCH_DB": sqlite_url, "CLAIMWATCH_DATA": str(tmp_path / "data")}
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    try:
        local = make_executor(sessions, load_settings(env))
        assert isinstance(local, LocalProcessExecutor)
        local.shutdown(0)
        distributed = make_executor(sessions, load_settings({**env, "CLAIMWATCH_EXECUTOR": "celery"}))
        assert isinstance(distributed, CeleryExecutor)  # built without contacting the broker
        distributed.shutdown(0)
    finally:
        engine.dispose()
    with pytest.raises(ValueError, match="CLAIMWATCH_EXECUTOR must be one of local, celery, not 'kubernetes'"):
        load_settings({**env, "CLAIMWATCH_EXECUTOR": "kubernetes"})
    with pytest.raises(ValueError, match="CLAIMWATCH_BROKER must be a redis:// or amqp:// URL"):
        load_settings({**env, "CLAIMWATCH_BROKER": "http://user:pw@queue.internal/"})


def test_celery_is_configured_for_late_acknowledgement(tmp_path: Path) -> None:
    from monitor.celery_app import celery_config

    base = {"CLAIMWATCH_DB": "sqlite:///x.db", "CLAIMWATCH_DATA": str(tmp_path)}
    redis = celery_config(load_settings({**base, "CLAIMWATCH_BROKER": "redis://127.0.0.1:6379/3",
                                         "CLAIMWATCH_VISIBILITY_TIMEOUT": "7200"}))
    assert redis["task_acks_late"] and redis["task_reject_on_worker_lost"] and redis["task_acks_on_failure_or_timeout"]
    assert redis["worker_prefetch_multiplier"] == 1
    assert redis["result_backend"] == "redis://127.0.0.1:6379/3"
    assert redis["broker_transport_options"]["visibility_timeout"] == 7200
    assert redis["task_default_queue"] == "claimwatch-crawls" and redis["accept_content"] == ["json"]
    amqp = celery_config(load_settings({**base, "CLAIMWATCH_BROKER": "amqp://guest:guest@127.0.0.1:5672//",
                                        "CLAIMWATCH_QUEUE": "crawls-eu"}))
    assert amqp["result_backend"] == "rpc://" and "broker_transport_options" not in amqp
    assert amqp["task_default_queue"] == "crawls-eu"


def test_task_outcomes_become_summaries_or_the_daemons_exceptions() -> None:
    from datetime import UTC, datetime

    from monitor.celery_app import busy_outcome, crawl_outcome, error_outcome
    from monitor.celery_executor import TaskFailed, outcome_summary
    from monitor.crawl import CrawlError, RunSummary
    from monitor.leases import LeaseBusy, LeaseError

    summary = RunSummary("acme", 7, "finished", 12, 3, 1, 0, "/var/lib/claimwatch/logs/acme-run7.log")
    assert outcome_summary(crawl_outcome(summary)) == summary
    since = datetime(2026, 3, 2, 6, 1, 12, tzinfo=UTC)
    with pytest.raises(LeaseBusy, match="site acme is being crawled by w1:40:ab since 2026-03-02 06:01:12 UTC"):
        outcome_summary(busy_outcome(LeaseBusy("acme", "w1:40:ab", since)))
    with pytest.raises(CrawlError, match="no site named 'gone'"):
        outcome_summary(error_outcome(CrawlError("no site named 'gone'")))
    with pytest.raises(LeaseError):
        outcome_summary(error_outcome(LeaseError("the lease changed hands too often")))
    with pytest.raises(TaskFailed):
        outcome_summary("something else")


def test_a_request_no_worker_answers_fails_after_the_result_timeout(broker_url: str, tmp_path: Path) -> None:
    from monitor.celery_executor import TaskFailed

    queue = f"cw-test-{uuid.uuid4().hex[:12]}"
    settings = load_settings({"CLAIMWATCH_DB": "sqlite:///unused.db", "CLAIMWATCH_DATA": str(tmp_path),
                              "CLAIMWATCH_BROKER": broker_url, "CLAIMWATCH_QUEUE": queue,
                              "CLAIMWATCH_RESULT_TIMEOUT": "1"})
    executor = CeleryExecutor(settings, poll_interval=0.1)
    try:
        future = executor.submit("acme")
        with pytest.raises(TaskFailed, match=f"no answer from the workers after 1 s .*queue '{queue}'"):
            future.result(timeout=GUARD)
    finally:
        executor.shutdown(0)
        _delete_queue(broker_url, queue)


def test_a_request_the_broker_refuses_fails_at_once(tmp_path: Path) -> None:
    from monitor.crawl import CrawlError

    settings = load_settings({"CLAIMWATCH_DB": "sqlite:///unused.db", "CLAIMWATCH_DATA": str(tmp_path),
                              "CLAIMWATCH_BROKER": "redis://127.0.0.1:1/0", "CLAIMWATCH_EXECUTOR": "celery"})
    executor = CeleryExecutor(settings)
    try:
        future = executor.submit("acme")
        with pytest.raises(CrawlError, match="could not queue the crawl on redis://127.0.0.1:1/0: "):
            future.result(timeout=GUARD)
        executor.shutdown(0)
        from monitor.executor import ExecutorClosed

        with pytest.raises(ExecutorClosed):
            executor.submit("acme")
    finally:
        executor.shutdown(0)
