"""Shared fixtures: real databases (SQLite always, PostgreSQL when CLAIMWATCH_TEST_PG_URL is set), real
Celery brokers (Redis and RabbitMQ, CLAIMWATCH_TEST_REDIS_URL and CLAIMWATCH_TEST_AMQP_URL), the local
fixture HTTP server, and a runner for the `claimwatch` CLI.

With CLAIMWATCH_REQUIRE_SERVICES=1 (CI sets it) a missing PostgreSQL or Chromium fails the test instead
of skipping it.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from internalservice import InternalService
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from monitor.cli import cli
from monitor.db import make_engine, make_session_factory, upgrade
from monitor.siteserver import SiteServer

REPO_ROOT = Path(__file__).resolve().parent.parent
SITES = Path(__file__).resolve().parent / "sites"
REQUIRE_SERVICES = os.environ.get("CLAIMWATCH_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip with a reason, or fail when CI requires every service."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (CLAIMWATCH_REQUIRE_SERVICES=1 requires it)")
    pytest.skip(reason)


def chromium_path() -> str:
    path = os.environ.get("CLAIMWATCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        skip_or_fail("Debian's chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="session")
def pg_base_url() -> str | None:
    return os.environ.get("CLAIMWATCH_TEST_PG_URL") or None


def _create_pg_database(base_url: str) -> tuple[str, Callable[[], None]]:
    url = make_url(base_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"cw_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        admin.dispose()
        skip_or_fail(f"PostgreSQL at {url.render_as_string()} is not reachable: {exc}")
    test_url = url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return test_url, drop


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, pg_base_url: str | None) -> Iterator[str]:
    """An empty database of each kind: SQLite always, PostgreSQL when CLAIMWATCH_TEST_PG_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'claimwatch.db'}"
        return
    if not pg_base_url:
        skip_or_fail("PostgreSQL tests need CLAIMWATCH_TEST_PG_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres)")
    assert pg_base_url is not None
    url, drop = _create_pg_database(pg_base_url)
    try:
        yield url
    finally:
        drop()


@pytest.fixture
def pg_url(pg_base_url: str | None) -> Iterator[str]:
    """An empty PostgreSQL database (for what only a shared server does, e.g. several workers' machines)."""
    if not pg_base_url:
        skip_or_fail("PostgreSQL tests need CLAIMWATCH_TEST_PG_URL (e.g. postgresql+psycopg://postgres@127.0.0.1/postgres)")
    assert pg_base_url is not None
    url, drop = _create_pg_database(pg_base_url)
    try:
        yield url
    finally:
        drop()


BROKER_VARIABLES = {"redis": "CLAIMWATCH_TEST_REDIS_URL", "amqp": "CLAIMWATCH_TEST_AMQP_URL"}
BROKER_EXAMPLES = {"redis": "redis://127.0.0.1:6379/0", "amqp": "amqp://guest:guest@127.0.0.1:5672//"}


@pytest.fixture(params=["redis", "amqp"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """A reachable Celery broker of each kind: Redis (CLAIMWATCH_TEST_REDIS_URL) and RabbitMQ
    (CLAIMWATCH_TEST_AMQP_URL); skipped, or failed under CLAIMWATCH_REQUIRE_SERVICES=1, when unset or down."""
    from kombu import Connection
    from kombu.utils.url import maybe_sanitize_url

    variable = BROKER_VARIABLES[request.param]
    url = os.environ.get(variable)
    if not url:
        skip_or_fail(f"{request.param} broker tests need {variable} (e.g. {BROKER_EXAMPLES[request.param]})")
    assert url is not None
    connection = Connection(url, connect_timeout=5)
    try:
        connection.ensure_connection(max_retries=0, timeout=5)
    except Exception as exc:  # noqa: BLE001
        skip_or_fail(f"the broker at {maybe_sanitize_url(url)} ({variable}) is not reachable: {exc}")
    finally:
        connection.release()
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'claimwatch.db'}"


@pytest.fixture
def migrated(db_url: str) -> Iterator[str]:
    """A database of each kind, upgraded to head."""
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()
    yield db_url


@pytest.fixture
def sessions(migrated: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(migrated)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def site_server() -> Iterator[Callable[..., SiteServer]]:
    """Start fixture servers on 127.0.0.1 (port 0); all stopped after the test."""
    servers: list[SiteServer] = []

    def start(root: Path, **options: object) -> SiteServer:
        server = SiteServer(root, **options).start()  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Invoke `claimwatch ARGS...` in-process with a data folder under tmp_path; stdout and stderr apart."""
    monkeypatch.setenv("CLAIMWATCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("CLAIMWATCH_CONTACT", "tests@claimwatch.invalid")
    monkeypatch.delenv("CLAIMWATCH_DB", raising=False)
    monkeypatch.chdir(tmp_path)

    def invoke(*args: str, db: str | None = None, input: str | None = None) -> Result:
        argv = (["--db", db] if db else []) + list(args)
        return CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def internal() -> Iterator[InternalService]:
    """An internal service on 127.0.0.2: a host no watched site may reach (tests of the host guard)."""
    with InternalService("127.0.0.2") as service:
        yield service


@pytest.fixture
def internal6() -> Iterator[InternalService]:
    """An internal service on [::1]."""
    with InternalService("::1") as service:
        yield service
