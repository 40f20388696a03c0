"""What happened to a page on one fetch (``monitor.history``): every transition, as tables.

Each case is a page row as read (``PageRecord``), one fetch as observed (``Observation``) and what the
decision must say: the outcome, the fetch row's outcome, the events, the snapshot step, what to compare a
new snapshot with, and the page columns afterwards. No database: the decision is a pure function.
"""

from __future__ import annotations

import doctest
import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor import history, outage
from monitor.history import (
    Comparison,
    Content,
    Decision,
    EventKind,
    HistoryRules,
    Observation,
    Outcome,
    PageRecord,
    PageState,
    Response,
    Route,
    SnapshotRef,
    SnapshotStep,
    classify_response,
    compare_content,
    decide,
    move,
    route,
)
from monitor.outage import OutageRules, PageSignals

URL = "https://shop.example/p"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
AT = T0 + timedelta(days=1)

#: a page with a history: snapshot 10 (fingerprint "f10"), validators of its last good fetch
PAGE = PageRecord(URL, id=1, snapshot=10, fingerprint="f10", first_seen=T0, last_seen=T0, etag='"e0"',
                  last_modified="Sun, 01 Mar 2026 06:00:00 GMT", last_sha256="s0")
NEW = PageRecord(URL, first_seen=AT, last_seen=AT)  # first seen on this fetch
MOVED_HERE = PageRecord(URL, first_seen=T0, last_seen=AT)  # made by a move: the page's history is older
ERRORED = replace(PAGE, state=PageState.ERROR, failures=2)
GONE = replace(PAGE, state=PageState.GONE, gone_count=2)
OFFSITE_MOVED = replace(PAGE, state=PageState.MOVED, moved_to="https://elsewhere.example/p")
PENDING = replace(PAGE, outage_fingerprint="blank", outage_seen=1)  # a suspected outage, seen once
CONFIRMED = replace(PAGE, snapshot=11, fingerprint="blank", outage_fingerprint="blank", outage_seen=2)
CHALLENGED = replace(PAGE, outage_fingerprint="challenge", outage_seen=1)

#: what the outage rules see (monitor.outage): the seller's page, an empty page, a bot challenge
REAL = PageSignals(b"<p>Supports joints. Now with zinc.</p>", "Supports joints. Now with zinc.",
                   before=frozenset({"supports joints"}), after=frozenset({"supports joints", "now with zinc"}))
FIRST = PageSignals(b"<p>Supports joints.</p>", "Supports joints.", before=None,
                    after=frozenset({"supports joints"}))
BLANK = PageSignals(b"", "", before=frozenset({"supports joints", "a", "b"}), after=frozenset())
CHALLENGE = PageSignals(b"<title>Just a moment...</title>", "Just a moment...",
                        before=frozenset({"supports joints", "a"}), after=frozenset())

RULES = HistoryRules()


def ok(content: Content = Content.SAME, fingerprint: str | None = None, *, signals: PageSignals | None = None,
       earlier: int | None = None, recent: tuple[int, ...] = (9, 8, 7)) -> Observation:
    """A 200 with new validators and SHA-256."""
    return Observation(Response.OK, AT, status=200, sha256="s1", etag='"e1"', last_modified=None, content=content,
                       fingerprint=fingerprint, earlier=earlier, recent=recent, signals=signals)


NOT_MODIFIED = Observation(Response.NOT_MODIFIED, AT, status=304)
SKIPPED = Observation(Response.SKIPPED, AT, status=200, error="not HTML: application/pdf", sha256="s2")
TIMEOUT = Observation(Response.FETCH_ERROR, AT, error="timed out after 30 s")
HTTP_503 = Observation(Response.HTTP_ERROR, AT, status=503)
HTTP_404 = Observation(Response.GONE, AT, status=404)
OFFSITE = Observation(Response.OFFSITE, AT, status=302, sha256="s3", target="https://elsewhere.example/p")
OFFSITE_OTHER = replace(OFFSITE, target="https://third.example/p")
ALIAS = Observation(Response.ALIAS, AT, status=200, sha256="s4", target="https://shop.example/q")
ALIAS_UNARCHIVED = replace(ALIAS, error="not archived: disk full")

