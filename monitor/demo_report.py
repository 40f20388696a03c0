"""The end of `claimwatch demo`: the report as an HTML file and as the email an analyst would receive.

The demo never talks to a real mail server, whatever the environment says: its digests go through the
outbox as ``.eml`` files (the no-SMTP path), so the demo shows exactly what would be sent.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings, SmtpSettings
from monitor.mail import deliver_outbox, queue_reports
from monitor.models import utcnow
from monitor.report import build_report, render_report

#: Who receives the demo's digest when neither the demo sites nor CLAIMWATCH_RECIPIENTS name anyone.
DEMO_RECIPIENT = "analyst@agency.example"


def write_demo_reports(sessions: sessionmaker[Session], settings: Settings, folder: Path) -> dict[str, Path]:
    """Write ``report.html`` and ``report.txt`` into ``folder`` and queue + deliver the digests as .eml files.

    Returns labelled paths for the demo to print.
    """
    mail_settings = replace(settings, smtp=SmtpSettings(), recipients=settings.recipients or (DEMO_RECIPIENT,))
    until = utcnow()
    files: dict[str, Path] = {}
    with sessions.begin() as session:
        rendered = render_report(build_report(session, since=None, until=until))
        queue_reports(session, mail_settings, since=None, until=until, min_severity="info")
    files["report (HTML)"] = folder / "report.html"
    files["report (HTML)"].write_text(rendered.html, encoding="utf-8")
    files["report (text)"] = folder / "report.txt"
    files["report (text)"].write_text(rendered.text, encoding="utf-8")
    result = deliver_outbox(sessions, mail_settings)
    for number, path in enumerate(result.written, start=1):
        files["email (.eml)" if number == 1 else f"email {number} (.eml)"] = path
    return files
