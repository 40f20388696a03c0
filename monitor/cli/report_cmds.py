"""`claimwatch report` and `claimwatch outbox list|retry`: thin commands over monitor.report and monitor.mail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from monitor.cli.app import App, fail, parse_since, pass_app
from monitor.config import Settings
from monitor.mail import (
    STATUSES,
    DeliveryResult,
    MailError,
    deliver_outbox,
    list_outbox,
    outbox_counts,
    queue_reports,
    release_stuck,
    retry_outbox,
)
from monitor.models import utcnow
from monitor.report import build_report, render_report
from monitor.statements import SEVERITIES
from monitor.terminal import for_terminal, one_line


def _write(text: str, out: Path | None) -> None:
    if out is None:
        text = for_terminal(text)  # page text must not drive the analyst's terminal
        click.echo(text, nl=not text.endswith("\n"))
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    click.echo(f"wrote {out}", err=True)


def _deliver(app: App, settings: Settings) -> DeliveryResult:
    try:
        result = deliver_outbox(app.sessions(), settings)
    except MailError as exc:
        fail(str(exc))
    where = f"SMTP {settings.smtp.host}:{settings.smtp.port}" if settings.smtp.host else str(settings.outbox_dir)
    click.echo(f"outbox: {result} ({where})", err=True)
    for path in result.written:
        click.echo(f"wrote {path}", err=True)
    return result


def _check(result: DeliveryResult) -> None:
    """Exit 1 with one line when a message was not delivered or may not have been."""
    if result.unknown:
        fail(f"delivery unknown: {result.unknown[-1][1]}; the server may have the message, so it is not re-sent "
             "automatically: check the recipient's mailbox, then `claimwatch outbox retry --unknown` to send it "
             "again (same Message-ID)")
    if result.failed or result.left:
        fail(f"delivery failed: {result.failed[-1][1] if result.failed else 'not attempted'}; the messages "
             "stay pending (retry with `claimwatch outbox retry`)")


@click.command("report")
@click.option("--since", default=None, metavar="ISO",
              help="Changes detected at or after this ISO date/time (UTC), reported or not. "
                   "Default: the changes no digest has reported yet.")
@click.option("--site", "sites", multiple=True, metavar="NAME", help="Only this site (repeatable).")
@click.option("--min-severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              help="Leave out milder changes, events and findings.")
@click.option("--format", "fmt", type=click.Choice(["html", "text"]), default="html", show_default=True,
              help="What --out or stdout receives: the HTML part or the plain-text part.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE.html",
              help="Write the report to a file instead of stdout.")
@click.option("--send", is_flag=True,
              help="Queue one digest per recipient (each lists only that recipient's sites), mark the changes "
                   "reported, and deliver: SMTP when CLAIMWATCH_SMTP_HOST is set, else .eml files in the "
                   "outbox folder.")
@pass_app
def report_command(app: App, since: str | None, sites: tuple[str, ...], min_severity: str, fmt: str,
                   out: Path | None, send: bool) -> None:
    """Render the change report (HTML email and plain text), or send it as digests with --send.

    Without --send nothing is marked: the report is a preview, written to --out or stdout. With --send
    the not-yet-reported changes and events are queued in the outbox and marked reported in the same
    transaction, then delivered; exit status 1 when delivery failed (the message stays pending and is
    retried by `claimwatch outbox retry` or the daemon).

    \b
    Example:
      claimwatch report --since 2026-11-01 --min-severity medium --out report.html
      claimwatch report --site example-seller --send
    """
    settings = app.settings
    moment = parse_since(since)
    until = utcnow()
    sessions = app.sessions(sites=sites)
    try:
        with sessions.begin() as session:
            ctx = build_report(session, since=moment, until=until, sites=sites or None,
                               min_severity=min_severity, unreported_only=send or moment is None,
                               kind="digest" if send else "report")
            rendered = render_report(ctx)
            queued = queue_reports(session, settings, since=moment, until=until, min_severity=min_severity,
                                   sites=sites or None) if send else []
    except (ValueError, MailError) as exc:
        fail(str(exc))
    if out is not None or not send:
        _write(rendered.html if fmt == "html" else rendered.text, out)
    if not send:
        click.echo(f"{rendered.subject} (preview; nothing marked reported)", err=True)
        return
    if not queued:
        click.echo("nothing to send: no unreported changes or events for any recipient"
                   + ("" if settings.recipients else " (no CLAIMWATCH_RECIPIENTS; do the sites have recipients?)"),
                   err=True)
    else:
        click.echo(f"queued {len(queued)} message(s): " + ", ".join(
            f"{row.recipients[0]}" for row in queued), err=True)
    _check(_deliver(app, settings))


@click.group("outbox")
def outbox_group() -> None:
    """The outbox: every message claimwatch sends, with its status, attempts and last error.

    \b
    Example:
      claimwatch outbox list --status pending
      claimwatch outbox retry
    """


@outbox_group.command("list")
@click.option("--status", type=click.Choice(STATUSES), default=None,
              help="Only rows with this status: pending, sending, sent (accepted by the SMTP server), written "
                   "(an .eml file in the outbox folder), unknown (transmitted, but the server's reply was lost: "
                   "it may have arrived), failed.")
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True, help="Newest rows shown.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_app
def outbox_list(app: App, status: str | None, limit: int, fmt: str) -> None:
    """List outbox messages, newest first, with their status.

    `sent` means the SMTP server accepted the message; `written` that it was written as an .eml file (no
    SMTP server configured); `unknown` that it was transmitted but the server's reply was lost, so it may or
    may not have arrived (re-send it with `claimwatch outbox retry --unknown`).

    \b
    Example:
      claimwatch outbox list --status failed --format json
    """
    with app.sessions().begin() as session:
        rows: list[dict[str, Any]] = [
            {"id": row.id, "status": row.status, "kind": row.kind, "attempts": row.attempts,
             "created_at": row.created_at.isoformat(),
             "next_attempt_at": row.next_attempt_at.isoformat() if row.next_attempt_at else None,
             "sent_at": row.sent_at.isoformat() if row.sent_at else None, "recipients": list(row.recipients),
             "subject": row.subject, "message_id": row.message_id, "last_error": row.last_error}
            for row in list_outbox(session, status=status, limit=limit)
        ]
    if fmt == "json":
        click.echo(json.dumps({"outbox": rows}, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("the outbox is empty" if status is None else f"no {status} messages", err=True)
        return
    click.echo(f"{'id':>5}  {'status':<8} {'kind':<7} {'tries':>5}  {'created':<16}  {'next/sent':<16}  "
               "recipients / subject")
    for row in rows:
        moment = row["sent_at"] or row["next_attempt_at"]
        click.echo(f"{row['id']:>5}  {row['status']:<8} {row['kind']:<7} {row['attempts']:>5}  "
                   f"{str(row['created_at'])[:16].replace('T', ' '):<16}  "
                   f"{str(moment or '-')[:16].replace('T', ' '):<16}  {one_line(', '.join(row['recipients']))}: "
                   f"{one_line(row['subject'])}")
        if row["last_error"] and row["status"] not in ("sent", "written"):
            click.echo(f"{'':>7}last error: {one_line(row['last_error'])}")


@outbox_group.command("retry")
@click.option("--unknown", is_flag=True,
              help="Also re-send messages whose delivery is unknown (transmitted, but the server's reply was "
                   "lost). They may already be in the mailbox: the copy has the same Message-ID, Date and "
                   "content, so clients that collapse duplicates show it once.")
@click.option("--stuck", is_flag=True,
              help="Also release messages left 'sending' by a crashed process for 30 minutes or more. "
                   "Such a message may already have been delivered: it can arrive twice.")
@pass_app
def outbox_retry(app: App, unknown: bool, stuck: bool) -> None:
    """Make pending and failed messages due now and deliver them.

    Messages whose delivery is unknown are left alone unless --unknown is given: claimwatch never sends a
    message twice on its own.

    \b
    Example:
      claimwatch outbox retry
      claimwatch outbox retry --unknown
    """
    with app.sessions().begin() as session:
        released = release_stuck(session) if stuck else 0
        touched = retry_outbox(session, unknown=unknown)
        waiting = 0 if unknown else outbox_counts(session).get("unknown", 0)
    if released:
        click.echo(f"released {released} stuck message(s)", err=True)
    if waiting:
        click.echo(f"left {waiting} message(s) whose delivery is unknown (they may have arrived; "
                   "`claimwatch outbox retry --unknown` sends them again)", err=True)
    if not touched:
        click.echo("no pending or failed messages", err=True)
        return
    _check(_deliver(app, app.settings))


def register(group: click.Group) -> None:
    group.add_command(report_command)
    group.add_command(outbox_group)
