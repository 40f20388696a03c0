"""SQLAlchemy 2 models: the evidence-grade history of every watched page.

Every fetch is kept (the audit trail); raw bodies are stored once per SHA-256; a snapshot is created only
when a page's extracted content changes; statements belong to snapshots; changes and events are what
analysts are told about, each exactly once (``reported_at``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from monitor.compression import compress, decompress

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class Site(Base):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    start_urls: Mapped[list[Any]]
    allow: Mapped[list[Any]]
    max_pages: Mapped[int] = mapped_column(Integer, default=50)
    schedule: Mapped[str] = mapped_column(String(100), default="0 6 * * *")
    render_js: Mapped[bool] = mapped_column(Boolean, default=False)
    recipients: Mapped[list[Any]]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # hosts besides its start URLs' that are the site's own (watchlist `hosts:`, monitor/hosts.py)
    hosts: Mapped[list[Any]] = mapped_column(default=list, server_default=sql_text("'[]'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    pages: Mapped[list[Page]] = relationship(back_populates="site", cascade="all, delete-orphan",
                                             passive_deletes=True)


class Page(Base):
    __tablename__ = "page"
    __table_args__ = (UniqueConstraint("site_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | gone | moved | error
    moved_to: Mapped[str | None] = mapped_column(String(2048))
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    # validators of the last good fetch, sent back as If-None-Match / If-Modified-Since
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    last_sha256: Mapped[str | None] = mapped_column(String(64))
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    current_snapshot_id: Mapped[int | None] = mapped_column(
        ForeignKey("snapshot.id", use_alter=True, ondelete="SET NULL")
    )
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive error fetches
    gone_count: Mapped[int] = mapped_column(Integer, default=0)  # consecutive 404/410 fetches
    # a suspected outage (monitor.outage): the fingerprint of the content under suspicion and the crawls in a
    # row that showed it; pending while it differs from ``fingerprint``, confirmed once it is the current one
    outage_fingerprint: Mapped[str | None] = mapped_column(String(64))
    outage_seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    site: Mapped[Site] = relationship(back_populates="pages")


class CrawlRun(Base):
    __tablename__ = "crawl_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    # running | finished | failed | interrupted
    status: Mapped[str] = mapped_column(String(16), default="running")
    pid: Mapped[int | None] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    new_snapshots: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str | None] = mapped_column(Text)
    log_path: Mapped[str | None] = mapped_column(String(1024))


class Body(Base):
    """Raw response bytes, compressed (``compression``: zstd, or zlib in older rows), once per SHA-256 of
    the uncompressed bytes."""

    __tablename__ = "body"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    compression: Mapped[str] = mapped_column(String(16), default="zlib")
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Fetch(Base):
    """One attempt to fetch one page: the audit trail, kept for every request."""

    __tablename__ = "fetch"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_run.id", ondelete="SET NULL"), index=True)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    final_url: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    # unchanged | changed | new | not_modified | reverted | error | skipped | alias (of the page it names)
    # | moved (sent to another host: not followed)
    # | suspected_outage (monitor.outage: the current snapshot kept)
    outcome: Mapped[str] = mapped_column(String(16), default="new")
    content_type: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the bytes received; the body table keeps them when this fetch made a snapshot
    sha256: Mapped[str | None] = mapped_column(String(64))
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    elapsed_ms: Mapped[int | None] = mapped_column(Integer)
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(128))
    warc_path: Mapped[str | None] = mapped_column(String(1024))
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)


class Snapshot(Base):
    """A distinct version of a page's content, created only when it changes."""

    __tablename__ = "snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"), index=True)
    fetch_id: Mapped[int] = mapped_column(ForeignKey("fetch.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fingerprint: Mapped[str] = mapped_column(String(64))
    statements_hash: Mapped[str] = mapped_column(String(64))
    # the normalised text, compressed (monitor.compression): a 50 KB page's text is ~40 KB, ~8 KB stored
    text_z: Mapped[bytes] = mapped_column(LargeBinary)
    extractor_version: Mapped[str] = mapped_column(String(32))
    findings: Mapped[list[Any]]
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64))
    screenshot_url: Mapped[str | None] = mapped_column(String(2048))  # the URL the screenshot shows

    @property
    def text(self) -> str:
        return decompress(self.text_z).decode("utf-8") if self.text_z else ""

    @text.setter
    def text(self, value: str) -> None:
        self.text_z = compress(value.encode("utf-8"))

    statements: Mapped[list[StatementRow]] = relationship(
        back_populates="snapshot", order_by="StatementRow.position", cascade="all, delete-orphan",
        passive_deletes=True,
    )


