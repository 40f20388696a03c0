"""The inbox and triage through the web app (real SQLite and PostgreSQL): filters, acknowledge, escalate
with a note, reopen, bulk acknowledge, mutes kept out of digests, and the triage state in the JSON export
and the reports' links."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from report_fixtures import add_change, add_snapshot, populate_example
from sqlalchemy import select
from webkit import fast_hashing, make_web_app, post  # noqa: F401

from monitor.config import load_settings
from monitor.mail import queue_reports
from monitor.models import AuditEntry, Change, Page, Snapshot, StatementMute, StatementRow, Triage
from monitor.report import build_report, render_report


def _shown(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<article class="change" id="change-(\d+)"', html)]


def _populated(request, db_url, tmp_path):
    web = make_web_app(db_url, tmp_path / "data", request)
    with web.sessions.begin() as session:
        example = populate_example(session, datetime.now(UTC))
    return web, example


def test_inbox_filters_and_triage(request, db_url, tmp_path, run_cli):
    web, example = _populated(request, db_url, tmp_path)
    ids = example.change_ids
    analyst = web.client("analyst")
    shown = _shown(analyst.get("/inbox").text)
    assert sorted(shown) == sorted(ids.values())
    assert shown[0] in (ids["social"], ids["cure_removed"])  # newest first
    assert _shown(analyst.get("/inbox?site=purejoint").text) == sorted([ids["social"], ids["cure_removed"]],
                                                                       reverse=True)
    assert set(_shown(analyst.get("/inbox?severity=high").text)) == {ids["disease"], ids["dshea"], ids["authority"]}
    assert _shown(analyst.get("/inbox?kind=guarantee").text) == [ids["guarantee"]]
    assert _shown(analyst.get("/inbox?severity=bogus&kind=<script>").text)  # unknown values are dropped
    page = analyst.get(f"/changes/{ids['guarantee']}").text
    assert '<del class="del">90</del>' in page and '<ins class="ins">30</ins>' in page and "90 -&gt; 30 days" in page

    assert post(analyst, f"/changes/{ids['guarantee']}/triage", {"action": "acknowledged"}).status_code == 302
    refused = post(analyst, f"/changes/{ids['disease']}/triage", {"action": "escalated", "note": "  "})
    assert refused.status_code == 302
    assert "an escalation needs a note" in analyst.get("/inbox").text
    post(analyst, f"/changes/{ids['disease']}/triage", {"action": "escalated", "note": "cure claim: to legal"})
    inbox = _shown(analyst.get("/inbox").text)
    assert ids["guarantee"] not in inbox and ids["disease"] not in inbox
    assert _shown(analyst.get("/inbox?state=escalated").text) == [ids["disease"]]
    assert "cure claim: to legal" in analyst.get(f"/changes/{ids['disease']}").text
    post(analyst, f"/changes/{ids['guarantee']}/triage", {"action": "reopen"})
    assert ids["guarantee"] in _shown(analyst.get("/inbox").text)

    gone = example.event_ids["gone"]
    response = post(analyst, "/inbox/acknowledge", {"item": [f"change:{ids['social']}", f"event:{gone}",
                                                             "change:999999", "bogus"], "next": "/inbox"})
    assert response.status_code == 302 and response.headers["Location"] == "/inbox"
    inbox_html = analyst.get("/inbox").text
    assert "acknowledged 2 items" in inbox_html and ids["social"] not in _shown(inbox_html)
    assert f'id="event-{gone}"' not in inbox_html
    with web.sessions() as session:
        states = {(t.change_id, t.event_id): (t.state, t.actor) for t in session.scalars(select(Triage))}
        audit = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.actor == "analyst"))]
    assert states[(ids["disease"], None)] == ("escalated", "analyst")
    assert states[(None, gone)] == ("acknowledged", "analyst")
    assert audit.count("triage.ack") == 3 and audit.count("triage.esc") == 1 and "triage.reopen" in audit

    document = json.loads(run_cli("changes", "--format", "json", db=db_url).stdout)
    by_id = {item["id"]: item for item in document["changes"]}
    assert by_id[ids["disease"]]["triage"]["state"] == "escalated"
    assert by_id[ids["disease"]]["triage"]["note"] == "cure claim: to legal"
    assert by_id[ids["disease"]]["triage"]["by"] == "analyst"
    assert by_id[ids["guarantee"]]["triage"] is None
    assert {e["id"]: e["triage"] for e in document["events"]}[gone]["state"] == "acknowledged"

    ctx = build_report(web.sessions(), since=None, until=datetime.now(UTC) + timedelta(seconds=1),
                       web_url="https://claimwatch.agency.example/")
    rendered = render_report(ctx)
    assert f'href="https://claimwatch.agency.example/changes/{ids["disease"]}"' in rendered.html
    assert "triage: escalated by analyst" in rendered.html and "triage: escalated by analyst" in rendered.text


def test_a_muted_statement_is_kept_and_shown_but_not_mailed(request, sqlite_url, tmp_path):
    db_url = sqlite_url
    web, example = _populated(request, db_url, tmp_path)
    analyst = web.client("analyst")
    social = example.change_ids["social"]
    text = "Over 3 million bottles sold since 2009."
    with web.sessions.begin() as session:  # the statement as the snapshot after the change holds it
        snapshot = session.get(Snapshot, session.get(Change, social).after_snapshot_id)
        session.add(StatementRow(snapshot_id=snapshot.id, position=0, kind="claim", type="social_proof", text=text,
                                 key=text.lower(), attributes={}, severity="low", matched=[]))
    assert post(analyst, f"/changes/{social}/mute", {"note": "brand boilerplate"}).status_code == 302
    with web.sessions.begin() as session:
        mute = session.scalars(select(StatementMute)).one()
        assert mute.text == text and mute.actor == "analyst" and mute.note == "brand boilerplate"
        page = session.get(Page, mute.page_id)
        later = datetime.now(UTC)  # detected while the mute stands
        after = add_snapshot(session, page, when=later, statements=[
            ("claim", "social_proof", "Over 4 million bottles sold since 2009.")])
        muted_change = add_change(session, page, snapshot, after, when=later, change="modified",
                                  kind="claim", type="social_proof", severity="low", before_text=text,
                                  after_text="Over 4 million bottles sold since 2009.").id
    assert "muted statement" in analyst.get(f"/changes/{muted_change}").text
    assert muted_change in _shown(analyst.get("/inbox").text)  # kept and shown
    settings = load_settings({"CLAIMWATCH_DATA": str(tmp_path / "data"), "CLAIMWATCH_RECIPIENTS": "desk@agency.example"},
                             db_url=db_url)
    with web.sessions.begin() as session:
        queue_reports(session, settings, since=None, until=datetime.now(UTC) + timedelta(minutes=5))
    with web.sessions() as session:
        reported = {c.id: c.reported_at for c in session.scalars(select(Change))}
    assert reported[muted_change] is None and reported[social] is None  # never mailed
    assert all(at is not None for cid, at in reported.items() if cid not in (muted_change, social))
    with web.sessions() as session:
        mute_id = session.scalars(select(StatementMute.id)).one()
    assert post(analyst, f"/mutes/{mute_id}/lift").status_code == 302
    with web.sessions.begin() as session:
        queue_reports(session, settings, since=None, until=datetime.now(UTC) + timedelta(minutes=5))
    with web.sessions() as session:
        assert session.get(Change, social).reported_at is not None  # detected before the mute: mailed now
        assert session.get(Change, muted_change).reported_at is None  # detected while muted: never mailed