E = EventKind
# (name, page, observation, rules, report_new_pages, expected): ``expected`` names the decision's fields
# (outcome, fetch, events, step, compare, fetch_sha256, fetch_error) and the page's columns afterwards
CASES: list[tuple[str, PageRecord, Observation, HistoryRules, bool, dict[str, Any]]] = [
    # --- a page first seen --------------------------------------------------------------------------------
    ("first seen: the starting point, nothing reported", NEW, ok(Content.DIFFERENT, "f1", signals=FIRST, recent=()),
     RULES, False,
     {"outcome": Outcome.NEW, "step": SnapshotStep.CREATE, "compare": None, "events": [], "fingerprint": "f1",
      "etag": '"e1"', "last_sha256": "s1", "last_seen": AT, "fetch_sha256": "s1"}),
    ("first seen after the baseline crawl: every statement added", NEW,
     ok(Content.DIFFERENT, "f1", signals=FIRST, recent=()), RULES, True,
     {"outcome": Outcome.NEW, "step": SnapshotStep.CREATE, "compare": Comparison(None)}),
    ("a page made by a move is not new to the site", MOVED_HERE,
     ok(Content.DIFFERENT, "f1", signals=FIRST, recent=()), RULES, True,
     {"outcome": Outcome.NEW, "step": SnapshotStep.CREATE, "compare": None}),
    ("a known page without a snapshot yet: new, not reported", replace(PAGE, snapshot=None, fingerprint=None),
     ok(Content.DIFFERENT, "f1", signals=FIRST, recent=()), RULES, True,
     {"outcome": Outcome.NEW, "compare": None}),
    # --- content ------------------------------------------------------------------------------------------
    ("the same content: unchanged, validators and last-seen updated", PAGE, ok(), RULES, False,
     {"outcome": Outcome.UNCHANGED, "fetch": Outcome.UNCHANGED, "step": SnapshotStep.KEEP, "snapshot": 10,
      "fingerprint": "f10", "etag": '"e1"', "last_modified": None, "last_sha256": "s1", "last_seen": AT,
      "fetch_sha256": "s1", "events": []}),
    ("304: not modified, the last SHA-256 recorded, validators kept", PAGE, NOT_MODIFIED, RULES, False,
     {"outcome": Outcome.NOT_MODIFIED, "step": SnapshotStep.KEEP, "fetch_sha256": "s0", "etag": '"e0"',
      "last_sha256": "s0", "last_seen": AT}),
    ("other content: changed, compared with the previous and (anti-flap) the older snapshots", PAGE,
     ok(Content.DIFFERENT, "f2", signals=REAL, recent=(9, 8, 7, 6)), RULES, False,
     {"outcome": Outcome.CHANGED, "fetch": Outcome.CHANGED, "step": SnapshotStep.CREATE,
      "compare": Comparison(10, (9, 8, 7)), "fingerprint": "f2", "etag": '"e1"', "last_sha256": "s1",
      "last_seen": AT, "events": []}),
    ("flap_history bounds the older snapshots", PAGE, ok(Content.DIFFERENT, "f2", signals=REAL),
     HistoryRules(flap_history=1), False, {"compare": Comparison(10, (9,))}),
    ("a recent variant again (A/B test): reverted, nothing reported", PAGE,
     ok(Content.EARLIER, "f9", signals=REAL, earlier=9), RULES, False,
     {"outcome": Outcome.REVERTED, "fetch": Outcome.REVERTED, "step": SnapshotStep.EARLIER, "snapshot": 9,
      "fingerprint": "f9", "compare": None, "etag": '"e1"', "last_sha256": "s1", "events": []}),
    ("changed content not analysed for statements: no outage judged", PAGE, ok(Content.DIFFERENT, "f2"),
     RULES, False, {"outcome": Outcome.CHANGED, "events": []}),
    ("not analysed (not HTML): skipped, its reason on the fetch", PAGE, SKIPPED, RULES, False,
     {"outcome": Outcome.SKIPPED, "fetch": Outcome.SKIPPED, "fetch_error": "not HTML: application/pdf",
      "fetch_sha256": None, "step": SnapshotStep.KEEP, "etag": '"e0"', "last_seen": AT}),
    # --- errors -------------------------------------------------------------------------------------------
    ("one failed fetch: an error, not yet an event", PAGE, TIMEOUT, RULES, False,
     {"outcome": Outcome.ERROR, "fetch": Outcome.ERROR, "fetch_error": "timed out after 30 s", "failures": 1,
      "state": PageState.ACTIVE, "events": [], "step": SnapshotStep.KEEP, "snapshot": 10, "last_seen": T0}),
    ("the second in a row: the page is in error, once", replace(PAGE, failures=1), TIMEOUT, RULES, False,
     {"outcome": Outcome.ERROR, "state": PageState.ERROR, "failures": 2,
      "events": [(E.ERROR, "timed out after 30 s (2 consecutive failed fetches)")]}),
    ("an HTTP error names its status", replace(PAGE, failures=1), HTTP_503, RULES, False,
     {"state": PageState.ERROR, "events": [(E.ERROR, "HTTP 503 (2 consecutive failed fetches)")],
      "fetch_error": None}),
    ("more failures: no more events", ERRORED, HTTP_503, RULES, False,
     {"outcome": Outcome.ERROR, "state": PageState.ERROR, "failures": 3, "events": []}),
    ("error_threshold is a rule", PAGE, HTTP_503, HistoryRules(error_threshold=1), False,
     {"state": PageState.ERROR, "events": [(E.ERROR, "HTTP 503 (1 consecutive failed fetches)")]}),
    ("an error keeps the gone count", replace(PAGE, gone_count=1), TIMEOUT, RULES, False, {"gone_count": 1}),
    ("an error during a suspected outage leaves it pending", PENDING, TIMEOUT, RULES, False,
     {"outage_fingerprint": "blank", "outage_seen": 1, "events": []}),
    # --- gone ---------------------------------------------------------------------------------------------
    ("one 404: gone (an error on the fetch), not yet an event", replace(PAGE, failures=1), HTTP_404, RULES, False,
     {"outcome": Outcome.GONE, "fetch": Outcome.ERROR, "gone_count": 1, "failures": 0, "state": PageState.ACTIVE,
      "events": [], "step": SnapshotStep.KEEP}),
    ("the second in a row: the page is gone, once", replace(PAGE, gone_count=1), HTTP_404, RULES, False,
     {"outcome": Outcome.GONE, "state": PageState.GONE, "gone_count": 2,
      "events": [(E.GONE, "HTTP 404 on 2 consecutive crawls")]}),
    ("still gone: no more events", GONE, HTTP_404, RULES, False,
     {"state": PageState.GONE, "gone_count": 3, "events": []}),
    ("gone_threshold is a rule", PAGE, HTTP_404, HistoryRules(gone_threshold=1), False,
     {"state": PageState.GONE, "events": [(E.GONE, "HTTP 404 on 1 consecutive crawls")]}),
    # --- recovery -----------------------------------------------------------------------------------------
    ("in error, then the same content: recovered, unchanged", ERRORED, ok(), RULES, False,
     {"outcome": Outcome.UNCHANGED, "state": PageState.ACTIVE, "failures": 0,
      "events": [(E.RECOVERED, "HTTP 200 after error")]}),
    ("gone, then other content: recovered, changed", GONE, ok(Content.DIFFERENT, "f2", signals=REAL), RULES, False,
     {"outcome": Outcome.CHANGED, "state": PageState.ACTIVE, "gone_count": 0,
      "events": [(E.RECOVERED, "HTTP 200 after gone")]}),
    ("gone, then a 304: recovered, not modified", GONE, replace(NOT_MODIFIED, status=304), RULES, False,
     {"outcome": Outcome.NOT_MODIFIED, "state": PageState.ACTIVE, "events": [(E.RECOVERED, "HTTP 304 after gone")]}),
    ("in error, then skipped: recovered", ERRORED, SKIPPED, RULES, False,
     {"outcome": Outcome.SKIPPED, "state": PageState.ACTIVE, "events": [(E.RECOVERED, "HTTP 200 after error")]}),
    # --- moves --------------------------------------------------------------------------------------------
    ("a redirect to another host: moved, with an event", PAGE, OFFSITE, RULES, False,
     {"outcome": Outcome.MOVED, "fetch": Outcome.MOVED, "state": PageState.MOVED,
      "moved_to": "https://elsewhere.example/p", "fetch_sha256": "s3", "step": SnapshotStep.KEEP, "snapshot": 10,
      "events": [(E.MOVED, f"{URL} -> https://elsewhere.example/p (another host: not followed)")]}),
    ("the same redirect again: no second event", OFFSITE_MOVED, OFFSITE, RULES, False,
     {"outcome": Outcome.MOVED, "events": [], "state": PageState.MOVED}),
    ("a redirect to a third host: an event again", OFFSITE_MOVED, OFFSITE_OTHER, RULES, False,
     {"moved_to": "https://third.example/p",
      "events": [(E.MOVED, f"{URL} -> https://third.example/p (another host: not followed)")]}),
    ("a moved page that answers stays moved", OFFSITE_MOVED, ok(), RULES, False,
     {"outcome": Outcome.UNCHANGED, "state": PageState.MOVED}),
    ("an alias: the row points at the page it names", NEW, ALIAS, RULES, False,
     {"outcome": Outcome.ALIAS, "fetch": Outcome.ALIAS, "state": PageState.MOVED,
      "moved_to": "https://shop.example/q", "fetch_sha256": "s4", "events": [], "step": SnapshotStep.KEEP}),
    ("an alias whose response could not be archived: an error on the fetch", NEW, ALIAS_UNARCHIVED, RULES, False,
     {"outcome": Outcome.ALIAS, "fetch": Outcome.ERROR, "fetch_error": "not archived: disk full"}),
    # --- suspected outages (monitor.outage) ---------------------------------------------------------------
    ("an empty page: held, the last good version kept", PAGE, ok(Content.DIFFERENT, "blank", signals=BLANK),
     RULES, False,
     {"outcome": Outcome.SUSPECTED_OUTAGE, "fetch": Outcome.SUSPECTED_OUTAGE, "step": SnapshotStep.KEEP,
      "snapshot": 10, "fingerprint": "f10", "etag": '"e0"', "last_sha256": "s0", "last_seen": T0,
      "outage_fingerprint": "blank", "outage_seen": 1, "fetch_sha256": "s1", "events": [E.SUSPECTED_OUTAGE]}),
    ("the same outage again: confirmed, stored as the page's content with its removals", PENDING,
     ok(Content.DIFFERENT, "blank", signals=BLANK), RULES, False,
     {"outcome": Outcome.CHANGED, "step": SnapshotStep.CREATE, "compare": Comparison(10, (9, 8, 7)),
      "fingerprint": "blank", "outage_fingerprint": "blank", "outage_seen": 2, "events": []}),
    ("two confirmations wanted: held again", PENDING, ok(Content.DIFFERENT, "blank", signals=BLANK),
     HistoryRules(outage=OutageRules(confirmations=2)), False,
     {"outcome": Outcome.SUSPECTED_OUTAGE, "outage_seen": 2, "events": []}),
    ("other trouble during the outage: held, counted again", PENDING,
     ok(Content.DIFFERENT, "challenge", signals=CHALLENGE), RULES, False,
     {"outcome": Outcome.SUSPECTED_OUTAGE, "outage_fingerprint": "challenge", "outage_seen": 1, "events": []}),
    ("a bot challenge never confirms", CHALLENGED, ok(Content.DIFFERENT, "challenge", signals=CHALLENGE),
     RULES, False, {"outcome": Outcome.SUSPECTED_OUTAGE, "outage_seen": 2, "events": []}),
    ("an outage that looks like an earlier variant is still held", PAGE,
     ok(Content.EARLIER, "blank", signals=BLANK, earlier=9), RULES, False,
     {"outcome": Outcome.SUSPECTED_OUTAGE, "snapshot": 10}),
    ("the page back as it was: recovered, unchanged, nothing removed", PENDING, ok(), RULES, False,
     {"outcome": Outcome.UNCHANGED, "outage_fingerprint": None, "outage_seen": 0, "last_seen": AT,
      "events": [E.RECOVERED]}),
    ("the page back with a 304: recovered", PENDING, NOT_MODIFIED, RULES, False,
     {"outcome": Outcome.NOT_MODIFIED, "outage_fingerprint": None, "events": [E.RECOVERED]}),
    ("the page back with a real change: recovered, changed", PENDING, ok(Content.DIFFERENT, "f2", signals=REAL),
     RULES, False,
     {"outcome": Outcome.CHANGED, "compare": Comparison(10, (9, 8, 7)), "outage_fingerprint": None,
      "events": [E.RECOVERED]}),
    ("the page back as a recent variant: recovered, reverted", PENDING,
     ok(Content.EARLIER, "f9", signals=REAL, earlier=9), RULES, False,
     {"outcome": Outcome.REVERTED, "snapshot": 9, "events": [E.RECOVERED]}),
    ("a confirmed outage that stays: unchanged", CONFIRMED, ok(), RULES, False,
     {"outcome": Outcome.UNCHANGED, "outage_fingerprint": "blank", "outage_seen": 2, "events": []}),
    ("back after a confirmed outage: changed against it, no anti-flap history", CONFIRMED,
     ok(Content.DIFFERENT, "f2", signals=REAL), RULES, False,
     {"outcome": Outcome.CHANGED, "compare": Comparison(11, ()), "outage_fingerprint": None,
      "events": [E.RECOVERED]}),
    ("back after a confirmed outage as the old version: changed, never reverted", CONFIRMED,
     ok(Content.EARLIER, "f10", signals=REAL, earlier=10, recent=(10, 9)), RULES, False,
     {"outcome": Outcome.CHANGED, "step": SnapshotStep.CREATE, "compare": Comparison(11, ()),
      "events": [E.RECOVERED]}),
    ("outage detection off: an empty page is the page's content", PAGE,
     ok(Content.DIFFERENT, "blank", signals=BLANK), HistoryRules(outage=OutageRules(confirmations=0)), False,
     {"outcome": Outcome.CHANGED, "events": []}),
    ("in error, then an empty page: recovered from the error, and an outage suspected", ERRORED,
     ok(Content.DIFFERENT, "blank", signals=BLANK), RULES, False,
     {"outcome": Outcome.SUSPECTED_OUTAGE, "state": PageState.ACTIVE, "failures": 0,
      "events": [E.RECOVERED, E.SUSPECTED_OUTAGE]}),
]

