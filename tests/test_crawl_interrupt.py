"""Ctrl-C, SIGTERM and SIGKILL on a real `claimwatch crawl` (issue 15, item 13).

The crawl is stopped promptly, its run recorded as interrupted, and the site's lease held until no process
of the crawl is left; a killed CLI takes its crawl with it. The fixture server holds the first page's answer
until the test ends, so the crawl is mid-download when the signal comes; the test signals the CLI once that
request has arrived (a threading.Event), and never waits on time except as a failure guard.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from crawlkit import lease_holders, runs, setup_site

from monitor.processes import group_members, pid_alive
from monitor.siteserver import SiteServer

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"
GUARD = 60.0  # seconds: only ever reached when the behaviour under test is broken


@dataclass
class SlowCrawl:
    cli: subprocess.Popen[str]
    crawl_pid: int  # the crawl subprocess, leader of its own process group
    db: str


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                fields = Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if fields[1] == str(pid) and fields[0] != "Z":
                found.append(int(name))
    return found



@pytest.fixture
def slow_crawl(run_cli, sqlite_url: str, site_server, tmp_path: Path) -> Iterator[Callable[[], SlowCrawl]]:
    """Start `claimwatch crawl` (a subprocess in a session of its own, as from a shell) against a shop
    whose start page does not answer until the test ends; returns once the crawl has asked for it."""
    server: SiteServer = site_server(SHOP)
    asked, release = threading.Event(), threading.Event()

    def hold(path: str) -> None:
        asked.set()
        release.wait(GUARD * 2)

    server.hooks["/products/"] = hold
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/")
    started: list[SlowCrawl] = []

    def start() -> SlowCrawl:
        env = {**os.environ, "CLAIMWATCH_DATA": str(tmp_path / "data"), "CLAIMWATCH_SCREENSHOTS": "0",
               "CLAIMWATCH_THROTTLE_START_DELAY": "0.05", "CLAIMWATCH_DOWNLOAD_TIMEOUT": "300"}
        cli = subprocess.Popen([sys.executable, "-m", "monitor.cli", "--db", sqlite_url, "crawl"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
        assert asked.wait(GUARD), "the crawl never asked for its start page"
        [crawl_pid] = _children(cli.pid)  # the crawl subprocess, whose request is being held
        started.append(SlowCrawl(cli, crawl_pid, sqlite_url))
        return started[-1]

    yield start
    release.set()
    for crawl in started:  # whatever a failed test left running
        for group in (crawl.cli.pid, crawl.crawl_pid):
            if group_members(group):
                os.killpg(group, signal.SIGKILL)
        crawl.cli.wait()
        assert crawl.cli.stderr is not None
        crawl.cli.stderr.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_stopped_crawl_ends_promptly_interrupted_and_keeps_its_lease_until_the_crawl_is_gone(
        slow_crawl: Callable[[], SlowCrawl], signum: int) -> None:
    crawl = slow_crawl()
    assert group_members(crawl.crawl_pid), "the crawl process group is not there"
    assert lease_holders(crawl.db), "the site is not leased while it is crawled"

    os.killpg(crawl.cli.pid, signum)  # as a terminal sends Ctrl-C to its foreground process group
    deadline = time.monotonic() + GUARD
    while crawl.cli.poll() is None:
        assert time.monotonic() < deadline, "`claimwatch crawl` did not stop"
        holders = lease_holders(crawl.db)
        if group_members(crawl.crawl_pid):  # alive after the read: it was alive while the lease was read
            assert holders, "the lease was released while the crawl process still ran"
        time.sleep(0.02)

    assert crawl.cli.returncode == 128 + signum
    assert not group_members(crawl.crawl_pid) and not pid_alive(crawl.crawl_pid), "a crawl process is left"
    assert lease_holders(crawl.db) == []
    [run] = runs(crawl.db)
    assert run.status == "interrupted", (run.status, run.detail)
    assert (run.detail or "").startswith(f"interrupted by {signal.Signals(signum).name}")
    assert crawl.cli.stderr is not None
    assert "interrupted" in crawl.cli.stderr.read()


def test_a_killed_cli_leaves_no_crawl_running(slow_crawl: Callable[[], SlowCrawl]) -> None:
    crawl = slow_crawl()
    os.kill(crawl.cli.pid, signal.SIGKILL)
    crawl.cli.wait()
    deadline = time.monotonic() + GUARD
    while group_members(crawl.crawl_pid):
        assert time.monotonic() < deadline, "the crawl went on running after its `claimwatch crawl` was killed"
        time.sleep(0.02)
