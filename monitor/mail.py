"""Mail: rendered reports -> outbox rows -> SMTP (or .eml files), each change reported exactly once.

Queueing (``queue_reports``, ``queue_alerts``) runs inside the caller's transaction::

    with session_factory.begin() as session:
        queue_reports(session, settings, since=None, until=utcnow(), min_severity="low")
    deliver_outbox(session_factory, settings)

It reads the unreported changes and events of every site in scope once, builds one message per recipient
(listing only that recipient's sites) and marks everything it included ``reported_at`` in that same
transaction. So a change going to analysts A and B is in both messages or in neither: there is no state in
which A's digest exists and B's does not. The marking is a guarded ``UPDATE ... WHERE reported_at IS NULL``;
when another process reported some of the same rows first, ``ReportConflict`` is raised and the caller's
transaction rolls back.

Delivery (``deliver_outbox``) claims one due ``pending`` row at a time (``UPDATE ... SET status='sending'
WHERE status='pending'``, committed), sends it, and marks it ``sent`` in its own transaction right after the
server accepted it (``written`` when it went to an ``.eml`` file instead). A failure that proves the server
did not take the message (refused connection, TLS or login, a 4xx/5xx reply, the connection lost before the
end of the data) puts the row back to ``pending`` with the error and an exponential backoff (``failed`` after
``MAX_ATTEMPTS``). Once the whole message has been transmitted, the server may have stored it even if its
reply never arrives: a lost reply (connection dropped, timeout) marks the row ``unknown``, which is never
retried automatically; ``claimwatch outbox retry --unknown`` re-sends it, byte for byte with the same
Message-ID. Likewise a process that dies between the server's acceptance and the ``sent`` mark leaves the
row in ``sending``; ``release_stuck()`` (``claimwatch outbox retry --stuck``) is the operator's decision.
So delivery is at-most-once unless an operator asks for another copy.
"""

from __future__ import annotations

import logging
import os
import re
import smtplib
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings
from monitor.models import Change, Event, Outbox, Site, utcnow
from monitor.report import (
    MAIL_HTML_LIMIT,
    RenderedReport,
    ReportContext,
    build_report,
    render_report,
    restrict_report,
)

__all__ = [
    "BACKOFF_BASE",
    "MAX_ATTEMPTS",
    "STATUSES",
    "AcceptanceUnknown",
    "DeliveryResult",
    "MailError",
    "ReportConflict",
    "compose_message",
    "deliver_outbox",
    "list_outbox",
    "outbox_counts",
    "queue_alerts",
    "queue_reports",
    "recipients_by_site",
    "release_stuck",
    "retry_outbox",
]

log = logging.getLogger(__name__)

#: First retry delay; each further failure doubles it, up to ``BACKOFF_MAX``.
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=6)
#: Attempts before a row is given up as ``failed`` (``claimwatch outbox retry`` revives it).
MAX_ATTEMPTS = 12
#: SMTP security modes (``CLAIMWATCH_SMTP_SECURITY``).
SECURITY_MODES = ("none", "starttls", "tls")
#: How messages are serialised: CRLF line ends; headers are not folded below the RFC 5322 hard limit,
#: because the standard library folds some ~75-character subjects before their first word, which clients
#: then show with a leading space. (Bodies are already encoded to short lines by ``set_content``.)
WIRE_POLICY = SMTP_POLICY.clone(max_line_length=998)
#: Outbox row states. ``pending``: not (yet) handed over, due at ``next_attempt_at``; ``sending``: claimed by
#: a delivery pass; ``sent``: the SMTP server accepted it (250 to the end of data); ``written``: written as
#: an ``.eml`` file (no SMTP configured); ``unknown``: transmitted, but the server's reply was lost, so it
#: may or may not have it; ``failed``: given up after ``MAX_ATTEMPTS`` definite failures.
STATUSES = ("pending", "sending", "sent", "written", "unknown", "failed")
#: Rows marked reported per UPDATE statement (keeps ``IN (...)`` lists within every backend's limits).
MARK_CHUNK = 500


class MailError(Exception):
    """Mail cannot be sent as configured; the message says why in one line."""


class ReportConflict(MailError):
    """Another process reported some of the same changes or events first; nothing was queued."""


class AcceptanceUnknown(MailError):
    """The whole message reached the server, but its reply did not reach us: it may have been accepted."""