_DECISION_FIELDS = {"outcome": "outcome", "fetch": "fetch_outcome", "step": "snapshot", "compare": "compare",
                    "fetch_sha256": "fetch_sha256", "fetch_error": "fetch_error"}


def _events(decision: Decision, expected: list[Any]) -> list[Any]:
    """The decision's events as the case names them: a kind alone, or (kind, detail)."""
    return [event.kind if isinstance(want, EventKind) else (event.kind, event.detail)
            for event, want in zip(decision.events, expected, strict=False)]


@pytest.mark.parametrize(("name", "page", "seen", "rules", "report_new_pages", "expected"), CASES,
                         ids=[case[0] for case in CASES])
def test_every_transition(name: str, page: PageRecord, seen: Observation, rules: HistoryRules,
                          report_new_pages: bool, expected: dict[str, Any]) -> None:
    decision = decide(page, seen, rules, report_new_pages=report_new_pages)
    for key, want in expected.items():
        if key == "events":
            assert len(decision.events) == len(want) and _events(decision, want) == want, decision.events
        elif key in _DECISION_FIELDS:
            assert getattr(decision, _DECISION_FIELDS[key]) == want, (key, decision)
        else:
            assert getattr(decision.page, key) == want, (key, decision.page)
    assert decision.page.url == page.url and decision.page.id == page.id


