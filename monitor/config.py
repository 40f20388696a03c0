"""Settings: read once (environment and command-line flags), then passed down as a plain value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

DEFAULT_DB_FILE = "claimwatch.db"
DEFAULT_CONTACT = "claimwatch-operator@example.invalid"
DEFAULT_MAIL_FROM = "claimwatch <claimwatch@localhost>"
DEFAULT_CHROMIUM = "/usr/bin/chromium"


def default_db_url(directory: Path | None = None) -> str:
    path = (directory or Path.cwd()) / DEFAULT_DB_FILE
    return f"sqlite:///{path}"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str | None = None
    port: int = 25
    security: str = "starttls"  # none | starttls | tls
    user: str | None = None
    password: str | None = None  # only ever from the environment
    timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with its environment variable.

    ``CLAIMWATCH_DB`` database URL; ``CLAIMWATCH_DATA`` data folder (logs, outbox, WARC, screenshots);
    ``CLAIMWATCH_CONTACT`` contact address for the User-Agent; ``CLAIMWATCH_SMTP_*`` mail settings.
    """

    db_url: str
    data_dir: Path
    contact: str = DEFAULT_CONTACT
    mail_from: str = DEFAULT_MAIL_FROM
    recipients: tuple[str, ...] = ()
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    timezone: str = "UTC"
    error_threshold: int = 2  # consecutive failed fetches before an `error` event
    gone_threshold: int = 2  # consecutive 404/410 fetches before a `gone` event
    flap_history: int = 3  # earlier snapshots compared against, so A/B flips are reported once
    max_parallel_crawls: int = 2
    chromium_path: str = DEFAULT_CHROMIUM
    send_empty: bool = False

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def with_db(self, db_url: str | None) -> Settings:
        return replace(self, db_url=db_url) if db_url else self


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def load_settings(env: Mapping[str, str] | None = None, *, db_url: str | None = None,
                  cwd: Path | None = None) -> Settings:
    """Build the settings from the environment; ``db_url`` (a flag) wins over ``CLAIMWATCH_DB``."""
    env = os.environ if env is None else env
    base = cwd or Path.cwd()
    data_dir = Path(env.get("CLAIMWATCH_DATA") or base / "claimwatch-data")
    smtp = SmtpSettings(
        host=env.get("CLAIMWATCH_SMTP_HOST") or None,
        port=int(env.get("CLAIMWATCH_SMTP_PORT") or 25),
        security=(env.get("CLAIMWATCH_SMTP_SECURITY") or "starttls").lower(),
        user=env.get("CLAIMWATCH_SMTP_USER") or None,
        password=env.get("CLAIMWATCH_SMTP_PASSWORD") or None,
        timeout=float(env.get("CLAIMWATCH_SMTP_TIMEOUT") or 30),
    )
    return Settings(
        db_url=db_url or env.get("CLAIMWATCH_DB") or default_db_url(base),
        data_dir=data_dir,
        contact=env.get("CLAIMWATCH_CONTACT") or DEFAULT_CONTACT,
        mail_from=env.get("CLAIMWATCH_MAIL_FROM") or DEFAULT_MAIL_FROM,
        recipients=_split(env.get("CLAIMWATCH_RECIPIENTS")),
        smtp=smtp,
        timezone=env.get("CLAIMWATCH_TIMEZONE") or "UTC",
        error_threshold=int(env.get("CLAIMWATCH_ERROR_THRESHOLD") or 2),
        gone_threshold=int(env.get("CLAIMWATCH_GONE_THRESHOLD") or 2),
        flap_history=int(env.get("CLAIMWATCH_FLAP_HISTORY") or 3),
        max_parallel_crawls=int(env.get("CLAIMWATCH_MAX_PARALLEL") or 2),
        chromium_path=env.get("CLAIMWATCH_CHROMIUM") or DEFAULT_CHROMIUM,
        send_empty=(env.get("CLAIMWATCH_SEND_EMPTY") or "").lower() in {"1", "true", "yes"},
    )