# --- composing -----------------------------------------------------------------------------------------


def _domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    domain = address.rpartition("@")[2] if "@" in address else ""
    return domain or "claimwatch.invalid"


def compose_message(rendered: RenderedReport, *, mail_from: str, to: Sequence[str], kind: str = "digest",
                    message_id: str | None = None, date: datetime | None = None) -> EmailMessage:
    """A multipart/alternative message: the plain-text part first, then the HTML part (preferred).

    >>> msg = compose_message(RenderedReport("s", "<p>h</p>", "t"), mail_from="cw@x.example", to=["a@x.example"])
    >>> [part.get_content_type() for part in msg.iter_parts()]
    ['text/plain', 'text/html']
    """
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = mail_from
    message["To"] = ", ".join(to)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    # the domain is given so make_msgid does not ask DNS for this host's name
    message["Message-ID"] = message_id or make_msgid(idstring=kind, domain=_domain(mail_from))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Claimwatch-Kind"] = kind
    message.set_content(rendered.text, subtype="plain", charset="utf-8")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return message


# --- queueing ------------------------------------------------------------------------------------------


def recipients_by_site(session: Session, settings: Settings, sites: Iterable[str]) -> dict[str, list[str]]:
    """Recipient -> the site names they receive: each site's own recipients plus the default recipients
    (``CLAIMWATCH_RECIPIENTS``), who receive every site. Addresses are compared case-insensitively."""
    names = list(sites)
    audience: dict[str, list[str]] = {}
    spelled: dict[str, str] = {}
    rows = session.execute(select(Site.name, Site.recipients).where(Site.name.in_(names)))
    site_recipients = {name: list(recipients or ()) for name, recipients in rows}
    for name in names:
        for address in [*site_recipients.get(name, ()), *settings.recipients]:
            address = str(address).strip()
            if not address:
                continue
            key = address.casefold()
            spelled.setdefault(key, address)
            targets = audience.setdefault(spelled[key], [])
            if name not in targets:
                targets.append(name)
    return audience


def _mark_reported(session: Session, model: type[Change] | type[Event], ids: Sequence[int],
                   at: datetime) -> None:
    for start in range(0, len(ids), MARK_CHUNK):
        chunk = list(ids[start:start + MARK_CHUNK])
        result = cast(CursorResult[Any], session.execute(
            update(model).where(model.id.in_(chunk), model.reported_at.is_(None)).values(reported_at=at)
            .execution_options(synchronize_session=False)
        ))
        if result.rowcount != len(chunk):
            raise ReportConflict(
                f"another process reported some of these {model.__tablename__}s at the same time; "
                "nothing was queued"
            )


def _outbox_row(settings: Settings, rendered: RenderedReport, to: Sequence[str], kind: str,
                now: datetime) -> Outbox:
    message = compose_message(rendered, mail_from=settings.mail_from, to=to, kind=kind, date=now)
    return Outbox(created_at=now, kind=kind, subject=rendered.subject, recipients=list(to),
                  message=message.as_bytes(policy=WIRE_POLICY), message_id=str(message["Message-ID"]),
                  status="pending", attempts=0, next_attempt_at=now)


def _queue(session: Session, settings: Settings, ctx: ReportContext, *, per_site: bool,
           send_empty: bool, now: datetime, templates: Path | None) -> list[Outbox]:
    """One message per recipient (per recipient and site with ``per_site``); mark what they include."""
    audience = recipients_by_site(session, settings, ctx.sites)
    covered = {site for names in audience.values() for site in names}
    orphans = sorted({item.site for item in ctx.changes} - covered)
    if orphans:
        log.warning("no recipients for %s: their changes stay unreported (set the site's recipients or "
                    "CLAIMWATCH_RECIPIENTS)", ", ".join(orphans))

    # Mark first: a concurrent reporter fails here, before any rendering work.
    _mark_reported(session, Change, [c.id for c in ctx.changes if c.site in covered], now)
    _mark_reported(session, Event, [e.id for e in ctx.events if e.site in covered], now)

    rows: list[Outbox] = []
    for recipient, names in sorted(audience.items()):
        parts = [[name] for name in sorted(names)] if per_site else [names]
        for scope in parts:
            mine = restrict_report(ctx, scope)
            if mine.is_empty and not send_empty:
                continue
            rendered = render_report(mine, templates, max_html_bytes=MAIL_HTML_LIMIT)
            kind = "empty" if mine.is_empty else ctx.kind
            rows.append(_outbox_row(settings, rendered, [recipient], kind, now))
    session.add_all(rows)
    session.flush()
    return rows