def test_the_cases_cover_every_response_content_outcome_and_event() -> None:
    seen = {case[2].response for case in CASES}
    contents = {case[2].content for case in CASES if case[2].response is Response.OK}
    decisions = [decide(page, obs, rules, report_new_pages=new) for _, page, obs, rules, new, _ in CASES]
    assert seen == set(Response)
    assert contents == set(Content)
    assert {d.outcome for d in decisions} == set(Outcome)
    assert {event.kind for d in decisions for event in d.events} == set(EventKind)
    assert {d.snapshot for d in decisions} == set(SnapshotStep)
    assert {case[1].state for case in CASES} == set(PageState)


STATES = [PAGE, NEW, ERRORED, GONE, OFFSITE_MOVED, PENDING, CONFIRMED, CHALLENGED]
OBSERVATIONS = [ok(), ok(Content.DIFFERENT, "f2", signals=REAL), ok(Content.EARLIER, "f9", signals=REAL, earlier=9),
                ok(Content.DIFFERENT, "blank", signals=BLANK), ok(Content.DIFFERENT, "challenge", signals=CHALLENGE),
                NOT_MODIFIED, SKIPPED, TIMEOUT, HTTP_503, HTTP_404, OFFSITE, ALIAS]
#: the outcomes that never touch the page's snapshot, and those whose fetch row says otherwise
UNTOUCHED = {Outcome.ERROR, Outcome.GONE, Outcome.MOVED, Outcome.ALIAS, Outcome.SKIPPED, Outcome.NOT_MODIFIED,
             Outcome.UNCHANGED, Outcome.SUSPECTED_OUTAGE}


