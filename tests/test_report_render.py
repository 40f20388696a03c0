"""Report content: grouping, summary, subject, plain deltas, evidence, filters, and hostile text made inert."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from report_fixtures import add_change, add_event, add_page, add_site, add_snapshot, populate_example, populate_many
from sqlalchemy.orm import Session, sessionmaker

from monitor.models import Change
from monitor.report import (
    MAIL_HTML_LIMIT,
    build_report,
    describe_delta,
    mailed_size,
    render_report,
    report_subject,
    restrict_report,
    templates_dir,
)


def example(sessions: sessionmaker[Session]) -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        populate_example(session, now)
    return now - timedelta(days=1), now


def test_groups_severity_then_seller_then_page(sessions: sessionmaker[Session]) -> None:
    since, until = example(sessions)
    with sessions() as session:
        ctx = build_report(session, since=since, until=until)
    assert [g.severity for g in ctx.groups] == ["high", "medium", "low"]
    high = ctx.groups[0]
    assert [s.site for s in high.sellers] == ["nightcalm-labs", "vitalroots"]
    assert high.count == 3
    assert [p.url for p in high.sellers[1].pages] == ["https://vitalroots.example/products/joint-flex"]
    assert dict(ctx.by_severity) == {"high": 3, "medium": 2, "low": 2, "info": 0}
    sellers = {s.site: (dict(s.counts), s.events) for s in ctx.by_seller}
    assert sellers["vitalroots"] == ({"high": 2, "medium": 1, "low": 0, "info": 0}, 0)
    assert sellers["purejoint"][1] == 1
    assert ctx.seller_count == 3
    assert report_subject(ctx) == "[claimwatch] 3 high, 2 medium, 2 low changes at 3 sellers; 2 page events"


def test_change_items_carry_deltas_inline_and_evidence(sessions: sessionmaker[Session]) -> None:
    since, until = example(sessions)
    with sessions() as session:
        ctx = build_report(session, since=since, until=until)
    guarantee = next(c for c in ctx.changes if c.type == "money_back")
    assert guarantee.delta == ("90 -> 30 days", "refund full -> partial", "conditions added: less shipping",
                               "conditions removed: no questions asked")
    assert ("delete", "90") in guarantee.before_parts and ("insert", "30") in guarantee.after_parts
    assert all(op != "insert" for op, _ in guarantee.before_parts)
    ev = guarantee.evidence
    assert ev.before_snapshot_id and ev.after_snapshot_id and ev.fetch_id and ev.fetched_at
    assert re.fullmatch(r"[0-9a-f]{64}", ev.sha256 or "")
    assert ev.screenshot and ev.warc == "warc/vitalroots-20240501.warc.gz#1234"
    clinical = next(c for c in ctx.changes if c.type == "clinical")
    assert clinical.badge == "claim / structure_function -> clinical"
    finding = ctx.findings[0]
    assert finding.code == "sf_claim_without_dshea" and finding.new
    assert finding.statements == ("Supports comfortable joints after workouts.",)
    assert [e.event for e in ctx.events] == ["gone", "error"]


def test_rendered_parts_show_the_same_report(sessions: sessionmaker[Session]) -> None:
    since, until = example(sessions)
    with sessions() as session:
        rendered = render_report(build_report(session, since=since, until=until))
    for part in (rendered.html, rendered.text):
        for needle in ("90 -&gt; 30 days" if part is rendered.html else "90 -> 30 days",
                       "refund full -", "conditions added: less shipping", "vitalroots", "nightcalm-labs",
                       "https://vitalroots.example/products/joint-flex", "Shrinks arthritis flare-ups in a week.",
                       "sf_claim_without_dshea", "HTTP 404 on 2 consecutive fetches"):
            assert needle in part, needle
    # the HTML marks removed and added words; the text part uses wdiff-style markers
    assert re.search(r"<del[^>]*>90</del>", rendered.html) and re.search(r"<ins[^>]*>30</ins>", rendered.html)
    assert "[-90-]" in rendered.text and "{+30+}" in rendered.text
    # order: high before medium before low, events and findings after the changes
    html = rendered.html[rendered.html.index("<body"):]
    assert html.index("3 high changes") < html.index("2 medium changes") < html.index("2 low changes")
    assert html.index("2 low changes") < html.index("Page events") < html.index("Compliance findings")


def test_html_is_email_ready(sessions: sessionmaker[Session]) -> None:
    since, until = example(sessions)
    with sessions() as session:
        html = render_report(build_report(session, since=since, until=until)).html
    assert "<style" not in html and "class=" in html  # CSS inlined: clients such as Gmail strip <style>
    assert 'style="' in html and "max-width: 700px" in html.replace("max-width:700px", "max-width: 700px")
    assert "<link" not in html and "@import" not in html and "url(" not in html
    srcs = re.findall(r"""\ssrc\s*=""", html)
    assert not srcs, "no external resources (images, scripts)"
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and all(h.startswith("https://") for h in hrefs)
    assert "<table" in html and 'name="color-scheme"' in html


def test_filters_sites_severity_period_and_unreported(sessions: sessionmaker[Session]) -> None:
    since, until = example(sessions)
    with sessions.begin() as session:
        only = build_report(session, since=since, until=until, sites=["vitalroots"], min_severity="medium")
        assert {c.site for c in only.changes} == {"vitalroots"} and len(only.changes) == 3
        assert only.events == () and only.sites == ("vitalroots",)
        high = build_report(session, since=since, until=until, min_severity="high")
        assert {c.severity for c in high.changes} == {"high"} and high.events == ()
        later = build_report(session, since=until - timedelta(hours=4, minutes=15), until=until)
        assert {c.site for c in later.changes} == {"purejoint"}
        session.get(Change, only.changes[0].id).reported_at = until  # type: ignore[union-attr]
    with sessions() as session:
        unreported = build_report(session, since=None, until=until, unreported_only=True)
        assert only.changes[0].id not in unreported.change_ids and len(unreported.changes) == 6
        with pytest.raises(ValueError, match="unknown site: nosuch"):
            build_report(session, since=None, until=until, sites=["nosuch"])
        with pytest.raises(ValueError, match="unknown severity"):
            build_report(session, since=None, until=until, min_severity="critical")


def test_restrict_recounts_for_one_recipient(sessions: sessionmaker[Session]) -> None:
    since, until = example(sessions)
    with sessions() as session:
        ctx = build_report(session, since=since, until=until)
    mine = restrict_report(ctx, ["nightcalm-labs"])
    assert {c.site for c in mine.changes} == {"nightcalm-labs"} and mine.seller_count == 1
    assert report_subject(mine) == "[claimwatch] 1 high, 1 medium changes at 1 seller; 1 page event"
    assert "vitalroots" not in render_report(mine).html


def test_empty_period_subject(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        ctx = build_report(session, since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 1, 2, tzinfo=UTC))
    assert ctx.is_empty
    rendered = render_report(ctx)
    assert rendered.subject == "[claimwatch] no changes 2026-01-01 00:00 UTC to 2026-01-02 00:00 UTC"
    assert "No changes and no page events" in rendered.html and "No changes and no page events" in rendered.text


@pytest.mark.parametrize(("delta", "expected"), [
    ({"days": [90, 30]}, ("90 -> 30 days",)),
    ({"days": [None, 60]}, ("no stated period -> 60 days",)),
    ({"lifetime": [True, False], "days": [None, 365]}, ("no stated period -> 365 days",
                                                         "lifetime guarantee dropped")),
    ({"refund": ["100%", "partial"]}, ("refund 100% -> partial",)),
    ({"conditions_added": ["less shipping", "restocking fee 15%"]},
     ("conditions added: less shipping, restocking fee 15%",)),
    ({"terms": ["cancer"], "serious_terms": ["cancer"], "serious": True},
     ("disease terms: cancer", "serious disease: cancer")),
    ({"verbatim": [True, False]}, ("DSHEA wording no longer verbatim",)),
    ({"reasons": ["dshea_removed_with_claims"], "worse": [], "better": []},
     ("DSHEA disclaimer removed while claims remain",)),
    ({}, ()),
])
def test_describe_delta(delta: dict[str, object], expected: tuple[str, ...]) -> None:
    assert describe_delta(delta) == expected


HOSTILE_TEXT = ('Buy now<script>alert("x")</script> <img src=x onerror="alert(1)"> '
                '<a href="javascript:alert(2)">click</a> & "quotes" \'too\' </td></table><b>bold</b>')
HOSTILE_URL = "javascript:alert(document.cookie)//<svg/onload=alert(3)>"
QUOTED_URL = 'https://evil.example/p?q="><script>alert(5)</script><a onclick="x'


class _Inventory(HTMLParser):
    """Every tag and attribute the browser would build from the HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend((name, value or "") for name, value in attrs)


