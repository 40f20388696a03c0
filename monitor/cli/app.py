"""The CLI's shared state: settings read once, one engine made on first use."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import ConfigError, Settings, load_settings
from monitor.db import DatabaseError, check_ready, make_engine, make_session_factory, require_database_file
from monitor.sites import unknown_sites
from monitor.terminal import one_line


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line message on stderr and exit status 1."""
    raise click.ClickException(one_line(message))


@dataclass
class App:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, db_url: str | None = None) -> App:
        try:
            return cls(load_settings(db_url=db_url))
        except ConfigError as exc:
            fail(str(exc))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = make_engine(self.settings.db_url, busy_timeout=self.settings.db_busy_timeout)
            except DatabaseError as exc:
                fail(str(exc))
        return self._engine

    def sessions(self, *, ready: bool = True, sites: Iterable[str | None] = ()) -> sessionmaker[Session]:
        """A session factory for the database, which must exist (only `init` creates one: a command never
        leaves an empty SQLite file behind); with ``ready`` it must be initialised. Every name in ``sites``
        (a command's --site values; None is ignored) must be a site, else "unknown site: NAME"."""
        try:
            require_database_file(self.settings.db_url)
            if ready:
                check_ready(self.engine)
        except DatabaseError as exc:
            fail(str(exc))
        factory = make_session_factory(self.engine)
        names = [name for name in sites if name]
        if names:
            with factory() as session:
                unknown = unknown_sites(session, names)
            if unknown:
                fail(f"unknown site: {', '.join(unknown)}")
        return factory

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


pass_app = click.make_pass_decorator(App)


def parse_since(value: str | None, option: str = "--since") -> datetime | None:
    """ISO date or date-time (UTC when no offset is given)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"{option}: not an ISO date or date-time: {value!r} (e.g. 2026-11-01 or 2026-11-01T06:00:00Z)")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
