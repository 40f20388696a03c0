"""No SMTP configured: messages become .eml files in the outbox folder; and the report/outbox commands."""

from __future__ import annotations

import email
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from click.testing import Result
from report_fixtures import make_database, populate_example
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
    with sessions() as session:
        assert {row.status for row in session.scalars(select(Outbox))} == {"sent"}
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
    assert "queued 3 message(s)" in sent.stderr and "3 written as .eml" in sent.stderr
    assert len(list((tmp_path / "data" / "outbox").glob("*.eml"))) == 3
    listing = run_cli("outbox", "list", "--format", "json", db=db)
    rows = json.loads(listing.stdout)["outbox"]
    assert len(rows) == 3 and {row["status"] for row in rows} == {"sent"}
    again = run_cli("report", "--send", db=db)
    assert again.exit_code == 0 and "nothing to send" in again.stderr
    table = run_cli("outbox", "list", db=db)
    assert table.exit_code == 0 and "lead@agency.example" in table.stdout
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
