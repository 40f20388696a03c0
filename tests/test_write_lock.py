"""WriteLock: claimwatch's writers to one SQLite file take turns without SQLite's sleep-and-retry."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from monitor.db import WriteLock, make_engine

HOLDER = """
import sys, time
from monitor.db import WriteLock, make_engine
lock = WriteLock.for_engine(make_engine(sys.argv[1]))
with lock.held():
    print("held", flush=True)
    time.sleep(0.5)
    released = time.time()
print(released, flush=True)
"""


def test_a_second_writer_waits_for_the_first_and_gets_the_lock_as_soon_as_it_is_released(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    root = Path(__file__).resolve().parent.parent
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, url], stdout=subprocess.PIPE, text=True, cwd=root)
    assert holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        lock = WriteLock.for_engine(make_engine(url))
        asked = time.time()
        with lock.held():
            granted = time.time()
        released = float(holder.stdout.readline())
    finally:
        holder.wait(10)
    lock.close()
    assert granted - asked > 0.3, "the lock was granted while the other process held it"
    # SQLite's busy handler would retry after sleeps of up to 100 ms; the kernel wakes the waiter at once
    assert 0 <= granted - released < 0.05, (granted, released)
    assert (tmp_path / "claimwatch.db.writelock").exists()


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
    with first.held() as held:
        assert held
        started = time.monotonic()
        with second.held(wait=False) as got:
            assert not got
        assert time.monotonic() - started < 0.05
    with second.held(wait=False) as got:
        assert got
    first.close()
    second.close()


def test_a_page_worker_works_on_its_next_page_while_the_lock_is_busy_and_answers_in_order(tmp_path: Path) -> None:
    # While another writer holds the lock, a page worker with a page ready to store takes its next page
    # through archive, normalise and extract; once the lock is free both are stored, oldest first, and each
    # page's answer goes to that page (the crawl process matches answers to pages by their order).
    import asyncio

    from crawlkit import shop_database, shop_page
    from sqlalchemy import select

    from monitor.models import Fetch
    from pipelines.chain import ChainConfig, serve_pages
    from pipelines.pagepool import PagePool

    url = f"sqlite:///{tmp_path / 'claimwatch.db'}"
    engine, sessions, site_id = shop_database(url)

    other_writer = WriteLock.for_engine(engine)

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
                await asyncio.sleep(1.0)
                assert not any(future.done() for future in futures), "stored while the lock was held"
                # the first page waits for the lock; the second (this pool sends a worker two at a time) is
                # archived meanwhile
                assert archived() == ["http://127.0.0.1:1/gone.html", "http://127.0.0.1:1/new.html"]
            return [stored.outcome for stored in await asyncio.gather(*futures)]
        finally:
            pool.close()

    outcomes = asyncio.run(crawl())
    assert outcomes == ["gone", "new", "error"]
    with sessions.begin() as session:
        assert len(session.scalars(select(Fetch)).all()) == 3
    engine.dispose()
