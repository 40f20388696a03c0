"""Settings: read once (environment and command-line flags), then passed down as a plain value."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from monitor.outage import OutageRules
from monitor.statements import SEVERITIES

DEFAULT_DB_FILE = "claimwatch.db"
DEFAULT_CONTACT = "claimwatch-operator@example.invalid"
DEFAULT_MAIL_FROM = "claimwatch <claimwatch@localhost>"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
DEFAULT_LEASE_TTL = 60.0  # seconds a crawl's site lease lasts; renewed every third of it while it runs
DEFAULT_BUSY_TIMEOUT = 30.0  # seconds a SQLite writer waits for another one's lock before giving up
EVIDENCE_STORES = ("local", "database")  # CLAIMWATCH_EVIDENCE
_TRUE = frozenset({"1", "true", "yes", "on"})


MAX_DEFAULT_CRAWL_WORKERS = 8  # the default pool stops here: each process holds the model and vocabularies


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask (what ``taskset``, a container or a batch system
    allows), not the machine's count; at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity call on this platform (macOS)
        return max(1, os.cpu_count() or 1)


def default_crawl_workers() -> int:
    """One analysis process per CPU this process may use, up to MAX_DEFAULT_CRAWL_WORKERS."""
    return min(available_cpus(), MAX_DEFAULT_CRAWL_WORKERS)


class ConfigError(ValueError):
    """A setting has a value claimwatch cannot use; the message names the variable."""


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


EXECUTORS = ("local", "celery")  # CLAIMWATCH_EXECUTOR
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")  # CLAIMWATCH_BROKER
DEFAULT_BROKER = "redis://127.0.0.1:6379/0"
DEFAULT_QUEUE = "claimwatch-crawls"


@dataclass(frozen=True, slots=True)
class CelerySettings:
    """Scale-out through Celery workers (`claimwatch worker`, docs/scaling.md), each with its variable."""

    broker_url: str = DEFAULT_BROKER  # CLAIMWATCH_BROKER: Redis or RabbitMQ (amqp://)
    # CLAIMWATCH_RESULT_BACKEND: where workers put crawl summaries for the daemon; default: the Redis
    # broker itself, or rpc:// (replies over the broker) for RabbitMQ
    result_backend: str | None = None
    queue: str = DEFAULT_QUEUE  # CLAIMWATCH_QUEUE: the queue crawl requests go to
    # CLAIMWATCH_VISIBILITY_TIMEOUT (Redis only): seconds a delivered, unacknowledged crawl request stays
    # invisible before Redis hands it to another worker; longer than the longest crawl
    visibility_timeout: float = 3600.0
    busy_retry: float = 30.0  # CLAIMWATCH_BUSY_RETRY: seconds before a crawl of a leased site is tried again
    busy_max_wait: float = 3600.0  # CLAIMWATCH_BUSY_MAX_WAIT: after this long leased, it is reported busy
    # CLAIMWATCH_RESULT_TIMEOUT: the daemon stops waiting for a request's answer after this long (no worker,
    # a broker that lost its queue); the request may still be crawled later
    result_timeout: float = 6 * 3600.0

    @property
    def backend_url(self) -> str:
        if self.result_backend:
            return self.result_backend
        return self.broker_url if self.broker_url.startswith(("redis:", "rediss:")) else "rpc://"


def celery_settings(env: Mapping[str, str]) -> CelerySettings:
    broker = (env.get("CLAIMWATCH_BROKER") or DEFAULT_BROKER).strip()
    if broker.split(":", 1)[0].lower() not in BROKER_SCHEMES or "://" not in broker:
        raise ConfigError("CLAIMWATCH_BROKER must be a redis:// or amqp:// URL "
                          f"(e.g. redis://127.0.0.1:6379/0), not {broker.split('@')[-1]!r}")
    return CelerySettings(
        broker_url=broker,
        result_backend=(env.get("CLAIMWATCH_RESULT_BACKEND") or "").strip() or None,
        queue=(env.get("CLAIMWATCH_QUEUE") or "").strip() or DEFAULT_QUEUE,
        visibility_timeout=_number(env, "CLAIMWATCH_VISIBILITY_TIMEOUT", 3600.0, 1, 7 * 86400),
        busy_retry=_number(env, "CLAIMWATCH_BUSY_RETRY", 30.0, 0.1, 3600),
        busy_max_wait=_number(env, "CLAIMWATCH_BUSY_MAX_WAIT", 3600.0, 0, 7 * 86400),
        result_timeout=_number(env, "CLAIMWATCH_RESULT_TIMEOUT", 6 * 3600.0, 1, 30 * 86400),
    )


def _executor(value: str | None) -> str:
    executor = (value or "local").strip().lower() or "local"
    if executor not in EXECUTORS:
        raise ConfigError(f"CLAIMWATCH_EXECUTOR must be one of {', '.join(EXECUTORS)}, not {value!r}")
    return executor


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with its environment variable.

    ``CLAIMWATCH_DB`` database URL; ``CLAIMWATCH_DATA`` data folder (logs, outbox, WARC, screenshots);
    ``CLAIMWATCH_CONTACT`` contact address for the User-Agent; ``CLAIMWATCH_SMTP_*`` mail settings;
    ``CLAIMWATCH_OUTAGE_CONFIRMATIONS`` / ``_LOSS_SHARE`` / ``_MIN_STATEMENTS`` suspected outages;
    ``CLAIMWATCH_DB_BUSY_TIMEOUT`` seconds a SQLite writer waits for another's lock.
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
    # a suspected outage (monitor.outage) is reported as the page's content only after this many more
    # crawls showed the same (0: no outage detection); a mass loss is >= this share of >= that many statements
    outage_confirmations: int = 1
    outage_loss_share: float = 0.8
    outage_min_statements: int = 5
    db_busy_timeout: float = DEFAULT_BUSY_TIMEOUT  # CLAIMWATCH_DB_BUSY_TIMEOUT (SQLite)
    # sites crawled at once by one crawl process (CLAIMWATCH_MAX_PARALLEL): sites in flight, not processes
    max_parallel_crawls: int = 64
    # processes of the crawl's pool that extract statements from changed pages (0: in the crawl process);
    # by default one per CPU this process may use (default_crawl_workers)
    crawl_workers: int = field(default_factory=default_crawl_workers)
    # the crawl (crawler/process.py turns these into Scrapy settings)
    throttle_start_delay: float = 0.5  # CLAIMWATCH_THROTTLE_START_DELAY: AutoThrottle's first delay per host
    download_timeout: int = 30  # CLAIMWATCH_DOWNLOAD_TIMEOUT, seconds
    download_maxsize: int = 5 * 1024 * 1024  # CLAIMWATCH_DOWNLOAD_MAXSIZE, bytes
    retry_backoff_base: float = 1.0  # CLAIMWATCH_RETRY_BACKOFF_BASE: seconds before the first retry
    warc_max_bytes: int = 100 * 1024 * 1024  # CLAIMWATCH_WARC_MAX_BYTES: WARC files rotate past this
    screenshots: bool = True  # CLAIMWATCH_SCREENSHOTS=0: no screenshots of changed pages after a crawl
    chromium_path: str = DEFAULT_CHROMIUM
    send_empty: bool = False
    executor: str = "local"  # CLAIMWATCH_EXECUTOR: where the daemon's crawls run, "local" or "celery"
    celery: CelerySettings = field(default_factory=CelerySettings)  # CLAIMWATCH_BROKER, ... (docs/scaling.md)
    # CLAIMWATCH_EVIDENCE: where WARC records and screenshots are kept, "local" (the data folder) or
    # "database" (tables any machine sharing the database reads; docs/evidence.md)
    evidence_store: str = "local"
    # the web app (`claimwatch serve`, docs/webapp.md): CLAIMWATCH_SECRET_KEY signs its session cookies (else a
    # key generated once into the data folder); CLAIMWATCH_WEB_PROXIES reverse proxies whose X-Forwarded-*
    # headers are believed; CLAIMWATCH_WEB_SECURE_COOKIES=1 behind HTTPS; CLAIMWATCH_WEB_SESSION_HOURS
    secret_key: str | None = field(default=None, repr=False)
    web_proxies: int = 0
    web_secure_cookies: bool = False
    web_session_hours: float = 12.0
    web_url: str | None = None  # CLAIMWATCH_WEB_URL: the app's public address, linked from every reported change

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def with_db(self, db_url: str | None) -> Settings:
        return replace(self, db_url=db_url) if db_url else self

    @property
    def outage_rules(self) -> OutageRules:
        return OutageRules(self.outage_confirmations, self.outage_loss_share, self.outage_min_statements)


def _workers(value: str | None) -> int:
    if value is None or not value.strip():
        return default_crawl_workers()
    try:
        workers = int(value)
    except ValueError:
        workers = -1
    if not 0 <= workers <= 64:
        raise ConfigError(f"CLAIMWATCH_CRAWL_WORKERS must be a whole number from 0 to 64, not {value!r}")
    return workers


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    """A number from ``low`` to ``high`` (``default`` when unset); else a ConfigError naming the variable."""
    value = env.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not low <= number <= high:
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")
    return number


def _whole(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    value = env.get(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return number


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _evidence_store(value: str | None) -> str:
    store = (value or "local").strip().lower() or "local"
    if store not in EVIDENCE_STORES:
        raise ConfigError(f"CLAIMWATCH_EVIDENCE must be one of {', '.join(EVIDENCE_STORES)}, not {value!r}")
    return store


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
        outage_confirmations=_whole(env, "CLAIMWATCH_OUTAGE_CONFIRMATIONS", 1, 0, 100),
        outage_loss_share=_number(env, "CLAIMWATCH_OUTAGE_LOSS_SHARE", 0.8, 0.05, 1.0),
        outage_min_statements=_whole(env, "CLAIMWATCH_OUTAGE_MIN_STATEMENTS", 5, 1, 10_000),
        db_busy_timeout=_number(env, "CLAIMWATCH_DB_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT, 0.1, 3600),
        max_parallel_crawls=_whole(env, "CLAIMWATCH_MAX_PARALLEL", 64, 1, 1000),
        crawl_workers=_workers(env.get("CLAIMWATCH_CRAWL_WORKERS")),
        throttle_start_delay=_number(env, "CLAIMWATCH_THROTTLE_START_DELAY", 0.5, 0, 60),
        download_timeout=_whole(env, "CLAIMWATCH_DOWNLOAD_TIMEOUT", 30, 1, 3600),
        download_maxsize=_whole(env, "CLAIMWATCH_DOWNLOAD_MAXSIZE", 5 * 1024 * 1024, 1024, 1 << 31),
        retry_backoff_base=_number(env, "CLAIMWATCH_RETRY_BACKOFF_BASE", 1.0, 0, 600),
        warc_max_bytes=_whole(env, "CLAIMWATCH_WARC_MAX_BYTES", 100 * 1024 * 1024, 1024, 1 << 40),
        screenshots=(env.get("CLAIMWATCH_SCREENSHOTS") or "1").lower() not in {"0", "false", "no", "off"},
        chromium_path=env.get("CLAIMWATCH_CHROMIUM") or DEFAULT_CHROMIUM,
        send_empty=(env.get("CLAIMWATCH_SEND_EMPTY") or "").lower() in {"1", "true", "yes"},
        executor=_executor(env.get("CLAIMWATCH_EXECUTOR")),
        celery=celery_settings(env),
        evidence_store=_evidence_store(env.get("CLAIMWATCH_EVIDENCE")),
        secret_key=env.get("CLAIMWATCH_SECRET_KEY") or None,
        web_proxies=_whole(env, "CLAIMWATCH_WEB_PROXIES", 0, 0, 10),
        web_secure_cookies=(env.get("CLAIMWATCH_WEB_SECURE_COOKIES") or "").lower() in _TRUE,
        web_session_hours=_number(env, "CLAIMWATCH_WEB_SESSION_HOURS", 12.0, 0.1, 24 * 30),
        web_url=(env.get("CLAIMWATCH_WEB_URL") or "").strip().rstrip("/") or None,
    )


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """The daemon's own settings, each with its environment variable (see docs/daemon.md)."""

    digest_cron: str = "0 7 * * *"  # CLAIMWATCH_DIGEST_CRON, in Settings.timezone
    digest_min_severity: str = "low"  # CLAIMWATCH_DIGEST_MIN_SEVERITY
    alerts: bool = False  # CLAIMWATCH_ALERTS=1: an alert right after a crawl that found such changes
    alert_min_severity: str = "high"  # CLAIMWATCH_ALERT_MIN_SEVERITY
    jitter: int = 120  # CLAIMWATCH_JITTER_SECONDS: each crawl starts up to this much after its cron time
    misfire_grace: int = 6 * 3600  # CLAIMWATCH_MISFIRE_GRACE: how late a missed run may still start
    sync_seconds: float = 30.0  # CLAIMWATCH_SYNC_SECONDS: site table -> jobs
    outbox_seconds: float = 180.0  # CLAIMWATCH_OUTBOX_SECONDS: mail delivery retries
    heartbeat_seconds: float = 5.0  # CLAIMWATCH_HEARTBEAT_SECONDS
    stop_timeout: float = 60.0  # CLAIMWATCH_STOP_TIMEOUT: running crawls may finish this long on a stop
    lease_ttl: float = DEFAULT_LEASE_TTL  # CLAIMWATCH_LEASE_TTL
    schedule_seconds: bool = False  # CLAIMWATCH_SCHEDULE_SECONDS=1: 6-field crons with seconds (tests)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DaemonSettings:
        env = os.environ if env is None else env

        def number(name: str, default: float, minimum: float = 0.0) -> float:
            value = env.get(name)
            if not value:
                return default
            try:
                parsed = float(value)
            except ValueError:
                raise ConfigError(f"{name}: expected a number of seconds, got {value!r}") from None
            if parsed < minimum:
                raise ConfigError(f"{name}: must be at least {minimum:g}, got {value!r}")
            return parsed

        def severity(name: str, default: str) -> str:
            value = (env.get(name) or default).lower()
            if value not in SEVERITIES:
                raise ConfigError(f"{name}: unknown severity {value!r} (choose from {', '.join(SEVERITIES)})")
            return value

        base = cls()
        return cls(
            digest_cron=env.get("CLAIMWATCH_DIGEST_CRON") or base.digest_cron,
            digest_min_severity=severity("CLAIMWATCH_DIGEST_MIN_SEVERITY", base.digest_min_severity),
            alerts=(env.get("CLAIMWATCH_ALERTS") or "").lower() in _TRUE,
            alert_min_severity=severity("CLAIMWATCH_ALERT_MIN_SEVERITY", base.alert_min_severity),
            jitter=int(number("CLAIMWATCH_JITTER_SECONDS", base.jitter)),
            misfire_grace=int(number("CLAIMWATCH_MISFIRE_GRACE", base.misfire_grace, 1)),
            sync_seconds=number("CLAIMWATCH_SYNC_SECONDS", base.sync_seconds, 0.2),
            outbox_seconds=number("CLAIMWATCH_OUTBOX_SECONDS", base.outbox_seconds, 0.2),
            heartbeat_seconds=number("CLAIMWATCH_HEARTBEAT_SECONDS", base.heartbeat_seconds, 0.2),
            stop_timeout=number("CLAIMWATCH_STOP_TIMEOUT", base.stop_timeout),
            lease_ttl=number("CLAIMWATCH_LEASE_TTL", base.lease_ttl, 1),
            schedule_seconds=(env.get("CLAIMWATCH_SCHEDULE_SECONDS") or "").lower() in _TRUE,
        )

    @property
    def stale_heartbeat(self) -> float:
        """A heartbeat older than this means the daemon that wrote it is gone."""
        return max(3 * self.heartbeat_seconds, 15.0)
