"""WriteLock: claimwatch's writers to one SQLite file take turns without SQLite's sleep-and-retry.

No test here measures time: they synchronise on what the kernel reports (a process queued for the lock in
/proc/locks), on pipes and on files. A deadline only bounds how long a broken build may hang.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.db import WriteLock, make_engine

#: How long a test waits for something that must happen before it calls it a hang (not a measurement).
HANG_GUARD = 120.0

HOLDER = """
import sys
from monitor.db import WriteLock, make_engine
lock = WriteLock.for_engine(make_engine(sys.argv[1]))
with lock.held():
    print("held", flush=True)
    sys.stdin.readline()  # hold the lock until the test says so
print("released", flush=True)
"""


def queued_for(path: Path) -> list[int]:
    """The processes waiting in the kernel for the flock on ``path``: the "->" lines of /proc/locks.

    A waiter the kernel queues is woken by the release itself; one that polls (``LOCK_NB`` and sleep, as
    SQLite's busy handler does) never appears here.
    """
    inode = os.stat(path).st_ino
    waiting = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 6 and fields[1] == "->" and fields[2] == "FLOCK" and fields[6].endswith(f":{inode}"):
            waiting.append(int(fields[5]))
    return waiting


def wait_until(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def test_a_second_writer_waits_for_the_first_and_gets_the_lock_as_soon_as_it_is_released(tmp_path: Path) -> None:
    if not Path("/proc/locks").exists():
        pytest.skip("needs Linux's /proc/locks")
    url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    root = Path(__file__).resolve().parent.parent
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=root)
    assert holder.stdin is not None and holder.stdout is not None
    lock = WriteLock.for_engine(make_engine(url))
    granted = threading.Event()

    def second_writer() -> None:
        with lock.held():
            granted.set()

    waiter = threading.Thread(target=second_writer, daemon=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        waiter.start()
        path = tmp_path / "claimwatch.db.writelock"
        wait_until(lambda: granted.is_set() or queued_for(path), "the second writer to ask for the lock")
        assert not granted.is_set(), "the lock was granted while the other process held it"
        # queued in the kernel: it is woken by the release itself, not by a retry after a sleep
        assert len(queued_for(path)) == 1
        holder.stdin.write("release\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        waiter.join(HANG_GUARD)
        assert granted.is_set() and not queued_for(path)
    finally:
        holder.stdin.close()
        holder.wait(HANG_GUARD)
        waiter.join(HANG_GUARD)
        lock.close()


def test_databases_without_a_file_of_their_own_get_no_lock_file(tmp_path: Path) -> None:
    assert WriteLock.for_engine(make_engine("sqlite://")).path is None
    assert WriteLock.for_engine(make_engine("sqlite:///:memory:")).path is None
    assert WriteLock.for_engine(make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")).path is None
    with WriteLock(None).held():  # a no-op, not an error
        pass


def test_a_folder_where_no_lock_file_can_be_made_falls_back_to_sqlites_own_locking(tmp_path: Path) -> None:
    lock = WriteLock(tmp_path / "missing-folder" / "claimwatch.db.writelock")
    with lock.held():
        pass
    assert lock.path is None


def test_page_workers_checkpoint_the_wal_themselves_outside_the_write_lock(tmp_path: Path, monkeypatch) -> None:
    from datetime import UTC, datetime

    from crawler.items import PageItem
    from monitor.db import upgrade
    from monitor.sites import upsert_sites
    from monitor.store import StoreRules
    from monitor.watchlist import SiteSpec
    from pipelines import store as store_module

    url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    engine = make_engine(url)
    upgrade(engine)
    from monitor.db import make_session_factory

    with make_session_factory(engine).begin() as session:
        upsert_sites(session, [SiteSpec("shop", ("http://127.0.0.1:1/",))])
    engine.dispose()

    held_during_checkpoint: list[bool] = []
    real_checkpoint = store_module.checkpoint
    pipeline = store_module.StorePipeline(url, StoreRules(), site_id=1)

    def watched(connection) -> None:  # type: ignore[no-untyped-def]
        held_during_checkpoint.append(pipeline.lock._fd is not None and _locked_elsewhere(pipeline.lock.path))
        real_checkpoint(connection)

    monkeypatch.setattr(store_module, "checkpoint", watched)
    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY", 2)
    pipeline.open()
    try:
        assert pipeline.engine is not None
        with pipeline.engine.connect() as connection:
            # SQLite's own checkpoint at the end of a commit is off for the workers' connections
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        for n in range(5):
            pipeline.process_item(PageItem(url=f"http://127.0.0.1:1/p{n}.html", final_url=None, status=404,
                                           headers={}, body=b"", fetched_at=datetime.now(UTC), site="shop", run=None))
    finally:
        pipeline.close()
    assert held_during_checkpoint == [False, False], "checkpoints every 2 commits, never under the write lock"


def _locked_elsewhere(path: Path | None) -> bool:
    """Whether the write lock file is held (a fresh descriptor cannot take it without waiting)."""
    import fcntl
    import os

    if path is None:
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_held_without_waiting_says_at_once_whether_it_got_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    first, second = WriteLock.for_engine(make_engine(url)), WriteLock.for_engine(make_engine(url))
    answers: list[bool] = []

    def try_second() -> None:
        with second.held(wait=False) as got:
            answers.append(got)

    with first.held() as held:
        assert held
        # the first lock is released only after this: an attempt that waited for it would never answer
        attempt = threading.Thread(target=try_second, daemon=True)
        attempt.start()
        attempt.join(HANG_GUARD)
        assert answers == [False], "held(wait=False) waited for the lock"
    with second.held(wait=False) as got:
        assert got
    first.close()
    second.close()


def test_a_page_worker_works_on_its_next_page_while_the_lock_is_busy_and_answers_in_order(tmp_path: Path) -> None:
    # While another writer holds the lock, a page worker with a page ready to store takes its next page
    # through archive, normalise and extract; once the lock is free both are stored, oldest first, and each
    # page's answer goes to that page (the crawl process matches answers to pages by their order).
    # Synchronised on the worker queueing for the lock (/proc/locks), which it does only when it has no
    # other page to work on: no sleep, no assumption about how fast a busy machine is.
    if not Path("/proc/locks").exists():
        pytest.skip("needs Linux's /proc/locks")
    import asyncio

    from crawlkit import shop_database, shop_page
    from sqlalchemy import select

    from monitor.models import Fetch
    from pipelines.chain import ChainConfig, serve_pages
    from pipelines.pagepool import PagePool

    url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    engine, sessions, site_id = shop_database(url)

    other_writer = WriteLock.for_engine(engine)
    lock_file = tmp_path / "claimwatch.db.writelock"

    def archived() -> list[str]:
        from warcio.archiveiterator import ArchiveIterator

        found = []
        for path in sorted((tmp_path / "data").rglob("*.warc.gz")):
            with path.open("rb") as stream:
                found += [record.rec_headers.get_header("WARC-Target-URI") for record in ArchiveIterator(stream)
                          if record.rec_type == "response"]
        return found

    async def crawl() -> list[str | None]:
        pool = PagePool(1, serve_pages, (ChainConfig(url, site_id=site_id, data_dir=tmp_path / "data"),),
                        depth=2)
        pool.start(asyncio.get_running_loop())
        try:
            with other_writer.held():
                futures = [pool.submit(shop_page("gone.html", 404)), pool.submit(shop_page("new.html")),
                           pool.submit(shop_page("down.html", 503))]
                deadline = time.monotonic() + HANG_GUARD
                while not queued_for(lock_file):  # the event loop keeps running: answers would be seen
                    assert time.monotonic() < deadline, "the page worker never asked for the write lock"
                    await asyncio.sleep(0.01)
                # the first page waits for the lock; the second (this pool sends a worker two at a time) was
                # archived meanwhile, and nothing was stored or answered
                assert archived() == ["http://127.0.0.1:1/gone.html", "http://127.0.0.1:1/new.html"]
                with sessions() as session:
                    assert session.scalars(select(Fetch)).all() == [], "stored while the lock was held"
                assert not any(future.done() for future in futures), "answered while the lock was held"
            return [stored.outcome for stored in await asyncio.gather(*futures)]
        finally:
            pool.close()

    outcomes = asyncio.run(crawl())
    assert outcomes == ["gone", "new", "error"]
    with sessions.begin() as session:
        assert len(session.scalars(select(Fetch)).all()) == 3
    engine.dispose()