@pytest.mark.parametrize(("page", "seen"), list(itertools.product(STATES, OBSERVATIONS)))
def test_what_holds_for_every_page_and_every_fetch(page: PageRecord, seen: Observation) -> None:
    decision = decide(page, seen)
    if decision.outcome in UNTOUCHED:
        assert decision.snapshot is SnapshotStep.KEEP and decision.page.snapshot == page.snapshot
    if decision.snapshot is SnapshotStep.CREATE:
        assert decision.outcome is (Outcome.NEW if page.snapshot is None else Outcome.CHANGED)
        assert decision.page.fingerprint == seen.fingerprint
    if decision.outcome is Outcome.REVERTED:
        assert decision.snapshot is SnapshotStep.EARLIER and decision.page.snapshot == seen.earlier
    assert decision.fetch_outcome is (Outcome.ERROR if decision.outcome is Outcome.GONE else decision.outcome)
    # nothing but a 404/410 or an error changes the failure counts upwards; any answer clears them
    if seen.response in (Response.OK, Response.NOT_MODIFIED, Response.SKIPPED):
        assert decision.page.failures == 0 and decision.page.gone_count == 0
        assert decision.page.state in (PageState.ACTIVE, PageState.MOVED)
    if decision.outcome is Outcome.SUSPECTED_OUTAGE:  # what the next crawl compares with stays
        assert (decision.page.etag, decision.page.last_sha256, decision.page.last_seen) == \
            (page.etag, page.last_sha256, page.last_seen)
    assert len({event.kind for event in decision.events}) == len(decision.events)  # each event once


