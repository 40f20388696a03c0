"""Site leases on SQLite and PostgreSQL: one holder at a time, expiry, renewal, waiting, racing takers."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor import leases
from monitor.config import load_settings
from monitor.crawl import CrawlError, crawl_sites
from monitor.db import make_engine, make_session_factory
from monitor.leases import (
    Lease,
    LeaseBusy,
    LeaseError,
    acquire,
    hold_lease,
    lease_holder,
    release,
    renew,
    try_acquire,
)
from monitor.models import CrawlRun, SiteLease, utcnow
from monitor.sites import upsert_sites
from monitor.watchlist import SiteSpec


@pytest.fixture
def site(sessions: sessionmaker[Session]) -> str:
    with sessions.begin() as session:
        upsert_sites(session, [SiteSpec(name="acme", start_urls=("http://127.0.0.1:9/",))])
    return "acme"


def lease_row(sessions: sessionmaker[Session]) -> SiteLease | None:
    with sessions() as session:
        return session.scalar(select(SiteLease))


def test_one_holder_at_a_time(sessions, site) -> None:
    first, second = lease_holder(), lease_holder()
    lease = try_acquire(sessions, site, first, ttl=30)
    with pytest.raises(LeaseBusy) as busy:
        try_acquire(sessions, site, second, ttl=30)
    message = str(busy.value)
    assert message.startswith(f"site acme is being crawled by {first} since ")
    assert message.endswith(" UTC") and "\n" not in message
    assert try_acquire(sessions, site, first, ttl=30).holder == first  # taking it again renews it
    release(sessions, lease)
    assert lease_row(sessions) is None
    assert try_acquire(sessions, site, second, ttl=30).holder == second


def test_expired_lease_is_taken_over_and_the_old_holder_notices(sessions, site) -> None:
    crashed = try_acquire(sessions, site, "elsewhere:1:dead", ttl=30)
    with sessions.begin() as session:  # as if its holder stopped renewing a while ago
        session.execute(update(SiteLease).values(expires_at=utcnow() - timedelta(seconds=1)))
    taker = try_acquire(sessions, site, lease_holder(), ttl=30)
    assert lease_row(sessions).holder == taker.holder
    assert renew(sessions, crashed) is False
    release(sessions, crashed)  # releasing a lost lease leaves the new holder alone
    assert lease_row(sessions).holder == taker.holder


#: How long a test waits for something that must happen before it calls it a hang (not a measurement).
HANG_GUARD = 120.0


def wait_until(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def test_renewal_keeps_the_lease_past_its_ttl(sessions, site) -> None:
    holder = lease_holder()
    with hold_lease(sessions, site, holder, ttl=3):  # the keeper renews every ttl/3
        first = lease_row(sessions).expires_at
        # wait for the keeper's work, not for a time: a renewal that happened after the first expiry
        # (renew sets now + ttl, so an expiry ttl past the first one was set after the first one passed)
        wait_until(lambda: lease_row(sessions).expires_at >= first + timedelta(seconds=3), "a later renewal")
        row = lease_row(sessions)
        assert row.holder == holder
        with pytest.raises(LeaseBusy):
            try_acquire(sessions, site, lease_holder())
    assert lease_row(sessions) is None  # released at the end of the block


def test_holder_that_died_on_this_host_does_not_block(sessions, site) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try_acquire(sessions, site, f"{socket.gethostname()}:{gone.pid}:0badf00d", ttl=600)
    assert try_acquire(sessions, site, lease_holder(), ttl=30)


def test_waiting_for_the_holder_to_finish(sessions, site, monkeypatch) -> None:
    holder = try_acquire(sessions, site, lease_holder(), ttl=30)
    found_busy = threading.Event()

    def watched(*args: Any, **kwargs: Any) -> Lease:
        try:
            return real_try_acquire(*args, **kwargs)
        except LeaseBusy:
            found_busy.set()
            raise

    real_try_acquire = leases.try_acquire
    monkeypatch.setattr(leases, "try_acquire", watched)  # acquire() looks it up at each attempt
    taken: list[Lease] = []
    waiter = threading.Thread(target=lambda: taken.append(
        acquire(sessions, site, lease_holder(), ttl=30, wait=HANG_GUARD)), daemon=True)
    waiter.start()
    assert found_busy.wait(HANG_GUARD), "the waiter never tried"
    assert taken == [], "the lease was taken while it was held"  # it found it busy and keeps waiting
    release(sessions, holder)
    waiter.join(HANG_GUARD)
    assert len(taken) == 1 and lease_row(sessions).holder == taken[0].holder
    with pytest.raises(LeaseBusy):
        acquire(sessions, site, lease_holder(), wait=0.3)


def test_racing_takers_one_wins(migrated, site) -> None:
    """Six connections try at the same instant; the database lets exactly one in."""
    engines = [make_engine(migrated) for _ in range(6)]
    barrier = threading.Barrier(len(engines))
    outcomes: list[str] = []

    def take(factory: sessionmaker[Session]) -> None:
        barrier.wait()
        try:
            try_acquire(factory, site, lease_holder(), ttl=30)
            outcomes.append("won")
        except LeaseBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=take, args=(make_session_factory(engine),)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for engine in engines:
        engine.dispose()
    assert sorted(outcomes) == ["busy"] * 5 + ["won"]


def test_unknown_site(sessions) -> None:
    with pytest.raises(LeaseError, match="no site named 'nope'"):
        try_acquire(sessions, "nope", lease_holder())


def test_on_demand_crawl_refused_while_another_process_crawls(sessions, site, migrated, tmp_path) -> None:
    try_acquire(sessions, site, "daemon-host:4242:cafe", ttl=30)
    settings = load_settings({"CLAIMWATCH_DATA": str(tmp_path / "data")}, db_url=migrated)
    with pytest.raises(CrawlError, match=r"^site acme is being crawled by daemon-host:4242:cafe since "):
        crawl_sites(sessions, settings, [site])
    with sessions() as session:  # refused before anything was recorded
        assert session.scalar(select(CrawlRun)) is None
