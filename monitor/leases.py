"""Site leases: one crawl of a site at a time, across processes and machines sharing the database.

A lease is a ``site_lease`` row: the holder (``host:pid:uuid``) and when it expires. Taking one is a single
atomic statement on SQLite and PostgreSQL alike: insert the row, or take over a row that has expired (or
whose holder is a dead process on this host). The holder renews it while the crawl runs (``LeaseKeeper``,
a heartbeat thread) and deletes it at the end, so a crashed holder blocks a site for one TTL at most.

>>> with hold_lease(sessions, "acme", lease_holder(), ttl=60):      # doctest: +SKIP
...     run_the_crawl()
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from monitor.config import DEFAULT_LEASE_TTL
from monitor.models import Site, SiteLease, utcnow
from monitor.processes import pid_alive

log = logging.getLogger(__name__)

DEFAULT_TTL = DEFAULT_LEASE_TTL  # seconds; renewed every TTL/3 while the crawl runs
POLL_SECONDS = 0.5  # how often a waiting acquirer tries again


class LeaseError(RuntimeError):
    """A lease could not be taken; the message is one line meant for the user."""


class LeaseBusy(LeaseError):
    """Another holder is crawling the site."""

    def __init__(self, site: str, holder: str, since: datetime) -> None:
        self.site, self.holder, self.since = site, holder, since
        super().__init__(f"site {site} is being crawled by {holder} since {since:%Y-%m-%d %H:%M:%S} UTC")


def lease_holder() -> str:
    """This process's holder name, ``host:pid:uuid`` (the uuid tells apart holders in one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_is_dead_here(holder: str) -> bool:
    """True when ``holder`` names a process of this host that no longer exists."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    return not pid_alive(int(parts[1]))


@dataclass(slots=True)
class Lease:
    site_id: int
    site: str
    holder: str
    ttl: float
    acquired_at: datetime = field(default_factory=utcnow)


def _try_insert(session: Session, site_id: int, holder: str, now: datetime, expires: datetime) -> bool:
    values = {"site_id": site_id, "holder": holder, "acquired_at": now, "expires_at": expires}
    dialect = session.get_bind().dialect.name
    statement: Any
    if dialect == "postgresql":
        statement = pg_insert(SiteLease).values(values).on_conflict_do_nothing(index_elements=["site_id"])
    elif dialect == "sqlite":
        statement = sqlite_insert(SiteLease).values(values).on_conflict_do_nothing(index_elements=["site_id"])
    else:  # pragma: no cover - other databases: a plain insert, the unique key still decides
        statement = insert(SiteLease).values(values)
    # RETURNING, not rowcount: psycopg reports no rowcount for an INSERT .. ON CONFLICT DO NOTHING
    return session.execute(statement.returning(SiteLease.site_id)).first() is not None


def try_acquire(sessions: sessionmaker[Session], site: str, holder: str, *,
                ttl: float = DEFAULT_TTL) -> Lease:
    """Take the lease of ``site`` now, or raise ``LeaseBusy`` (``LeaseError`` when there is no such site).

    Taking it again with the same holder renews it.
    """
    with sessions() as session:
        site_id = session.scalar(select(Site.id).where(Site.name == site))
    if site_id is None:
        raise LeaseError(f"no site named {site!r} (see `claimwatch sites list`)")
    for _attempt in range(3):
        # The first statement of the transaction writes, so SQLite takes its write lock (waiting on
        # busy_timeout) instead of failing to upgrade a read snapshot that another writer made stale.
        with sessions.begin() as session:
            now = utcnow()
            expires = now + timedelta(seconds=ttl)
            if _try_insert(session, site_id, holder, now, expires):
                return Lease(site_id, site, holder, ttl, now)
            # The row exists: take it over in one statement when it expired or is ours already.
            if _take_over(session, site_id, holder, now, expires,
                          or_(SiteLease.expires_at < now, SiteLease.holder == holder)):
                return Lease(site_id, site, holder, ttl, now)
            current = session.execute(
                select(SiteLease.holder, SiteLease.acquired_at).where(SiteLease.site_id == site_id)
            ).first()
            if current is None:  # released between our statements: try again
                continue
            other, since = current
            # A holder on this host whose process died (killed -9) need not block anyone for a whole TTL.
            if holder_is_dead_here(other) and _take_over(session, site_id, holder, now, expires,
                                                          SiteLease.holder == other):
                log.info("site %s: took over the lease of dead holder %s", site, other)
                return Lease(site_id, site, holder, ttl, now)
            raise LeaseBusy(site, other, since)
    raise LeaseError(f"site {site}: the lease changed hands too often to take it; try again")


def _take_over(session: Session, site_id: int, holder: str, now: datetime, expires: datetime,
               condition: ColumnElement[bool]) -> bool:
    result = session.execute(
        update(SiteLease).where(SiteLease.site_id == site_id, condition)
        .values(holder=holder, acquired_at=now, expires_at=expires)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def acquire(sessions: sessionmaker[Session], site: str, holder: str, *, ttl: float = DEFAULT_TTL,
            wait: float = 0.0) -> Lease:
    """Take the lease of ``site``, waiting up to ``wait`` seconds for the current holder to finish."""
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            return try_acquire(sessions, site, holder, ttl=ttl)
        except LeaseBusy:
            if time.monotonic() >= deadline:
                raise
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def renew(sessions: sessionmaker[Session], lease: Lease) -> bool:
    """Push the expiry one TTL ahead; False when the lease was lost (expired and taken over)."""
    with sessions.begin() as session:
        count = session.execute(
            update(SiteLease).where(SiteLease.site_id == lease.site_id, SiteLease.holder == lease.holder)
            .values(expires_at=utcnow() + timedelta(seconds=lease.ttl))
        ).rowcount  # type: ignore[attr-defined]
    return bool(count)


def release(sessions: sessionmaker[Session], lease: Lease) -> None:
    """Give the lease back (only if it is still ours)."""
    with sessions.begin() as session:
        session.execute(
            delete(SiteLease).where(SiteLease.site_id == lease.site_id, SiteLease.holder == lease.holder)
        )


class LeaseKeeper:
    """Renews leases every TTL/3 from a daemon thread until stopped."""

    def __init__(self, sessions: sessionmaker[Session], leases: list[Lease]) -> None:
        self.sessions = sessions
        self.leases = list(leases)
        self._stop = threading.Event()
        interval = min((lease.ttl for lease in self.leases), default=DEFAULT_TTL) / 3
        self.interval = max(0.2, interval)
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def start(self) -> LeaseKeeper:
        if self.leases:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for lease in self.leases:
                try:
                    if not renew(self.sessions, lease):
                        log.error("site %s: lease lost (expired and taken by another holder)", lease.site)
                except Exception as exc:  # noqa: BLE001 - a database hiccup must not end the renewals
                    log.warning("site %s: could not renew the lease: %r", lease.site, exc)


@contextmanager
def hold_leases(sessions: sessionmaker[Session], sites: list[str], holder: str, *,
                ttl: float = DEFAULT_TTL, wait: float = 0.0) -> Iterator[list[Lease]]:
    """Take the leases of several sites (all or none), renew them while the block runs, release them."""
    taken: list[Lease] = []
    deadline = time.monotonic() + max(0.0, wait)
    try:
        for site in sites:
            taken.append(acquire(sessions, site, holder, ttl=ttl, wait=max(0.0, deadline - time.monotonic())))
    except BaseException:
        for lease in taken:
            release(sessions, lease)
        raise
    keeper = LeaseKeeper(sessions, taken).start()
    try:
        yield taken
    finally:
        keeper.stop()
        for lease in taken:
            try:
                release(sessions, lease)
            except Exception as exc:  # noqa: BLE001 - the lease then expires on its own
                log.warning("site %s: could not release the lease: %r", lease.site, exc)


@contextmanager
def hold_lease(sessions: sessionmaker[Session], site: str, holder: str, *, ttl: float = DEFAULT_TTL,
               wait: float = 0.0) -> Iterator[Lease]:
    """Take one site's lease for the duration of a block (see ``hold_leases``)."""
    with hold_leases(sessions, [site], holder, ttl=ttl, wait=wait) as leases:
        yield leases[0]


def current_leases(session: Session) -> dict[str, SiteLease]:
    """Site name -> its lease row, for status displays (expired rows included)."""
    rows = session.execute(select(Site.name, SiteLease).join(SiteLease, SiteLease.site_id == Site.id))
    return {name: lease for name, lease in rows}