class StatementRow(Base):
    __tablename__ = "statement"
    __table_args__ = (Index("ix_statement_snapshot_position", "snapshot_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("snapshot.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    key: Mapped[str] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]]
    severity: Mapped[str] = mapped_column(String(8))
    rule: Mapped[str] = mapped_column(String(200), default="")
    matched: Mapped[list[Any]]

    snapshot: Mapped[Snapshot] = relationship(back_populates="statements")


class Change(Base):
    __tablename__ = "change"
    __table_args__ = (Index("ix_change_detected_at", "detected_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_run.id", ondelete="SET NULL"), index=True)
    before_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id", ondelete="SET NULL"))
    after_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("snapshot.id", ondelete="SET NULL"))
    change: Mapped[str] = mapped_column(String(16))  # added | removed | modified
    kind: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    before_type: Mapped[str | None] = mapped_column(String(32))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(8))
    delta: Mapped[dict[str, Any]]
    inline: Mapped[list[Any]]
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None]


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_run.id", ondelete="SET NULL"), index=True)
    # gone | error | moved | recovered | suspected_outage
    event: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None]


class Outbox(Base):
    """A rendered message on its way out: pending -> sent, retried with backoff, never sent twice."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16), default="digest")  # digest | alert | empty
    subject: Mapped[str] = mapped_column(String(500))
    recipients: Mapped[list[Any]]
    message: Mapped[bytes] = mapped_column(LargeBinary)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | written | failed | unknown
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class SiteLease(Base):
    """Who is crawling a site right now: one holder at a time, across processes."""

    __tablename__ = "site_lease"

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class DaemonHeartbeat(Base):
    __tablename__ = "daemon_heartbeat"

    id: Mapped[int] = mapped_column(primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(default=utcnow)


class WarcRecord(Base):
    """WARC records kept in the database (``CLAIMWATCH_EVIDENCE=database``, monitor/warcdb.py): one row per
    fetch (its ``response`` and ``request`` records, or its ``metadata`` record) or per archive (its
    ``warcinfo``), as the gzip members a WARC file would hold. A fetch row points here as ``warc_path``
    ``db:<prefix>`` and ``warc_offset`` the row's id."""

    __tablename__ = "warc_record"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(200), index=True)  # <site>-run<run>-w<worker>
    record_type: Mapped[str] = mapped_column(String(16))  # the first record's WARC-Type
    target_uri: Mapped[str | None] = mapped_column(String(2048))
    written_at: Mapped[datetime] = mapped_column(default=utcnow)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ScreenshotBlob(Base):
    """A screenshot PNG kept in the database (``CLAIMWATCH_EVIDENCE=database``), once per SHA-256."""

    __tablename__ = "screenshot"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- the web app (monitor/web, docs/webapp.md): accounts, sign-in attempts, audit log, triage, mutes ---------


class WebUser(Base):
    """An analyst's account for `claimwatch serve`: viewer < analyst < admin. ``auth_epoch`` is part of every
    session cookie; bumping it (new password, account disabled) ends that user's sessions everywhere."""

    __tablename__ = "web_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, with its parameters and salt
    role: Mapped[str] = mapped_column(String(16))  # viewer | analyst | admin
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    auth_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """One sign-in attempt, kept to throttle guessing across every worker and machine."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_name_at", "name", "at"), Index("ix_login_attempt_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    name: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditEntry(Base):
    """Who did what, when, from where: every sign-in, triage, mute, crawl, download and admin action."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("web_user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100))  # the user's name, or "cli:<os user>"
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(500), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ip: Mapped[str | None] = mapped_column(String(64))


class Triage(Base):
    """An analyst's decision about one change or one page event: ``acknowledged`` or ``escalated``."""

    __tablename__ = "triage"

    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int | None] = mapped_column(ForeignKey("change.id", ondelete="CASCADE"), unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), unique=True)
    state: Mapped[str] = mapped_column(String(16))  # acknowledged | escalated
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("web_user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class StatementMute(Base):
    """A muted statement of one page (its normalised key): later changes to it are kept, shown in the web
    app, and left out of digests and alerts while the mute stands (``lifted_at`` unset)."""

    __tablename__ = "statement_mute"
    __table_args__ = (Index("ix_statement_mute_page_key", "page_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("web_user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]
    lifted_by: Mapped[str | None] = mapped_column(String(100))


#: The full-text index of statements made by migration 0005: on SQLite an FTS5 virtual table with its shadow
#: tables and the queue of rows not yet indexed (statement_fts_pending, migration 0007: monitor.fulltext), on
#: PostgreSQL a GIN index on to_tsvector; they have no model, so schema comparisons skip them.
SEARCH_OBJECTS: frozenset[str] = frozenset({"statement_fts", "statement_fts_data", "statement_fts_idx",
                                            "statement_fts_docsize", "statement_fts_config", "ix_statement_text_fts",
                                            "statement_fts_pending"})
