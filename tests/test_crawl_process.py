"""One crawl process for many sites (crawler/process.py) and the page pipelines behind it.

Every site of a crawl runs in one Scrapy process with a crawler of its own; one site's failure (connection
refused, robots.txt answering 500, an exception in a pipeline, a crawl that cannot start) touches none of
the others. How many analysis processes there are never changes what is stored; one that dies costs the
pages it held (recorded as errors, fetched again next time), never the crawl.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from crawlkit import (
    PagePipelines,
    counts,
    crawl,
    fetches,
    pool_processes,
    runs,
    setup_site,
    shop_database,
    shop_page,
    start_slow_crawl,
)
from sqlalchemy import select

from monitor.config import load_settings
from monitor.db import make_engine, make_session_factory

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"
TESTS = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _fast(monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")


def _export(run_cli, db: str) -> list[dict]:
    result = run_cli("export", "--format", "json", db=db)
    assert result.exit_code == 0, result.stderr
    pages = json.loads(result.stdout)["pages"]
    for page in pages:
        page.pop("fetched_at")
        page.pop("last_checked_at")
        page["url"] = page["url"].split("/", 3)[3]  # each crawl has its own server port
    return sorted(pages, key=lambda page: page["url"])


def test_extraction_in_the_process_pool_or_in_the_crawl_process_stores_the_same(run_cli, sqlite_url, site_server,
                                                                                tmp_path, monkeypatch) -> None:
    server = site_server(SHOP, noise=False)  # both crawls must see the same bytes
    baseline_db = f"sqlite:///{tmp_path / 'baseline.db'}"
    setup_site(run_cli, baseline_db, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, baseline_db)  # the default: a pool, one process per CPU this test may use
    # the process closed its database and pool when the crawl ended, cleanly (not left to interpreter exit)
    [log] = (tmp_path / "data" / "logs").glob("*.log")
    assert "[pipelines.services]" not in log.read_text(), log.read_text()[-2000:]

    monkeypatch.setenv("CLAIMWATCH_CRAWL_WORKERS", "0")
    monkeypatch.setenv("CLAIMWATCH_DATA", str(tmp_path / "data2"))
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    crawl(run_cli, sqlite_url)

    expected, got = _export(run_cli, baseline_db), _export(run_cli, sqlite_url)
    assert len(got) >= 30 and sum(len(page["statements"]) for page in got) > 50
    assert got == expected
    assert counts(sqlite_url) == counts(baseline_db)
    # one WARC file for the site's run, named after it
    names = [path.name for path in (tmp_path / "data2" / "warc").glob("*.warc.gz")]
    assert len(names) == 1 and names[0].startswith("shop-run1"), names


def test_bad_worker_count_is_a_one_line_error(run_cli, sqlite_url, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_CRAWL_WORKERS", "many")
    result = run_cli("sites", "list", db=sqlite_url)
    assert result.exit_code != 0
    assert "CLAIMWATCH_CRAWL_WORKERS" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this platform")
def test_the_default_pool_has_one_process_per_cpu_this_process_may_use() -> None:
    """A worker limited to one CPU (taskset, a container's quota) starts one analysis process, not a fixed
    count that would fight over it; CLAIMWATCH_CRAWL_WORKERS still decides when set."""
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "from monitor.config import load_settings; "
            "print(load_settings({}).crawl_workers, load_settings({'CLAIMWATCH_CRAWL_WORKERS': '3'}).crawl_workers)")
    limited = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert limited.stdout.split() == ["1", "3"]
    unlimited = subprocess.run([sys.executable, "-c", "from monitor.config import load_settings; "
                                "print(load_settings({}).crawl_workers)"], capture_output=True, text=True, check=True)
    assert int(unlimited.stdout) == min(len(os.sched_getaffinity(0)), 8)


def test_an_analysis_process_killed_midway_costs_only_its_pages_and_the_crawl_finishes(
        run_cli, sqlite_url, site_server, tmp_path) -> None:
    server = site_server(SHOP)
    # slow pages, so the crawl is surely midway when the pool process dies
    parent = start_slow_crawl(run_cli, sqlite_url, server, tmp_path / "data", stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while counts(sqlite_url).snapshots < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        crawler = runs(sqlite_url)[-1].pid
        assert crawler, "the crawl process never started"
        pool = pool_processes(crawler)
        assert len(pool) == 2, f"expected two analysis processes under the crawl process, found {pool}"
        os.kill(pool[0], signal.SIGKILL)
        _, stderr = parent.communicate(timeout=120)
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
    assert parent.returncode == 0, stderr
    [run] = runs(sqlite_url)
    assert run.status == "finished", (run.status, run.detail)
    assert not pool_processes(crawler), "analysis processes outlived their crawl"
    stored = counts(sqlite_url)
    assert stored.pages == 38  # 36 HTML pages + manual.bin + missing.html: every fetch recorded
    lost = [f for f in fetches(sqlite_url) if (f.error or "").startswith("not analysed")]
    assert all("BrokenProcessPool" in (f.error or "") or "terminated abruptly" in (f.error or "") for f in lost)

    server.delays.clear()
    crawl(run_cli, sqlite_url)
    assert [r.status for r in runs(sqlite_url)] == ["finished", "finished"]
    second = [f for f in fetches(sqlite_url) if f.run_id == 2]
    assert not [f for f in second if (f.error or "").startswith("not analysed")]


def test_a_page_that_cannot_be_analysed_is_recorded_as_an_error_and_keeps_its_snapshot(sqlite_url, tmp_path,
                                                                                        monkeypatch) -> None:
    # an extraction bug on one odd page must not lose its fetch, nor read as the page's statements removed
    import pipelines.extract
    from monitor.models import Fetch, Page

    engine, sessions, site_id = shop_database(sqlite_url)
    settings = dataclasses.replace(load_settings({"CLAIMWATCH_DATA": str(tmp_path / "data")}, db_url=sqlite_url),
                                   crawl_workers=0)
    chain = PagePipelines(settings, site_id)
    try:
        assert chain.process(shop_page("p.html")).outcome == "new"

        def broken(*args: object) -> object:
            raise ValueError("extractor bug")

        monkeypatch.setattr(pipelines.extract, "analyse", broken)
        assert chain.process(shop_page("p.html", text="Reverses arthritis in days.")).outcome == "error"
    finally:
        chain.close()
    with sessions.begin() as session:
        stored = session.scalars(select(Fetch).order_by(Fetch.id)).all()
        assert [fetch.outcome for fetch in stored] == ["new", "error"]
        assert stored[1].error == "not analysed: ValueError: extractor bug" and stored[1].status == 200
        assert stored[1].warc_path is not None  # the response is archived all the same
        page = session.scalars(select(Page)).one()
        assert page.current_snapshot_id is not None and page.state == "active"
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
    result = run_cli("crawl", db=sqlite_url)
    assert result.exit_code == 0, result.stderr
    [run] = runs(sqlite_url)
    assert run.status == "finished"
    assert run.detail and "1 fetched page could not be stored" in run.detail
    assert "1 fetched page could not be stored" in result.stderr
    assert counts(sqlite_url).pages == 37


# --- many sites in one process ---------------------------------------------------------------------------

def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def test_twenty_sites_in_one_crawl_process_and_one_sites_failure_touches_no_other(
        run_cli, sqlite_url, site_server, tmp_path, monkeypatch) -> None:
    from monitor.crawl import prepare_crawl, run_jobs
    from monitor.leases import hold_leases, lease_holder

    servers = {f"seller{n:02d}": site_server(SHOP, host=f"127.0.1.{n}") for n in range(1, 17)}
    robots_500 = site_server(SHOP, host="127.0.1.17")
    robots_500.overrides["/robots.txt"] = (500, {"Content-Type": "text/plain"}, b"oops")
    for name, server in {**servers, "robots500": robots_500, "boom": site_server(SHOP, host="127.0.1.18"),
                         "broken": site_server(SHOP, host="127.0.1.19")}.items():
        setup_site(run_cli, sqlite_url, name, f"{server.url}/blog/", "--allow", "/blog/")
    refused = f"http://127.0.1.20:{_free_port('127.0.1.20')}/blog/"  # nothing listens there
    setup_site(run_cli, sqlite_url, "refused", refused, "--allow", "/blog/")
    names = [*servers, "robots500", "boom", "broken", "refused"]

    settings = load_settings()
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    pipelines = {
        "pipelines.archive.ArchivePipeline": 100, "pipelines.normalize.NormalizePipeline": 200,
        "pipelines.extract.ExtractPipeline": 300, "crawl_faults.FailingPipeline": 350,
        "crawl_faults.FailingStart": 360, "pipelines.store.StorePipeline": 400,
    }
    try:
        with hold_leases(sessions, names, lease_holder()):
            jobs = [prepare_crawl(sessions, settings, name) for name in names]
            for job in jobs:  # the crawl process imports the test pipelines from tests/
                job.env["PYTHONPATH"] = os.pathsep.join([str(TESTS), job.env["PYTHONPATH"]])
            summaries = run_jobs(sessions, settings, jobs, parallel=8,
                                 extra_settings=[f"ITEM_PIPELINES={json.dumps(pipelines)}"])
    finally:
        engine.dispose()

    pids = {run.pid for run in runs(sqlite_url)}
    assert len(pids) == 1, "every site must be crawled by the same process"
    for name in servers:
        summary = summaries[name]
        assert summary.status == "finished", (name, summary.status, summary.detail)
        assert summary.pages == 2 and summary.errors == 0, (name, summary.line())
    assert summaries["robots500"].status == "finished" and summaries["robots500"].pages == 2
    assert summaries["boom"].detail and "2 fetched pages could not be stored" in summaries["boom"].detail
    assert summaries["broken"].status == "failed" and "cannot start" in (summaries["broken"].detail or "")
    assert summaries["refused"].status == "failed" and "unreachable" in (summaries["refused"].detail or "")
    # one log for the crawl process, each site's lines named, Scrapy's start-up listing given once
    [log_path] = {summaries[name].log_path for name in servers}
    log = Path(log_path).read_text(encoding="utf-8")
    for name in [*servers, "robots500", "boom"]:
        assert f"INFO: [{name}] Dumping Scrapy stats:" in log, name
    # and each site's stats count its own log lines only (the others' errors are not its errors)
    stats = {name: log.split(f"[{name}] Dumping Scrapy stats:", 1)[1].split("\n20", 1)[0] for name in servers}
    assert all("'log_count/ERROR'" not in text and "'log_count/INFO'" in text for text in stats.values())
    assert "ERROR: [boom] Error processing" in log and "ERROR: [refused] Gave up retrying" in log
    assert log.count("Enabled downloader middlewares") == 1 and log.count("Overridden settings") == 1
    # each site's run has its own counts; every fetch belongs to its site's run
    by_run = {run.id: run for run in runs(sqlite_url)}
    for fetch in fetches(sqlite_url):
        assert fetch.run_id in by_run

    # the same through `claimwatch crawl`: one process, a summary line per site, a non-zero exit for failures
    monkeypatch.setenv("CLAIMWATCH_MAX_PARALLEL", "4")
    result = run_cli("crawl", *[arg for name in [*servers, "refused"] for arg in ("--site", name)], db=sqlite_url)
    assert result.exit_code == 1 and "crawl did not finish for: refused" in result.stderr
    assert sum(line.startswith("seller") and ": finished, 2 pages" in line
               for line in result.stderr.splitlines()) == len(servers)
    latest = runs(sqlite_url)[-len(servers) - 1:]
    assert len({run.pid for run in latest}) == 1


def test_a_meta_refresh_to_no_url_at_all_is_not_followed_and_the_page_is_stored(run_cli, sqlite_url, site_server) -> None:
    # hostile pages put script where a refresh URL goes: the page is still a page, analysed and stored
    server = site_server(SHOP)
    server.overrides["/blog/post-1.html"] = (
        200, {"Content-Type": "text/html"},
        b'<meta http-equiv="refresh" content="0; url=javascript:alert(1)"><p>Cures arthritis in a week.</p>')
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/blog/", "--allow", "/blog/")
    crawl(run_cli, sqlite_url)
    [post] = [f for f in fetches(sqlite_url) if (f.final_url or "").endswith("/blog/post-1.html")]
    assert post.status == 200 and post.error is None and post.outcome == "new", (post.status, post.error)


def test_progress_lines_say_only_what_moved(capsys) -> None:
    """Hundreds of sites in flight mostly wait out politeness delays: each says something only when its
    numbers changed, and always at its end."""
    from types import SimpleNamespace

    from crawler.extensions import CrawlProgress

    progress = CrawlProgress(SimpleNamespace(engine=None), 0.5, "shop")  # type: ignore[arg-type]
    progress.emit()
    progress.emit()
    progress.stored(SimpleNamespace(error=None, status=200))
    progress.emit()
    progress.emit()
    progress.emit(final=True)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["done"], line.get("final", False)) for line in lines] == [(0, False), (1, False), (1, True)]


def test_the_crawl_log_names_each_sites_lines_and_lists_each_distinct_set_up_once() -> None:
    """A site's records (logged with its spider) start with its name; a start-up listing repeats only where a
    site's differs (a render_js site's download handlers); records of no site pass unchanged."""
    import logging
    from types import SimpleNamespace

    from crawler.logs import SiteLines

    lines = SiteLines()

    def record(name: str, message: str, *args: object, site: str | None = None) -> logging.LogRecord | None:
        made = logging.LogRecord(name, logging.INFO, __file__, 1, message, args or None, None)
        if site is not None:
            made.spider = SimpleNamespace(plan=SimpleNamespace(site=site))
        return made if lines.filter(made) else None

    listing = "Enabled %(componentname)ss:\n%(enabledlist)s"
    shown = [record("scrapy.middleware", listing, {"componentname": "item pipeline", "enabledlist": "[a, b]"}),
             record("scrapy.middleware", listing, {"componentname": "item pipeline", "enabledlist": "[a, b]"}),
             record("scrapy.middleware", listing, {"componentname": "item pipeline", "enabledlist": "[a, c]"})]
    assert [r is not None for r in shown] == [True, False, True]
    stats = record("scrapy.statscollectors", "Dumping Scrapy stats:\n%s", "{'x': 1}", site="acme")
    assert stats is not None and stats.getMessage() == "[acme] Dumping Scrapy stats:\n{'x': 1}"
    assert lines.filter(stats) and stats.getMessage().count("[acme]") == 1  # a second handler adds nothing
    plain = record("pipelines.normalize", "page %s could not be analysed", "http://x/")
    assert plain is not None and plain.getMessage() == "page http://x/ could not be analysed"


def test_the_crawl_process_lifts_a_low_open_files_limit() -> None:
    """Hundreds of sites in flight hold more sockets than a shell's usual 1,024 open files allow."""
    import resource
    import sys

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit on open files is {hard}: nothing to lift")

    def low() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))

    probe = ("import resource\n"
             "from monitor.processes import raise_open_files_limit\n"
             "raised = raise_open_files_limit()\n"
             "print(raised, resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, preexec_fn=low,
                            timeout=60, check=True)
    raised, in_force = map(int, result.stdout.split())
    assert raised == in_force and in_force > 256