def test_hostile_scraped_text_arrives_inert(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        site = add_site(session, "evil<script>seller", ["a@agency.example"])
        page = add_page(session, site, HOSTILE_URL, when=now)
        before = add_snapshot(session, page, when=now - timedelta(hours=2))
        after = add_snapshot(session, page, when=now - timedelta(hours=1), statements=[
            ("claim", "disease", HOSTILE_TEXT)], findings=[{
                "code": "<script>x</script>", "severity": "high", "detail": HOSTILE_TEXT, "positions": [0]}])
        add_change(session, page, before, after, when=now - timedelta(hours=1), change="modified", kind="claim",
                   type="disease", severity="high", before_text="Safe text", after_text=HOSTILE_TEXT,
                   inline=[("delete", "Safe text"), ("insert", HOSTILE_TEXT)],
                   delta={"terms": ['<img src=x onerror="alert(4)">'], "conditions_added": ["<script>c</script>"]})
        add_change(session, page, before, after, when=now - timedelta(hours=1), change="added", kind="claim",
                   type="efficacy", severity="medium", after_text=HOSTILE_TEXT)
        add_event(session, page, "moved", f"moved to {HOSTILE_URL} {HOSTILE_TEXT}", when=now - timedelta(minutes=5))
        quoted = add_page(session, site, QUOTED_URL, when=now)
        add_event(session, quoted, "gone", "HTTP 410", when=now - timedelta(minutes=4))
    with sessions() as session:
        rendered = render_report(build_report(session, since=None, until=now))

    inventory = _Inventory()
    inventory.feed(rendered.html)
    assert "script" not in inventory.tags and "img" not in inventory.tags and "svg" not in inventory.tags
    assert not [name for name, _ in inventory.attrs if name.startswith("on")]
    assert not [value for name, value in inventory.attrs if name in ("href", "src") and
                value.strip().lower().startswith(("javascript:", "data:", "x"))]
    assert "&lt;b&gt;bold&lt;/b&gt;" in rendered.html  # scraped markup is text, not markup
    assert "Buy now&lt;script&gt;alert(" in rendered.html
    # an http(s) URL stays a link, its quotes cannot end the attribute
    assert ("href", QUOTED_URL) in inventory.attrs
    assert rendered.html.count("</table>") == rendered.html.count("<table")  # no layout break-out
    # the plain-text part shows the scraped text as it was written (text/plain is never interpreted)
    assert HOSTILE_TEXT in rendered.text and "&lt;" not in rendered.text and "&amp;" not in rendered.text


def test_templates_are_found_next_to_the_package() -> None:
    folder = templates_dir()
    assert (folder / "report.html").is_file() and (folder / "report.txt").is_file()
    assert folder.name == "templates" and (folder.parent / "monitor").is_dir()


def test_a_report_too_large_for_gmail_is_abridged_to_the_most_severe_changes(
        sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        since = populate_many(session, now, changes=400, sellers=5)
    with sessions() as session:
        ctx = build_report(session, since=since, until=now)
    full = render_report(ctx)
    assert len(full.html.encode()) > MAIL_HTML_LIMIT and "abridged" not in full.text  # the premise
    mailed = render_report(ctx, max_html_bytes=MAIL_HTML_LIMIT)

    assert mailed_size(mailed.html) <= MAIL_HTML_LIMIT
    assert mailed.subject == full.subject == "[claimwatch] 100 high, 100 medium, 100 low, 100 info changes at 5 " \
                                             "sellers; 5 page events"
    note = mailed.extra["abridged"]
    assert (note.changes, note.sellers_shown, note.sellers, note.events) == (400, 5, 5, 5)
    assert 10 <= note.changes_shown < 100, note  # as many as fit, and all of them high
    command = f"claimwatch report --since {since.strftime('%Y-%m-%dT%H:%M:%SZ')} --out report.html"
    assert note.command == command
    for part in (mailed.html, mailed.text):
        # the most severe changes, oldest first: offers 0, 4, 8 ... are the high ones
        listed = {int(n) for n in re.findall(r"\(offer (\d+)\)", part)}
        assert listed == set(range(0, 4 * note.changes_shown, 4)), sorted(listed)
        assert f"lists the {note.changes_shown} most severe of 400 changes" in " ".join(part.split())
        assert "page events and compliance findings are left out" in " ".join(part.split())
        assert command in part
        assert "Page events" not in part and "PAGE EVENTS" not in part
    # the summary still counts every change of every seller
    for seller in range(5):
        row = re.search(rf"<td[^>]*>seller-{seller:03d}</td>(.*?)</tr>", mailed.html, re.S)
        assert row, seller
        assert [re.sub(r"<[^>]+>", "", badge) for badge in re.findall(r"<span[^>]*>\d+ [A-Z]+</span>", row[1])] \
            == ["20 HIGH", "20 MEDIUM", "20 LOW", "20 INFO"]
        assert f"seller-{seller:03d}: 20 high, 20 medium, 20 low, 20 info; 1 event" in mailed.text


def test_a_report_with_too_many_sellers_keeps_the_most_severe_rows(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        since = populate_many(session, now, changes=400, sellers=400)
    with sessions() as session:
        ctx = build_report(session, since=since, until=now)
    mailed = render_report(ctx, max_html_bytes=MAIL_HTML_LIMIT)
    assert mailed_size(mailed.html) <= MAIL_HTML_LIMIT
    note = mailed.extra["abridged"]
    assert 0 < note.sellers_shown < 400 and note.sellers == 400
    assert f"and {note.sellers_shown} of 400 sellers above" in " ".join(mailed.text.split())
    shown = re.findall(r"^  (seller-\d+): ", mailed.text, re.M)
    assert len(shown) == note.sellers_shown
    # seller n's one change has severity n % 4 (0 is high): the most severe sellers are kept
    worst_first = sorted(range(400), key=lambda n: (n % 4, n))
    assert sorted(int(name.split("-")[1]) for name in shown) == sorted(worst_first[:len(shown)])


def test_a_report_that_fits_is_not_abridged(sessions: sessionmaker[Session]) -> None:
    since, until = example(sessions)
    with sessions() as session:
        ctx = build_report(session, since=since, until=until)
    assert render_report(ctx, max_html_bytes=MAIL_HTML_LIMIT) == render_report(ctx)