def queue_reports(session: Session, settings: Settings, *, since: datetime | None, until: datetime,
                  min_severity: str = "info", sites: Sequence[str] | None = None, kind: str = "digest",
                  templates: Path | None = None) -> list[Outbox]:
    """Queue one digest per recipient with the not-yet-reported changes and events of ``[since, until)``.

    Everything included is marked reported in the caller's transaction, together with the outbox rows.
    An empty period queues nothing unless ``settings.send_empty`` (then a "no changes" message, kind
    ``empty``, per recipient). Changes below ``min_severity`` and changes of sites nobody receives stay
    unreported.
    """
    now = utcnow()
    ctx = build_report(session, since=since, until=until, sites=sites, min_severity=min_severity,
                       unreported_only=True, kind=kind, web_url=settings.web_url)
    return _queue(session, settings, ctx, per_site=False, send_empty=settings.send_empty, now=now,
                  templates=templates)


def queue_alerts(session: Session, settings: Settings, *, run_id: int | None = None, site: str | None = None,
                 min_severity: str = "high", templates: Path | None = None) -> list[Outbox]:
    """Queue immediate alerts (kind ``alert``): one message per recipient and site with unreported changes
    of at least ``min_severity`` from one crawl run (``run_id``) or one site. Alerted changes count as
    reported: the next digest does not repeat them. Page events are left for the digest."""
    if run_id is None and site is None:
        raise ValueError("queue_alerts needs a run_id or a site")
    ctx = build_report(session, since=None, until=utcnow() + timedelta(seconds=1),
                       sites=[site] if site else None, min_severity=min_severity, unreported_only=True,
                       run_id=run_id, kind="alert", web_url=settings.web_url)
    ctx = restrict_report(replace(ctx, events=(), findings=()), ctx.sites)
    if not ctx.changes:
        return []
    return _queue(session, settings, ctx, per_site=True, send_empty=False, now=utcnow(), templates=templates)


# --- delivering ----------------------------------------------------------------------------------------


@dataclass
class DeliveryResult:
    """What one delivery pass did; falsy when there was nothing to do."""

    sent: list[str] = field(default_factory=list)  # Message-IDs accepted by the server
    written: list[Path] = field(default_factory=list)  # .eml files (no SMTP configured)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (Message-ID, error)
    unknown: list[tuple[str, str]] = field(default_factory=list)  # (Message-ID, error): may have arrived
    skipped: int = 0  # due rows another process claimed first
    left: int = 0  # due rows not attempted after the server became unreachable

    def __bool__(self) -> bool:
        return bool(self.sent or self.written or self.failed or self.unknown or self.left)

    def __str__(self) -> str:
        # "sent" only for what an SMTP server accepted: .eml files in a folder have reached nobody yet
        parts = [f"{len(self.sent)} sent"] if self.sent or not self.written else []
        if self.written:
            parts.append(f"{len(self.written)} written as .eml")
        if self.failed:
            parts.append(f"{len(self.failed)} failed ({self.failed[-1][1]})")
        if self.unknown:
            parts.append(f"{len(self.unknown)} unknown (the server may have accepted it: {self.unknown[-1][1]})")
        if self.left:
            parts.append(f"{self.left} left pending")
        return ", ".join(parts)


@dataclass(frozen=True)
class _Claimed:
    id: int
    message_id: str
    recipients: list[str]
    message: bytes
    attempts: int


def _backoff(attempts: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


def _due(now: datetime) -> Any:
    return (Outbox.status == "pending") & or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now)


def _claim(session_factory: sessionmaker[Session], row_id: int, now: datetime) -> _Claimed | None:
    with session_factory.begin() as session:
        result = cast(CursorResult[Any], session.execute(
            update(Outbox).where(Outbox.id == row_id, _due(now))
            .values(status="sending", attempts=Outbox.attempts + 1, next_attempt_at=now)
            .execution_options(synchronize_session=False)
        ))
        if result.rowcount != 1:
            return None
        row = session.execute(
            select(Outbox.message_id, Outbox.recipients, Outbox.message, Outbox.attempts).where(Outbox.id == row_id)
        ).one()
        return _Claimed(row_id, row.message_id, list(row.recipients), bytes(row.message), row.attempts)