# --- what came back, which content, which page -----------------------------------------------------------

RESPONSES = [
    ({"status": 200, "error": None}, Response.OK),
    ({"status": 200, "error": None, "analysed": False}, Response.SKIPPED),
    ({"status": 304, "error": None, "not_modified": True}, Response.NOT_MODIFIED),
    ({"status": 404, "error": None}, Response.GONE),
    ({"status": 410, "error": None}, Response.GONE),
    ({"status": 403, "error": None}, Response.HTTP_ERROR),
    ({"status": 500, "error": None}, Response.HTTP_ERROR),
    ({"status": None, "error": "DNS lookup failed"}, Response.FETCH_ERROR),
    ({"status": 200, "error": "not analysed: ValueError"}, Response.FETCH_ERROR),
    ({"status": 404, "error": "robots.txt refuses it"}, Response.FETCH_ERROR),
    ({"status": 200, "error": None, "alias": True}, Response.ALIAS),
    ({"status": 200, "error": "not archived: disk full", "alias": True}, Response.ALIAS),
    ({"status": 301, "error": None, "offsite": True}, Response.OFFSITE),
]


@pytest.mark.parametrize(("facts", "response"), RESPONSES)
def test_what_came_back(facts: dict[str, Any], response: Response) -> None:
    assert classify_response(**facts) is response


