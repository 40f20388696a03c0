"""A crawl killed with SIGKILL keeps what it stored; the next crawl completes the site, duplicating nothing."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from crawlkit import counts, page_urls, pool_processes, runs, start_slow_crawl
from sqlalchemy import func, select

from monitor.db import make_engine, make_session_factory
from monitor.models import Page, Snapshot

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_sigkill_midway_then_recrawl(run_cli, db_url, site_server, tmp_path, monkeypatch) -> None:
    server = site_server(SHOP)
    parent = start_slow_crawl(run_cli, db_url, server, tmp_path / "data")  # surely midway when killed
    try:
        _wait_for(lambda: counts(db_url).snapshots >= 6, 60, "six stored pages")
        child = runs(db_url)[-1].pid
        assert child
        pool = pool_processes(child)
        assert pool, "the crawl's analysis processes were not started"
        # the worst case: the crawl process and the `claimwatch crawl` parent both die at once
        os.killpg(parent.pid, signal.SIGKILL)
        os.kill(child, signal.SIGKILL) if _alive(child) else None
        parent.wait(10)
    finally:
        if parent.poll() is None:
            parent.kill()
    _wait_for(lambda: not _alive(child), 10, "the crawl process to die")
    # nothing of it lives on: its analysis processes end with it (else they would wait forever, each holding
    # the memory of a loaded model)
    _wait_for(lambda: not any(_alive(pid) for pid in pool), 10, "the analysis processes to end")
    killed = counts(db_url)
    assert 6 <= killed.snapshots < 36, "the crawl was not midway"
    kept = set(page_urls(db_url))

    server.delays.clear()
    result = run_cli("crawl", db=db_url)
    assert result.exit_code == 0, result.stderr
    final = counts(db_url)
    assert kept <= set(page_urls(db_url)), "pages stored before the kill were lost"
    assert final.pages == 38  # 36 HTML pages + manual.bin + missing.html
    engine = make_engine(db_url)
    with make_session_factory(engine)() as session:
        per_page = session.execute(select(Snapshot.page_id, func.count()).group_by(Snapshot.page_id)).all()
        assert all(n == 1 for _page, n in per_page), "a page got a duplicate snapshot"
        assert session.scalar(select(func.count()).select_from(Page)) == 38
    engine.dispose()
    statuses = [run.status for run in runs(db_url)]
    assert statuses == ["interrupted", "finished"], statuses


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