def _finish(session_factory: sessionmaker[Session], row_id: int, **values: Any) -> None:
    with session_factory.begin() as session:
        session.execute(
            update(Outbox).where(Outbox.id == row_id, Outbox.status == "sending").values(**values)
            .execution_options(synchronize_session=False)
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:500]


def _message_level(exc: BaseException) -> bool:
    """Errors about this message only; anything else means the server is unreachable or refuses us."""
    return isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPSenderRefused | smtplib.SMTPDataError)


_LINE_START_DOT = re.compile(rb"(?m)^\.")


def _transact(connection: smtplib.SMTP, sender: str, recipients: Sequence[str],
              message: bytes) -> dict[str, tuple[int, bytes]]:
    """``smtplib.SMTP.sendmail`` step by step, so that a reply lost after the end of the data (the server
    may have stored the message) raises ``AcceptanceUnknown`` instead of an error that looks retryable.
    Returns the refused recipients when some were accepted."""
    connection.ehlo_or_helo_if_needed()
    options = [f"size={len(message)}"] if connection.does_esmtp and connection.has_extn("size") else []
    code, reply = connection.mail(sender, options)
    if code != 250:
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused: dict[str, tuple[int, bytes]] = {}
    for recipient in recipients:
        code, reply = connection.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
    if len(refused) == len(recipients):
        raise smtplib.SMTPRecipientsRefused(refused)
    code, reply = connection.docmd("DATA")
    if code != 354:
        raise smtplib.SMTPDataError(code, reply)
    payload = _LINE_START_DOT.sub(b"..", message)
    connection.send(payload + (b"" if payload.endswith(b"\r\n") else b"\r\n") + b".\r\n")
    # The whole message is with the server now: whatever happens to its reply, it may have stored it.
    try:
        code, reply = connection.getreply()
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPResponseException, OSError) as exc:
        raise AcceptanceUnknown(f"no reply after the message was transmitted ({_one_line(exc)})") from exc
    if code != 250:
        raise smtplib.SMTPDataError(code, reply)
    return refused


