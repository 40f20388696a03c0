"""Mail through a real SMTP server (aiosmtpd on 127.0.0.1): MIME structure, headers, per-site recipients,
exactly-once reporting, and SMTP down -> pending -> server back -> delivered once."""

from __future__ import annotations

import asyncio
import email
import socket
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from report_fixtures import add_change, add_snapshot, populate_example
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings, SmtpSettings
from monitor.mail import (
    ReportConflict,
    _claim,
    _mark_reported,
    deliver_outbox,
    queue_alerts,
    queue_reports,
    release_stuck,
    retry_outbox,
)
from monitor.models import Change, Event, Outbox, Page, Site, Snapshot


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=default_policy)


@dataclass
class Recorder:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


def free_port() -> int:
    # aiosmtpd's Controller cannot start on port 0 (it connects to its own port to check it is up)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class StoreThenDrop(Recorder):
    """Stores the message, then closes the connection instead of replying 250: the acceptance reply is lost
    (as when a server crashes or a connection breaks after the message was queued). ``drops`` times, then
    it behaves."""

    drops: int = 1

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.drops:
            self.drops -= 1
            server.transport.abort()
        return reply


@dataclass
class StoreThenStall(Recorder):
    """Stores the message and never replies: the client's timeout expires waiting for the 250."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await super().handle_DATA(server, session, envelope)
        await asyncio.get_running_loop().create_future()  # cancelled when the server stops
        return "250 never sent"


class SmtpServer:
    def __init__(self, port: int, recorder: Recorder | None = None) -> None:
        self.port = port
        self.recorder = recorder or Recorder()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port()).start()
    yield server
    server.stop()


def make_settings(tmp_path: Path, port: int, **changes: Any) -> Settings:
    settings = Settings(
        db_url="sqlite://", data_dir=tmp_path / "data", mail_from="claimwatch <claimwatch@agency.example>",
        recipients=("lead@agency.example",),
        smtp=SmtpSettings(host="127.0.0.1", port=port, security="none", timeout=5),
    )
    return replace(settings, **changes)


def populate(sessions: sessionmaker[Session]) -> datetime:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        populate_example(session, now)
    return now


def by_recipient(server: SmtpServer) -> dict[str, EmailMessage]:
    found: dict[str, EmailMessage] = {}
    for item in server.received:
        assert len(item.rcpt_tos) == 1
        found[item.rcpt_tos[0]] = item.message
    return found


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_digest_per_recipient_over_smtp(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                        tmp_path: Path) -> None:
    now = populate(sessions)
    settings = make_settings(tmp_path, smtp_server.port)
    with sessions.begin() as session:
        rows = queue_reports(session, settings, since=None, until=now, min_severity="info")
        assert sorted(r.recipients[0] for r in rows) == ["ana@agency.example", "ben@agency.example",
                                                          "lead@agency.example"]
        assert {r.status for r in rows} == {"pending"}
    result = deliver_outbox(sessions, settings)
    assert len(result.sent) == 3 and not result.failed and str(result) == "3 sent"

    mails = by_recipient(smtp_server)
    assert set(mails) == {"ana@agency.example", "ben@agency.example", "lead@agency.example"}
    assert {item.mail_from for item in smtp_server.received} == {"claimwatch@agency.example"}
    for address, message in mails.items():
        # multipart/alternative: text/plain first, then text/html (the preferred, last part)
        assert message.get_content_type() == "multipart/alternative"
        parts = list(message.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert message["To"] == address and message["From"] == "claimwatch <claimwatch@agency.example>"
        assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@agency.example>")
        assert email.utils.parsedate_to_datetime(message["Date"]).tzinfo is not None
        assert message["Subject"].startswith("[claimwatch] ")
    # each analyst sees only their sellers; the default recipient sees all of them
    ana, ben, lead = (mails[a] for a in ("ana@agency.example", "ben@agency.example", "lead@agency.example"))
    assert ana["Subject"] == "[claimwatch] 2 high, 1 medium changes at 1 seller"
    for part in ("plain", "html"):
        assert "vitalroots" in text_of(ana, part) and "nightcalm-labs" not in text_of(ana, part)
        assert "nightcalm-labs" in text_of(ben, part) and "vitalroots" not in text_of(ben, part)
        assert all(s in text_of(lead, part) for s in ("vitalroots", "nightcalm-labs", "purejoint"))
    assert "90 -&gt; 30 days" in text_of(ana, "html") and "90 -> 30 days" in text_of(ana, "plain")
    assert "HTTP 404 on 2 consecutive fetches" in text_of(ben, "plain")
    assert lead["Subject"] == "[claimwatch] 3 high, 2 medium, 2 low changes at 3 sellers; 2 page events"

    with sessions() as session:
        sent = session.scalars(select(Outbox)).all()
        assert {row.status for row in sent} == {"sent"} and all(row.sent_at for row in sent)
        assert {row.message_id for row in sent} == {m["Message-ID"] for m in mails.values()}
        assert session.scalars(select(Change).where(Change.reported_at.is_(None))).all() == []
        assert session.scalars(select(Event).where(Event.reported_at.is_(None))).all() == []
    # reported exactly once: the next digest has nothing to say, a second delivery sends nothing
    with sessions.begin() as session:
        assert queue_reports(session, settings, since=None, until=datetime.now(UTC)) == []
    assert not deliver_outbox(sessions, settings)
    assert len(smtp_server.received) == 3


def test_new_change_goes_only_to_that_sites_recipients(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                                      tmp_path: Path) -> None:
    now = populate(sessions)
    settings = make_settings(tmp_path, smtp_server.port)
    with sessions.begin() as session:
        queue_reports(session, settings, since=None, until=now)
    deliver_outbox(sessions, settings)
    smtp_server.received.clear()
    later = datetime.now(UTC)
    with sessions.begin() as session:
        page = session.scalars(select(Page).where(Page.url.like("%night-calm"))).one()
        before = session.get(Snapshot, page.current_snapshot_id)
        after = add_snapshot(session, page, when=later)
        add_change(session, page, before, after, when=later, change="added", kind="claim", type="efficacy",
                   severity="medium", after_text="Works in one night, guaranteed.")
    with sessions.begin() as session:
        rows = queue_reports(session, settings, since=None, until=later + timedelta(seconds=1))
    assert sorted(r.recipients[0] for r in rows) == ["ben@agency.example", "lead@agency.example"]
    deliver_outbox(sessions, settings)
    assert sorted(by_recipient(smtp_server)) == ["ben@agency.example", "lead@agency.example"]
    assert "Works in one night" in text_of(by_recipient(smtp_server)["ben@agency.example"], "plain")


def test_smtp_down_then_back_delivers_exactly_once(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    now = populate(sessions)
    port = free_port()  # nothing listens here yet
    settings = make_settings(tmp_path, port, recipients=())
    with sessions.begin() as session:
        rows = queue_reports(session, settings, since=None, until=now, sites=["vitalroots"])
    assert [r.recipients for r in rows] == [["ana@agency.example"]]

    down = deliver_outbox(sessions, settings)
    assert not down.sent and len(down.failed) == 1 and "refused" in down.failed[0][1].lower()
    with sessions() as session:
        row = session.scalars(select(Outbox)).one()
        assert row.status == "pending" and row.attempts == 1 and row.last_error
        assert row.next_attempt_at is not None and row.next_attempt_at > datetime.now(UTC)
        # the changes were reported (queued) once; the message is what is pending
        assert session.scalars(select(Change.reported_at).where(Change.site_id == 1)).all()
    # not due yet: a pass before the backoff expires does nothing
    assert not deliver_outbox(sessions, settings)

    server = SmtpServer(port).start()
    try:
        later = datetime.now(UTC) + timedelta(minutes=2)
        up = deliver_outbox(sessions, settings, now=later)
        assert len(up.sent) == 1 and not up.failed
        again = deliver_outbox(sessions, settings, now=later + timedelta(days=1))
        assert not again
        assert len(server.received) == 1
        assert server.received[0].message["Message-ID"] == rows[0].message_id
    finally:
        server.stop()
    with sessions() as session:
        row = session.scalars(select(Outbox)).one()
        assert row.status == "sent" and row.attempts == 2 and row.sent_at is not None


def test_starttls_not_offered_stays_pending(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                           tmp_path: Path) -> None:
    now = populate(sessions)
    settings = make_settings(tmp_path, smtp_server.port)
    settings = replace(settings, smtp=replace(settings.smtp, security="starttls"))
    with sessions.begin() as session:
        queue_reports(session, settings, since=None, until=now)
    result = deliver_outbox(sessions, settings)
    # the first message fails on STARTTLS; the others are not attempted against a refusing server
    assert len(result.failed) == 1 and result.left == 2 and "STARTTLS" in result.failed[0][1]
    assert smtp_server.received == []
    with sessions() as session:
        assert {row.status for row in session.scalars(select(Outbox))} == {"pending"}
    with sessions.begin() as session:
        assert retry_outbox(session) == 3
    plain = deliver_outbox(sessions, make_settings(tmp_path, smtp_server.port))
    assert len(plain.sent) == 3 and len(smtp_server.received) == 3


def test_a_claimed_row_is_never_sent_by_another_pass(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                                    tmp_path: Path) -> None:
    now = populate(sessions)
    settings = make_settings(tmp_path, smtp_server.port, recipients=())
    with sessions.begin() as session:
        rows = queue_reports(session, settings, since=None, until=now)
    first = rows[0]
    # another process claimed the first row (and died before marking it sent)
    assert _claim(sessions, first.id, datetime.now(UTC)) is not None
    assert _claim(sessions, first.id, datetime.now(UTC)) is None
    result = deliver_outbox(sessions, settings)
    assert len(result.sent) == len(rows) - 1
    assert first.message_id not in {r.message["Message-ID"] for r in smtp_server.received}
    with sessions.begin() as session:
        assert session.get(Outbox, first.id).status == "sending"  # type: ignore[union-attr]
        assert retry_outbox(session) == 0  # retry leaves an interrupted send alone
        assert release_stuck(session, older_than=timedelta(0)) == 1  # only on the operator's request
    assert len(deliver_outbox(sessions, settings).sent) == 1


def test_concurrent_reporter_conflict_rolls_back(sessions: sessionmaker[Session]) -> None:
    now = populate(sessions)
    with sessions() as session:
        ids = list(session.scalars(select(Change.id)))
    with sessions.begin() as session:
        session.get(Change, ids[0]).reported_at = now  # type: ignore[union-attr]
    with pytest.raises(ReportConflict), sessions.begin() as session:
        _mark_reported(session, Change, ids, now)
    with sessions() as session:
        assert len(session.scalars(select(Change).where(Change.reported_at.is_(None))).all()) == len(ids) - 1


def test_empty_period_sends_nothing_unless_configured(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                                     tmp_path: Path) -> None:
    with sessions.begin() as session:
        session.add(Site(name="quiet", start_urls=[], allow=[], recipients=["ana@agency.example"]))
    settings = make_settings(tmp_path, smtp_server.port, recipients=())
    now = datetime.now(UTC)
    with sessions.begin() as session:
        assert queue_reports(session, settings, since=now - timedelta(days=1), until=now) == []
    with sessions.begin() as session:
        rows = queue_reports(session, replace(settings, send_empty=True), since=now - timedelta(days=1), until=now)
    assert [(r.kind, r.recipients) for r in rows] == [("empty", ["ana@agency.example"])]
    deliver_outbox(sessions, settings)
    assert smtp_server.received[0].message["Subject"].startswith("[claimwatch] no changes")


def test_alerts_per_site_for_high_changes(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                          tmp_path: Path) -> None:
    populate(sessions)
    settings = make_settings(tmp_path, smtp_server.port)
    with sessions.begin() as session:
        rows = queue_alerts(session, settings, site="vitalroots")
    assert sorted(r.recipients[0] for r in rows) == ["ana@agency.example", "lead@agency.example"]
    assert {r.kind for r in rows} == {"alert"}
    assert {r.subject for r in rows} == {"[claimwatch] ALERT: 2 high changes at vitalroots"}
    deliver_outbox(sessions, settings)
    body = text_of(smtp_server.received[0].message, "plain")
    assert "Shrinks arthritis" in body and "90 -> 30 days" not in body  # medium is left for the digest
    with sessions.begin() as session:
        digest = queue_reports(session, settings, since=None, until=datetime.now(UTC))
        lead = next(r for r in digest if r.recipients == ["lead@agency.example"])
        assert lead.subject.startswith("[claimwatch] 1 high, 2 medium, 2 low changes")  # alerted ones not repeated
        with pytest.raises(ValueError):
            queue_alerts(session, settings)


def statuses(session: Session) -> dict[str, int]:
    return dict(Counter(session.scalars(select(Outbox.status))))


@pytest.mark.parametrize("recorder", [StoreThenDrop, StoreThenStall], ids=["dropped", "timed-out"])
def test_a_lost_acceptance_reply_is_never_re_sent_automatically(sessions: sessionmaker[Session], tmp_path: Path,
                                                                recorder: type[Recorder]) -> None:
    # The server stores the message and the connection is lost before its 250 (closed, or silent until the
    # client's timeout): the server may have it, so claimwatch marks it "unknown" and sends it again only on
    # an operator's explicit retry, byte for byte with the same Message-ID.
    now = populate(sessions)
    server = SmtpServer(free_port(), recorder()).start()
    try:
        settings = make_settings(tmp_path, server.port, recipients=())
        settings = replace(settings, smtp=replace(settings.smtp, timeout=2))
        with sessions.begin() as session:
            rows = queue_reports(session, settings, since=None, until=now)
        assert len(rows) == 2  # ana's and ben's digests
        lost = deliver_outbox(sessions, settings)
        assert len(server.received) == 1, "the server stored the first message"
        assert not lost.sent and not lost.failed and [mid for mid, _ in lost.unknown] == [rows[0].message_id]
        assert lost.left == 1 and "unknown (the server may have accepted it" in str(lost)
        with sessions() as session:
            row = session.get(Outbox, rows[0].id)
            assert row is not None and row.status == "unknown" and row.next_attempt_at is None
            assert "no reply after the message was transmitted" in (row.last_error or "")
            assert statuses(session) == {"unknown": 1, "pending": 1}
    finally:
        server.stop()

    healthy = SmtpServer(free_port()).start()
    try:
        settings = make_settings(tmp_path, healthy.port, recipients=())
        # later passes, with a working server, send the other message and never the unknown one
        later = deliver_outbox(sessions, settings, now=datetime.now(UTC) + timedelta(days=1))
        assert later.sent == [rows[1].message_id]
        assert not deliver_outbox(sessions, settings, now=datetime.now(UTC) + timedelta(days=30))
        with sessions.begin() as session:
            assert retry_outbox(session) == 0  # a plain retry leaves it alone too
        assert not deliver_outbox(sessions, settings, now=datetime.now(UTC) + timedelta(days=30))
        assert [r.message["Message-ID"] for r in healthy.received] == [rows[1].message_id]

        with sessions.begin() as session:
            assert retry_outbox(session, unknown=True) == 1  # the operator's decision
        again = deliver_outbox(sessions, settings)
        assert again.sent == [rows[0].message_id]
        assert healthy.received[-1].data == server.received[0].data  # the same bytes: Message-ID, Date, body
        with sessions() as session:
            assert statuses(session) == {"sent": 2}
    finally:
        healthy.stop()


def test_a_refusal_at_the_end_of_data_is_retried(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    # A 451 reply is a definite "not taken": the message goes back to pending and is retried automatically.
    @dataclass
    class Busy(Recorder):
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if not self.received:
                self.received.append(Received(envelope.mail_from, [], b""))
                return "451 4.3.0 try again later"
            return await super().handle_DATA(server, session, envelope)

    now = populate(sessions)
    server = SmtpServer(free_port(), Busy()).start()
    try:
        settings = make_settings(tmp_path, server.port, recipients=())
        with sessions.begin() as session:
            rows = queue_reports(session, settings, since=None, until=now, sites=["vitalroots"])
        first = deliver_outbox(sessions, settings)
        assert len(first.failed) == 1 and "451" in first.failed[0][1] and not first.unknown
        second = deliver_outbox(sessions, settings, now=datetime.now(UTC) + timedelta(minutes=5))
        assert second.sent == [rows[0].message_id]
        assert [r.message["Message-ID"] for r in server.received[1:]] == [rows[0].message_id]
    finally:
        server.stop()
