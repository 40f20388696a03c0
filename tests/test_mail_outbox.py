"""No SMTP configured: messages become .eml files in the outbox folder; and the report/outbox commands."""

from __future__ import annotations

import email
import json
import re
import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from click.testing import Result
from report_fixtures import make_database, populate_example, populate_many
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings, load_settings
from monitor.mail import deliver_outbox, eml_path, queue_reports
from monitor.models import Change, Outbox


def test_no_smtp_writes_eml_files(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        populate_example(session, now)
    settings = Settings(db_url="sqlite://", data_dir=tmp_path / "data", recipients=("lead@agency.example",))
    assert settings.smtp.host is None
    with sessions.begin() as session:
        rows = queue_reports(session, settings, since=None, until=now)
    result = deliver_outbox(sessions, settings)
    assert len(result.written) == 3 and not result.sent and not result.failed
    files = sorted(settings.outbox_dir.glob("*.eml"))
    assert files == sorted(eml_path(settings.outbox_dir, row.message_id) for row in rows)
    for path in files:
        raw = path.read_bytes()
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        message = email.message_from_bytes(raw, policy=default_policy)
        assert message.get_content_type() == "multipart/alternative"
        assert path.name == message["Message-ID"].strip("<>") + ".eml"
    with sessions() as session:  # written to a folder, which is not sent: nobody received it yet
        assert {row.status for row in session.scalars(select(Outbox))} == {"written"}
    assert not deliver_outbox(sessions, settings)  # written once
    assert len(list(settings.outbox_dir.glob("*.eml"))) == 3
    assert not list(settings.outbox_dir.glob("*.part"))


@pytest.fixture
def cli_db(tmp_path: Path) -> tuple[str, sessionmaker[Session]]:
    path = tmp_path / "cli.db"
    sessions = make_database(path)
    with sessions.begin() as session:
        populate_example(session, datetime.now(UTC))
    return f"sqlite:///{path}", sessions


def test_report_preview_marks_nothing(run_cli: Callable[..., Result], cli_db: tuple[str, sessionmaker[Session]],
                                      tmp_path: Path) -> None:
    db, sessions = cli_db
    out = tmp_path / "out" / "report.html"
    result = run_cli("report", "--min-severity", "medium", "--site", "vitalroots", "--out", str(out), db=db)
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert "vitalroots" in html and "nightcalm-labs" not in html and "social_proof" not in html
    assert "[claimwatch] 2 high, 1 medium changes at 1 seller" in result.stderr
    since = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = run_cli("report", "--since", since, "--format", "text", db=db)
    assert text.exit_code == 0 and "90 -> 30 days" in text.stdout and "<" not in text.stdout.split("\n")[0]
    with sessions() as session:
        assert session.scalars(select(Change).where(Change.reported_at.is_not(None))).all() == []
        assert session.scalars(select(Outbox)).all() == []


def test_report_send_and_outbox_commands(run_cli: Callable[..., Result],
                                         cli_db: tuple[str, sessionmaker[Session]], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    db, sessions = cli_db
    monkeypatch.setenv("CLAIMWATCH_RECIPIENTS", "lead@agency.example")
    sent = run_cli("report", "--send", db=db)
    assert sent.exit_code == 0, sent.output
    assert "queued 3 message(s)" in sent.stderr and "outbox: 3 written as .eml (" in sent.stderr
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 3
    listing = run_cli("outbox", "list", "--format", "json", db=db)
    rows = json.loads(listing.stdout)["outbox"]
    assert len(rows) == 3 and {row["status"] for row in rows} == {"written"}
    again = run_cli("report", "--send", db=db)
    assert again.exit_code == 0 and "nothing to send" in again.stderr
    table = run_cli("outbox", "list", db=db)
    assert table.exit_code == 0 and "lead@agency.example" in table.stdout
    assert [line.split()[1] for line in table.stdout.splitlines()[1:]] == ["written"] * 3
    assert "sent" not in table.stdout.split()
    nothing = run_cli("outbox", "retry", db=db)
    assert nothing.exit_code == 0 and "no pending or failed messages" in nothing.stderr


def test_send_with_smtp_down_fails_with_one_line(run_cli: Callable[..., Result],
                                                 cli_db: tuple[str, sessionmaker[Session]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    db, sessions = cli_db
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("CLAIMWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("CLAIMWATCH_SMTP_PORT", str(port))
    monkeypatch.setenv("CLAIMWATCH_SMTP_SECURITY", "none")
    result = run_cli("report", "--send", "--site", "vitalroots", db=db)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: delivery failed: ")
    with sessions() as session:
        row = session.scalars(select(Outbox)).one()
        assert row.status == "pending" and row.last_error
    retry = run_cli("outbox", "retry", db=db)
    assert retry.exit_code == 1 and "delivery failed" in retry.stderr
    monkeypatch.setenv("CLAIMWATCH_SMTP_SECURITY", "ssl3")
    bad = run_cli("outbox", "retry", db=db)
    assert bad.exit_code == 1 and "CLAIMWATCH_SMTP_SECURITY must be one of" in bad.stderr


def test_report_errors_are_one_line(run_cli: Callable[..., Result],
                                    cli_db: tuple[str, sessionmaker[Session]]) -> None:
    db, _ = cli_db
    unknown = run_cli("report", "--site", "nosuch", db=db)
    assert unknown.exit_code == 1 and unknown.stderr.strip() == "Error: unknown site: nosuch"
    since = run_cli("report", "--since", "yesterday", db=db)
    assert since.exit_code == 1 and len(since.stderr.strip().splitlines()) == 1


def test_settings_come_from_the_environment() -> None:
    settings = load_settings({"CLAIMWATCH_SMTP_HOST": "mail.agency.example", "CLAIMWATCH_SMTP_PORT": "465",
                              "CLAIMWATCH_SMTP_SECURITY": "TLS", "CLAIMWATCH_SMTP_USER": "cw",
                              "CLAIMWATCH_SMTP_PASSWORD": "s3cret", "CLAIMWATCH_MAIL_FROM": "cw@agency.example",
                              "CLAIMWATCH_RECIPIENTS": "a@agency.example, b@agency.example"})
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == ("mail.agency.example", 465, "tls")
    assert settings.smtp.password == "s3cret" and settings.recipients == ("a@agency.example", "b@agency.example")


def test_unknown_delivery_is_reported_and_re_sent_only_on_request(
        run_cli: Callable[..., Result], cli_db: tuple[str, sessionmaker[Session]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from test_mail_smtp import SmtpServer, StoreThenDrop, free_port

    db, sessions = cli_db
    server = SmtpServer(free_port(), StoreThenDrop()).start()
    try:
        monkeypatch.setenv("CLAIMWATCH_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("CLAIMWATCH_SMTP_PORT", str(server.port))
        monkeypatch.setenv("CLAIMWATCH_SMTP_SECURITY", "none")
        sent = run_cli("report", "--send", "--site", "vitalroots", db=db)
        assert sent.exit_code == 1 and len(server.received) == 1
        assert sent.stderr.strip().splitlines()[-1].startswith("Error: delivery unknown: ")
        assert "claimwatch outbox retry --unknown" in sent.stderr
        listing = json.loads(run_cli("outbox", "list", "--format", "json", db=db).stdout)["outbox"]
        assert [row["status"] for row in listing] == ["unknown"]
        assert "no reply after the message was transmitted" in listing[0]["last_error"]
        assert "unknown" in run_cli("outbox", "list", "--status", "unknown", db=db).stdout
        status = run_cli("status", "--format", "json", db=db)
        assert json.loads(status.stdout)["outbox"]["unknown"] == 1  # `claimwatch status` shows it too
        assert "1 unknown" in run_cli("status", db=db).stdout

        plain = run_cli("outbox", "retry", db=db)  # the remedy for pending mail does not touch it
        assert plain.exit_code == 0 and "left 1 message(s) whose delivery is unknown" in plain.stderr
        assert len(server.received) == 1
        resend = run_cli("outbox", "retry", "--unknown", db=db)
        assert resend.exit_code == 0, resend.stderr
        assert "1 sent" in resend.stderr and len(server.received) == 2
        assert server.received[0].data == server.received[1].data  # same Message-ID, Date and content
        with sessions() as session:
            assert [row.status for row in session.scalars(select(Outbox))] == ["sent"]
    finally:
        server.stop()


def test_a_large_digest_stays_under_gmails_limit_and_says_how_to_see_everything(
        run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "busy.db"
    sessions = make_database(path)
    with sessions.begin() as session:
        populate_many(session, datetime.now(UTC), changes=400, sellers=5)
    db = f"sqlite:///{path}"
    monkeypatch.setenv("CLAIMWATCH_RECIPIENTS", "lead@agency.example")
    sent = run_cli("report", "--send", db=db)
    assert sent.exit_code == 0, sent.stderr
    [eml] = list((tmp_path / "data" / "outbox").glob("*.eml"))
    message = email.message_from_bytes(eml.read_bytes(), policy=default_policy)
    html_part, text_part = (message.get_body(preferencelist=(kind,)) for kind in ("html", "plain"))
    assert html_part is not None and text_part is not None
    html, text = str(html_part.get_content()), str(text_part.get_content())
    assert len(html.encode("utf-8")) <= 100_000, "Gmail clips messages with more HTML"
    assert "This digest is abridged" in html and "This digest is abridged" in text

    # the changes are reported now; the command the digest names still shows every one of them
    command = re.search(r"^  (claimwatch report .*)$", text, re.M)
    assert command, text
    words = shlex.split(command[1])
    full = run_cli(*words[1:], db=db)
    assert full.exit_code == 0, full.stderr
    listed = {int(n) for n in re.findall(r"\(offer (\d+)\)", (tmp_path / "report.html").read_text())}
    assert listed == set(range(400))