class _SmtpTransport:
    """One SMTP connection per delivery pass, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        smtp = settings.smtp
        if smtp.security not in SECURITY_MODES:
            raise MailError(f"CLAIMWATCH_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}, "
                            f"not {smtp.security!r}")
        self.settings = settings
        self.envelope_from = parseaddr(settings.mail_from)[1] or settings.mail_from
        self.connection: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp = self.settings.smtp
        assert smtp.host is not None
        connection: smtplib.SMTP
        if smtp.security == "tls":
            connection = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout,
                                          context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        try:
            connection.ehlo()
            if smtp.security == "starttls":
                connection.starttls(context=ssl.create_default_context())
                connection.ehlo()
            if smtp.user:
                connection.login(smtp.user, smtp.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def send(self, claimed: _Claimed) -> str | None:
        """Hand the message to the server; returns a note on refused recipients when some were accepted."""
        if self.connection is None:
            self.connection = self._connect()
        refused = _transact(self.connection, self.envelope_from, claimed.recipients, claimed.message)
        return f"refused by the server: {', '.join(sorted(refused))}" if refused else None

    def reset(self) -> None:
        if self.connection is not None:
            try:
                self.connection.quit()
            except (smtplib.SMTPException, OSError):
                self.connection.close()
            self.connection = None


_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._@+-]")


def eml_path(outbox_dir: Path, message_id: str) -> Path:
    """``<message-id>.eml`` in the outbox folder, with the angle brackets and unsafe characters dropped."""
    return outbox_dir / (_UNSAFE_FILENAME.sub("_", message_id.strip().strip("<>")) + ".eml")


def _write_eml(outbox_dir: Path, claimed: _Claimed) -> Path:
    outbox_dir.mkdir(parents=True, exist_ok=True)
    path = eml_path(outbox_dir, claimed.message_id)
    partial = path.with_suffix(".eml.part")
    partial.write_bytes(claimed.message)
    os.replace(partial, path)
    return path


def deliver_outbox(session_factory: sessionmaker[Session], settings: Settings, *,
                   now: datetime | None = None) -> DeliveryResult:
    """Send every due ``pending`` row once; with no SMTP host, write ``.eml`` files to the outbox folder.

    Stops at the first connection-level failure (server down, TLS or login refused): the remaining rows
    stay pending, untouched, for the next pass.
    """
    moment = now or utcnow()
    transport = _SmtpTransport(settings) if settings.smtp.host else None
    with session_factory() as session:
        due = list(session.scalars(select(Outbox.id).where(_due(moment)).order_by(Outbox.id)))
    result = DeliveryResult()
    try:
        for position, row_id in enumerate(due):
            claimed = _claim(session_factory, row_id, moment)
            if claimed is None:
                result.skipped += 1
                continue
            try:
                if transport is None:
                    path = _write_eml(settings.outbox_dir, claimed)
                    note = None
                else:
                    note = transport.send(claimed)
            except AcceptanceUnknown as exc:
                # never retried automatically: it may be in the recipient's mailbox already
                error = str(exc)
                _finish(session_factory, row_id, status="unknown", last_error=error, next_attempt_at=None)
                result.unknown.append((claimed.message_id, error))
                log.error("outbox %s (%s): %s; not re-sent unless asked (claimwatch outbox retry --unknown)",
                          row_id, claimed.message_id, error)
                if transport is not None:
                    transport.reset()
                result.left = len(due) - position - 1
                break
            except (smtplib.SMTPException, OSError) as exc:
                error = _one_line(exc)
                failed_for_good = claimed.attempts >= MAX_ATTEMPTS
                _finish(session_factory, row_id, status="failed" if failed_for_good else "pending",
                        last_error=error, next_attempt_at=utcnow() + _backoff(claimed.attempts))
                result.failed.append((claimed.message_id, error))
                log.warning("outbox %s (%s): attempt %d failed: %s", row_id, claimed.message_id,
                            claimed.attempts, error)
                if transport is not None:
                    transport.reset()
                if not _message_level(exc):
                    result.left = len(due) - position - 1
                    break
                continue
            # accepted (or written): record it at once, in its own transaction
            _finish(session_factory, row_id, status="written" if transport is None else "sent", sent_at=utcnow(),
                    last_error=note)
            if transport is None:
                result.written.append(path)
            else:
                result.sent.append(claimed.message_id)
    finally:
        if transport is not None:
            transport.reset()
    return result


# --- operating the outbox ------------------------------------------------------------------------------


def list_outbox(session: Session, *, status: str | None = None, limit: int = 50) -> list[Outbox]:
    """The newest outbox rows first, optionally of one status (one of ``STATUSES``)."""
    query = select(Outbox).order_by(Outbox.id.desc()).limit(limit)
    if status:
        query = query.where(Outbox.status == status)
    return list(session.scalars(query))


def outbox_counts(session: Session) -> dict[str, int]:
    """Rows per status, e.g. ``{"sent": 12, "unknown": 1}``."""
    rows = session.execute(select(Outbox.status, func.count()).group_by(Outbox.status))
    return {status: int(count) for status, count in rows}


def retry_outbox(session: Session, *, unknown: bool = False, now: datetime | None = None) -> int:
    """Make every ``pending`` and ``failed`` row due now; returns how many rows that touched.

    With ``unknown``, rows whose acceptance is unknown too: the server may have stored them already, so
    they can arrive twice (with the same Message-ID, Date and content).
    """
    statuses = ("pending", "failed", "unknown") if unknown else ("pending", "failed")
    result = cast(CursorResult[Any], session.execute(
        update(Outbox).where(Outbox.status.in_(statuses))
        .values(status="pending", next_attempt_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ))
    return int(result.rowcount)


def release_stuck(session: Session, *, older_than: timedelta = timedelta(minutes=30),
                  now: datetime | None = None) -> int:
    """Put rows left in ``sending`` by a crashed process back to ``pending``.

    Such a message may already have been accepted by the server: releasing it can send it twice, so
    this is only ever done on an operator's request.
    """
    moment = now or utcnow()
    result = cast(CursorResult[Any], session.execute(
        update(Outbox).where(Outbox.status == "sending", Outbox.next_attempt_at <= moment - older_than)
        .values(status="pending", next_attempt_at=moment, last_error="released after an interrupted send")
        .execution_options(synchronize_session=False)
    ))
    return int(result.rowcount)
