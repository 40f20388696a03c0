"""The CLI's shared state: settings read once, one engine made on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NoReturn

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import ConfigError, Settings, load_settings
from monitor.db import DatabaseError, check_ready, make_engine, make_session_factory


def fail(message: str) -> NoReturn:
    """Stop the command with a one-line message on stderr and exit status 1."""
    raise click.ClickException(" ".join(message.split()))


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
                self._engine = make_engine(self.settings.db_url)
            except DatabaseError as exc:
                fail(str(exc))
        return self._engine

    def sessions(self, *, ready: bool = True) -> sessionmaker[Session]:
        """A session factory; with ``ready`` the database must exist and be initialised."""
        if ready:
            try:
                check_ready(self.engine)
            except DatabaseError as exc:
                fail(str(exc))
        return make_session_factory(self.engine)

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
