"""Database state for the report and mail tests, built through the real models (no crawler needed).

``populate_example()`` is the realistic example used by the tests and by ``docs/make_screenshot.py``:
three sellers, changes of every severity, page events and a compliance finding.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from monitor.db import make_engine, make_session_factory, upgrade
from monitor.models import Body, Change, Event, Fetch, Page, Site, Snapshot, StatementRow


def make_database(path: Path) -> sessionmaker[Session]:
    """A migrated SQLite file and its session factory."""
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    return make_session_factory(engine)


def add_site(session: Session, name: str, recipients: Sequence[str] = ()) -> Site:
    site = Site(name=name, start_urls=[f"https://{name}.example/"], allow=[], recipients=list(recipients))
    session.add(site)
    session.flush()
    return site


def add_page(session: Session, site: Site, url: str, *, when: datetime, state: str = "active") -> Page:
    page = Page(site_id=site.id, url=url, first_seen=when, last_seen=when, state=state)
    session.add(page)
    session.flush()
    return page


def add_snapshot(session: Session, page: Page, *, when: datetime, statements: Sequence[tuple[str, str, str]] = (),
                 findings: Sequence[dict[str, Any]] = (), screenshot: str | None = None,
                 warc: str | None = None) -> Snapshot:
    """A fetch (with its body) and the snapshot it produced; ``statements`` are (kind, type, text)."""
    raw = f"<html><body>{page.url} at {when.isoformat()}</body></html>".encode()
    sha = hashlib.sha256(raw).hexdigest()
    if session.get(Body, sha) is None:
        session.add(Body(sha256=sha, size=len(raw), data=zlib.compress(raw)))
    fetch = Fetch(page_id=page.id, fetched_at=when, final_url=page.url, status=200, outcome="changed",
                  content_type="text/html", sha256=sha, bytes=len(raw), elapsed_ms=42,
                  warc_path=warc, warc_offset=1234 if warc else None)
    session.add(fetch)
    session.flush()
    snapshot = Snapshot(page_id=page.id, fetch_id=fetch.id, created_at=when, fingerprint=sha,
                        statements_hash=sha, text="\n".join(t for _, _, t in statements),
                        extractor_version="test", findings=list(findings), screenshot_sha256=screenshot)
    session.add(snapshot)
    session.flush()
    for position, (kind, type_, text) in enumerate(statements):
        session.add(StatementRow(snapshot_id=snapshot.id, position=position, kind=kind, type=type_, text=text,
                                 key=text.lower(), attributes={}, severity="low", matched=[]))
    page.current_snapshot_id = snapshot.id
    session.flush()
    return snapshot


def add_change(session: Session, page: Page, before: Snapshot | None, after: Snapshot | None, *,
               when: datetime, change: str, kind: str, type: str, severity: str, before_text: str | None = None,
               after_text: str | None = None, delta: dict[str, Any] | None = None,
               inline: Sequence[tuple[str, str]] = (), before_type: str | None = None) -> Change:
    row = Change(page_id=page.id, site_id=page.site_id, before_snapshot_id=before.id if before else None,
                 after_snapshot_id=after.id if after else None, change=change, kind=kind, type=type,
                 before_type=before_type, before=before_text, after=after_text, severity=severity,
                 delta=delta or {}, inline=[list(part) for part in inline], detected_at=when)
    session.add(row)
    session.flush()
    return row


def add_event(session: Session, page: Page, event: str, detail: str, *, when: datetime) -> Event:
    row = Event(page_id=page.id, site_id=page.site_id, event=event, detail=detail, at=when)
    session.add(row)
    session.flush()
    return row


@dataclass
class Example:
    now: datetime
    since: datetime
    change_ids: dict[str, int]
    event_ids: dict[str, int]


SHA_SCREENSHOT = "9f2c4e1a7b3d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8"


def populate_example(session: Session, now: datetime) -> Example:
    """Three sellers with a day of realistic changes; recipients: ana (vitalroots), ben (nightcalm-labs),
    nobody for purejoint (the default recipients get it)."""
    since = now - timedelta(days=1)
    old, new = now - timedelta(days=3), now - timedelta(hours=5)
    changes: dict[str, int] = {}
    events: dict[str, int] = {}

    vital = add_site(session, "vitalroots", ["ana@agency.example"])
    night = add_site(session, "nightcalm-labs", ["ben@agency.example"])
    pure = add_site(session, "purejoint")

    joint = add_page(session, vital, "https://vitalroots.example/products/joint-flex", when=old)
    j1 = add_snapshot(session, joint, when=old, statements=[
        ("guarantee", "money_back", "Try it for 90 days: full refund, no questions asked."),
        ("claim", "structure_function", "Supports comfortable joints after workouts."),
        ("disclaimer", "fda", "These statements have not been evaluated by the Food and Drug Administration."),
    ])
    j2 = add_snapshot(session, joint, when=new, statements=[
        ("guarantee", "money_back", "Try it for 30 days: refund less shipping."),
        ("claim", "structure_function", "Supports comfortable joints after workouts."),
        ("claim", "disease", "Shrinks arthritis flare-ups in a week."),
    ], findings=[{"code": "sf_claim_without_dshea", "severity": "high", "positions": [1],
                  "detail": "Structure/function claim with no DSHEA disclaimer on the page"}],
        screenshot=SHA_SCREENSHOT, warc="warc/vitalroots-20240501.warc.gz")
    changes["guarantee"] = add_change(
        session, joint, j1, j2, when=new, change="modified", kind="guarantee", type="money_back",
        severity="medium", before_text="Try it for 90 days: full refund, no questions asked.",
        after_text="Try it for 30 days: refund less shipping.",
        delta={"days": [90, 30], "refund": ["full", "partial"], "conditions_added": ["less shipping"],
               "conditions_removed": ["no questions asked"], "worse": ["shortened", "refund_cut",
                                                                       "conditions_added"], "better": []},
        inline=[("equal", "Try it for"), ("delete", "90"), ("insert", "30"), ("equal", "days:"),
                ("delete", "full refund, no questions asked."), ("insert", "refund less shipping.")],
    ).id
    changes["disease"] = add_change(
        session, joint, j1, j2, when=new, change="added", kind="claim", type="disease", severity="high",
        after_text="Shrinks arthritis flare-ups in a week.", delta={"terms": ["arthritis"]},
    ).id
    changes["dshea"] = add_change(
        session, joint, j1, j2, when=new, change="removed", kind="disclaimer", type="fda", severity="high",
        before_text="These statements have not been evaluated by the Food and Drug Administration.",
        delta={"reasons": ["dshea_removed_with_structure_function_claims"]},
    ).id

    calm = add_page(session, night, "https://nightcalm-labs.example/products/night-calm", when=old)
    c1 = add_snapshot(session, calm, when=old)
    c2 = add_snapshot(session, calm, when=new + timedelta(minutes=30))
    changes["clinical"] = add_change(
        session, calm, c1, c2, when=new + timedelta(minutes=30), change="modified", kind="claim",
        type="clinical", severity="medium", before_text="Studies suggest magnesium supports restful sleep.",
        after_text="Clinically proven to double your deep sleep in 7 nights.",
        inline=[("delete", "Studies suggest magnesium supports restful sleep."),
                ("insert", "Clinically proven to double your deep sleep in 7 nights.")],
        before_type="structure_function", delta={"type": ["structure_function", "clinical"]},
    ).id
    changes["authority"] = add_change(
        session, calm, c1, c2, when=new + timedelta(minutes=30), change="added", kind="claim",
        type="authority", severity="high", after_text="Made in an FDA-approved facility.",
    ).id
    offer = add_page(session, night, "https://nightcalm-labs.example/pages/spring-offer", when=old, state="gone")
    events["gone"] = add_event(session, offer, "gone", "HTTP 404 on 2 consecutive fetches",
                               when=new + timedelta(minutes=31)).id

    pure_home = add_page(session, pure, "https://purejoint.example/", when=old)
    p1 = add_snapshot(session, pure_home, when=old)
    p2 = add_snapshot(session, pure_home, when=new + timedelta(hours=1))
    changes["social"] = add_change(
        session, pure_home, p1, p2, when=new + timedelta(hours=1), change="added", kind="claim",
        type="social_proof", severity="low", after_text="Over 3 million bottles sold since 2009.",
    ).id
    changes["cure_removed"] = add_change(
        session, pure_home, p1, p2, when=new + timedelta(hours=1), change="removed", kind="claim",
        type="disease", severity="low", before_text="Reverses osteoporosis naturally.",
    ).id
    faq = add_page(session, pure, "https://purejoint.example/pages/faq", when=old, state="error")
    events["error"] = add_event(session, faq, "error", "connection refused on 2 consecutive fetches",
                                when=new + timedelta(hours=1)).id
    return Example(now=now, since=since, change_ids=changes, event_ids=events)


def populate_many(session: Session, now: datetime, *, changes: int, sellers: int = 6,
                  recipients: Sequence[str] = ()) -> datetime:
    """A busy period: ``changes`` guarantee changes spread over ``sellers`` sellers (one page each per 4
    changes), severities cycling high, medium, low, info, and one page event per seller. Returns the start
    of the period."""
    since = now - timedelta(days=1)
    sites = [add_site(session, f"seller-{n:03d}", recipients) for n in range(sellers)]
    pages: dict[tuple[int, int], tuple[Page, Snapshot, Snapshot]] = {}
    for n in range(changes):
        site = sites[n % sellers]
        key = (site.id, n // (4 * sellers))
        if key not in pages:
            page = add_page(session, site, f"https://{site.name}.example/products/item-{key[1]}",
                            when=since - timedelta(days=1))
            pages[key] = (page, add_snapshot(session, page, when=since - timedelta(days=1)),
                          add_snapshot(session, page, when=since + timedelta(hours=1)))
        page, before, after = pages[key]
        add_change(session, page, before, after, when=since + timedelta(hours=1, seconds=n), change="modified",
                   kind="guarantee", type="money_back", severity=("high", "medium", "low", "info")[n % 4],
                   before_text=f"Try it for 90 days: full refund (offer {n}).",
                   after_text=f"Try it for 30 days: refund less shipping (offer {n}).",
                   delta={"days": [90, 30]},
                   inline=[("equal", "Try it for"), ("delete", "90"), ("insert", "30"),
                           ("equal", f"days (offer {n}).")])
    for site in sites:
        gone = add_page(session, site, f"https://{site.name}.example/pages/old-offer", when=since, state="gone")
        add_event(session, gone, "gone", "HTTP 404 on 2 consecutive fetches", when=since + timedelta(hours=2))
    return since