RECENT = [SnapshotRef(10, "f10"), SnapshotRef(9, "f9"), SnapshotRef(8, "f8")]
CONTENTS = [
    ("bytes identical to the last fetch (never analysed)", PAGE, None, (Content.SAME, None)),
    ("the current fingerprint", PAGE, "f10", (Content.SAME, None)),
    ("another fingerprint", PAGE, "f2", (Content.DIFFERENT, None)),
    ("a recent snapshot's", PAGE, "f8", (Content.EARLIER, 8)),
    ("the current fingerprint, but the snapshot gone", replace(PAGE, snapshot=None), "f10", (Content.EARLIER, 10)),
    ("a new page", NEW, "f1", (Content.DIFFERENT, None)),
]


@pytest.mark.parametrize(("name", "page", "fingerprint", "expected"), CONTENTS, ids=[c[0] for c in CONTENTS])
def test_which_content(name: str, page: PageRecord, fingerprint: str | None,
                       expected: tuple[Content, int | None]) -> None:
    assert compare_content(page, fingerprint, RECENT) == expected


ROUTES = [
    ("a plain fetch", {}, PAGE, Route(URL)),
    ("a temporary redirect stays the page's", {"final_url": URL + "-tmp", "redirect_status": 302}, PAGE, Route(URL)),
    ("a permanent redirect moves a page with a history", {"final_url": URL + "-new", "redirect_status": 301}, PAGE,
     Route(URL + "-new", URL + "-new")),
    ("308 as well", {"final_url": URL + "-new", "redirect_status": 308}, PAGE, Route(URL + "-new", URL + "-new")),
    ("a URL never stored is stored under its new address alone", {"final_url": URL + "-new", "redirect_status": 301},
     None, Route(URL + "-new")),
    ("a URL already moved is not moved again", {"final_url": URL + "-new", "redirect_status": 301},
     replace(PAGE, state=PageState.MOVED), Route(URL + "-new")),
    ("a permanent redirect to an error is the requested page's error",
     {"final_url": URL + "-new", "redirect_status": 301, "status": 500}, PAGE, Route(URL)),
    ("an alias with a history moves it to the page it names", {"alias_of": URL + "-canonical"}, PAGE,
     Route(URL, URL + "-canonical", " (its canonical URL)")),
    ("an alias first seen only points there", {"alias_of": URL + "-canonical"}, None,
     Route(URL, None, " (its canonical URL)")),
    ("on-site hops that end on another host: the requested page is what moved",
     {"final_url": URL + "-hop", "redirect_status": 301, "offsite": True}, PAGE, Route(URL)),
]


@pytest.mark.parametrize(("name", "facts", "requested", "expected"), ROUTES, ids=[r[0] for r in ROUTES])
def test_which_page(name: str, facts: dict[str, Any], requested: PageRecord | None, expected: Route) -> None:
    given: dict[str, Any] = {"url": URL, "final_url": None, "status": 200, "redirect_status": None,
                             "alias_of": None, "offsite": False, **facts}
    assert route(requested=requested, **given) == expected


def test_a_move_hands_the_history_to_a_page_without_one() -> None:
    moved = move(PAGE, None, URL + "-new", AT)
    assert (moved.source.state, moved.source.moved_to) == (PageState.MOVED, URL + "-new")
    assert (moved.event.kind, moved.event.detail) == (EventKind.MOVED, f"{URL} -> {URL}-new")
    target = moved.target
    assert target.id is None and target.url == URL + "-new"
    assert (target.snapshot, target.fingerprint, target.last_sha256, target.first_seen, target.last_seen) == \
        (10, "f10", "s0", T0, AT)
    # a page there without a snapshot takes the history; one with its own keeps it
    empty = PageRecord(URL + "-new", id=5, first_seen=AT, last_seen=AT)
    assert move(PAGE, empty, empty.url, AT).target.snapshot == 10
    own = replace(empty, snapshot=20, fingerprint="f20")
    kept = move(PAGE, own, own.url, AT, " (its canonical URL)")
    assert kept.target == own and kept.event.detail.endswith("-new (its canonical URL)")


@pytest.mark.parametrize("module", [history, outage])
def test_the_docstring_examples_run(module: object) -> None:
    failures, tried = doctest.testmod(module)  # type: ignore[arg-type]
    assert failures == 0 and tried > 0