@pytest.mark.parametrize(("status", "lowered"), [(200, True), (304, True), (404, False), (503, False)])
def test_autothrottle_reads_a_304_as_a_normal_answer(status: int, lowered: bool) -> None:
    """A re-crawl of an unchanged site gets 304s: they lower a host's delay as 200s do (Scrapy's own
    AutoThrottle kept it at its start value for a whole re-crawl); error pages still never lower it."""
    from scrapy.core.downloader import Slot
    from scrapy.extensions.throttle import AutoThrottle
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from crawler.extensions import ConditionalAutoThrottle

    crawler = get_crawler(settings_dict={"AUTOTHROTTLE_ENABLED": True, "AUTOTHROTTLE_START_DELAY": 0.5})
    throttle = ConditionalAutoThrottle(crawler)
    throttle.mindelay, throttle.maxdelay = 0.0, 30.0  # set when the spider opens
    slot = Slot(concurrency=8, delay=0.5, jitter=0)
    throttle._adjust_delay(slot, 0.004, Response("http://127.0.0.1:1/p.html", status=status))
    assert (slot.delay < 0.5) is lowered
    # Scrapy's own leaves the delay where it was after a 304
    plain, slot = AutoThrottle(crawler), Slot(concurrency=8, delay=0.5, jitter=0)
    plain.mindelay, plain.maxdelay = 0.0, 30.0
    plain._adjust_delay(slot, 0.004, Response("http://127.0.0.1:1/p.html", status=status))
    assert (slot.delay < 0.5) is (status == 200)
