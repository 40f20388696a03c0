"""The page workers: processes beside Scrapy that archive, normalise, extract and store each page.

How many there are must never change what is stored; a worker that dies fails the run loudly (never a
crawl that claims to have finished) and loses nothing the next crawl cannot fetch again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from crawlkit import counts, crawl, runs, setup_site, shop_database, shop_page, start_slow_crawl

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"


def _export(run_cli, db: str) -> list[dict]:
    result = run_cli("export", "--format", "json", db=db)
    assert result.exit_code == 0, result.stderr
    pages = json.loads(result.stdout)["pages"]
    for page in pages:
        page.pop("fetched_at")
        page.pop("last_checked_at")
        page["url"] = page["url"].split("/", 3)[3]  # each crawl has its own server port
    return sorted(pages, key=lambda page: page["url"])


@pytest.mark.parametrize("workers", ["0", "1", "3"])
def test_the_number_of_workers_never_changes_what_is_stored(run_cli, sqlite_url, site_server, tmp_path,
                                                            monkeypatch, workers) -> None:
    server = site_server(SHOP, noise=False)  # both crawls must see the same bytes
    baseline_db = f"sqlite:///{tmp_path / 'baseline.db'}"
    setup_site(run_cli, baseline_db, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, baseline_db)  # the default: 2 workers

    monkeypatch.setenv("CLAIMWATCH_CRAWL_WORKERS", workers)
    monkeypatch.setenv("CLAIMWATCH_DATA", str(tmp_path / "data2"))
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)

    expected, got = _export(run_cli, baseline_db), _export(run_cli, sqlite_url)
    assert len(got) >= 30 and sum(len(page["statements"]) for page in got) > 50
    assert got == expected
    assert counts(sqlite_url) == counts(baseline_db)
    # WARC files of their own for each worker (one for the crawl process itself when there are none)
    names = [path.name for path in (tmp_path / "data2" / "warc").glob("*.warc.gz")]
    if workers == "0":
        assert len(names) == 1 and names[0].startswith("shop-run1-") and "-w" not in names[0]
    else:
        assert 1 <= len(names) <= int(workers) and all(name.startswith("shop-run1-w") for name in names)
    log = Path(runs(sqlite_url)[-1].log_path or "").read_text()
    assert log.count("page worker done") == int(workers)
    # the processes end without the interpreter's teardown: what they logged last is still in the log
    assert "Spider closed (finished)" in log.rstrip().splitlines()[-1]


def test_bad_worker_count_is_a_one_line_error(run_cli, sqlite_url, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_CRAWL_WORKERS", "many")
    result = run_cli("sites", "list", db=sqlite_url)
    assert result.exit_code != 0
    assert "CLAIMWATCH_CRAWL_WORKERS" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def _workers(pid: int) -> list[int]:
    """The page workers under a crawl process."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            found = [int(child) for child in children.read().split()]
    except OSError:
        return []
    workers = []
    for child in found:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                if b"pipelines.pageworker" in cmdline.read():
                    workers.append(child)
        except OSError:
            continue
    return workers


def test_a_worker_killed_midway_fails_the_run_and_the_next_crawl_completes(run_cli, sqlite_url, site_server,
                                                                          tmp_path) -> None:
    server = site_server(SHOP)
    # slow pages, so the crawl is surely midway when the worker dies
    parent = start_slow_crawl(run_cli, sqlite_url, server, tmp_path / "data", stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while counts(sqlite_url).snapshots < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        crawler = runs(sqlite_url)[-1].pid
        assert crawler, "the crawl process never started"
        workers = _workers(crawler)
        assert len(workers) == 2, f"expected two page workers under the crawl process, found {workers}"
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = parent.communicate(timeout=60)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
    assert parent.returncode != 0, "a crawl whose worker died must not report success"
    assert "did not finish" in stderr
    run = runs(sqlite_url)[-1]
    assert run.status == "failed" and "page worker died" in (run.detail or "")
    assert not _workers(crawler), "page workers outlived their crawl"
    stored = counts(sqlite_url)
    assert stored.pages < 38

    server.delays.clear()
    crawl(run_cli, sqlite_url)
    assert counts(sqlite_url).pages == 38  # 36 HTML pages + manual.bin + missing.html
    assert [r.status for r in runs(sqlite_url)] == ["failed", "finished"]


def test_a_page_that_cannot_be_analysed_is_recorded_as_an_error_and_keeps_its_snapshot(sqlite_url, tmp_path,
                                                                                        monkeypatch) -> None:
    # an extraction bug on one odd page must not lose its fetch, nor read as the page's statements removed
    from sqlalchemy import select

    from crawler.items import PageItem
    from monitor.models import Fetch, Page
    from pipelines.chain import ChainConfig, PageChain

    engine, sessions, site_id = shop_database(sqlite_url)
    chain = PageChain(ChainConfig(sqlite_url, site_id=site_id, data_dir=tmp_path / "data"), worker="w1")
    chain.open()
    try:
        assert chain.process(shop_page("p.html")).outcome == "new"

        def broken(item: PageItem) -> PageItem:
            raise ValueError("extractor bug")

        monkeypatch.setattr(chain.extract, "process_item", broken)
        assert chain.process(shop_page("p.html", text="Reverses arthritis in days.")).outcome == "error"
    finally:
        chain.close()
    with sessions.begin() as session:
        fetches = session.scalars(select(Fetch).order_by(Fetch.id)).all()
        assert [fetch.outcome for fetch in fetches] == ["new", "error"]
        assert fetches[1].error == "not analysed: ValueError: extractor bug" and fetches[1].status == 200
        assert fetches[1].warc_path is not None  # the response is archived all the same
        stored = session.scalars(select(Page)).one()
        assert stored.current_snapshot_id is not None and stored.state == "active"
    engine.dispose()


def test_a_page_the_database_refuses_is_named_in_the_runs_summary(run_cli, sqlite_url, site_server) -> None:
    # a store that fails (here a trigger refusing one page's fetch row) must not leave a run that reads as
    # complete: the crawl finishes, the other pages are stored, and the summary says what was not
    import sqlite3

    server = site_server(SHOP)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as connection:
        connection.execute("CREATE TRIGGER refuse_p03 BEFORE INSERT ON fetch WHEN NEW.final_url LIKE '%/p03.html' "
                           "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    result = crawl(run_cli, sqlite_url)
    assert "shop: finished" in result.stderr
    assert "1 fetched page could not be stored (see the log)" in result.stderr, result.stderr
    [run] = runs(sqlite_url)
    assert run.status == "finished" and run.detail and "could not be stored" in run.detail
    assert "refused by the test" in Path(run.log_path or "").read_text()
    assert counts(sqlite_url).fetches == run.pages > 25
