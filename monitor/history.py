"""What happened to a page on one fetch: one pure decision over typed states.

Everything that turns a fetch into the page's history is decided here, and only here: no database, no
Session, no I/O. ``monitor.store`` gathers the facts (``PageRecord``: what the page row remembers;
``Observation``: what the fetch brought back, compared with the page's snapshots), calls ``decide`` and
applies the ``Decision`` through ``monitor.page_repository``.

One fetch goes through three pure steps:

1. ``classify_response``: what came back (``Response``): an answer to analyse, a 304, an answer not
   analysed, an HTTP error, no answer at all, 404/410, an alias (rel=canonical names another URL of the
   site) or a redirect to another host.
2. ``route``: which page the fetch belongs to. A permanent redirect (301/308) within the site moves the
   requested page to its new URL first (``move``: a ``moved`` event; the new URL's page takes the history
   when it has none), and so does an alias; everything else is the requested URL's own page.
3. ``decide``: the outcome (``Outcome``), the page row afterwards, the events, and what happens to the
   snapshot (keep it, point back at an earlier one, or create one and compare it with what).

The rules, in the order ``decide`` applies them:

- no answer or an HTTP error: ``error``; the ``error_threshold``-th failure in a row makes the page
  ``error`` with one ``error`` event. The snapshot stays: an outage never removes statements.
- 404/410: ``gone``; the ``gone_threshold``-th in a row makes the page ``gone`` with one ``gone`` event.
- any other answer after ``error`` or ``gone``: a ``recovered`` event, the page ``active`` again.
- 304, or the same content (bytes identical to the last fetch, or the same noise-free fingerprint):
  ``not_modified`` / ``unchanged``. A suspected outage that was pending ends here (``recovered``).
- other content: ``monitor.outage`` judges it. An empty, maintenance or bot-challenge page, or a sudden
  mass loss of statements, is a ``suspected_outage``: the snapshot, validators and last-seen time stay
  until the same content is seen on the confirming crawls (a challenge never confirms).
- content equal to one of the page's last ``flap_history`` + 1 snapshots but the current one: ``reverted``
  (an A/B test flipping back): the page points at that snapshot again, nothing is reported.
- otherwise a new snapshot: ``new`` (the page's first) or ``changed``, its statements compared with the
  previous snapshot's, with the older ones as the anti-flap history (none after a confirmed outage: what
  the outage removed was reported, so what comes back is reported too). A page first seen after the
  site's baseline crawl reports its statements as added (``report_new_pages``).

>>> from datetime import UTC, datetime
>>> page = PageRecord("https://shop.example/p", id=1, snapshot=7, fingerprint="f1", failures=1)
>>> decision = decide(page, Observation(Response.FETCH_ERROR, datetime.now(UTC), error="timed out"))
>>> decision.outcome, decision.page.state, [event.kind for event in decision.events]
(<Outcome.ERROR: 'error'>, <PageState.ERROR: 'error'>, [<EventKind.ERROR: 'error'>])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from monitor.outage import Judgement, OutageRules, OutageState, PageSignals, Step, judge_outage, suspect_outage

__all__ = [
    "PageState", "Response", "Content", "Outcome", "EventKind", "SnapshotStep",
    "HistoryRules", "PageRecord", "SnapshotRef", "Observation", "PageEvent", "Comparison", "Decision",
    "Route", "Move", "classify_response", "compare_content", "route", "move", "decide",
    "GONE_STATUSES", "PERMANENT_REDIRECTS",
]

GONE_STATUSES = frozenset({404, 410})
PERMANENT_REDIRECTS = frozenset({301, 308})


class PageState(StrEnum):
    """The page row's ``state``. A suspected outage is not a state of its own: it is held beside it
    (``PageRecord.outage_fingerprint``), since a page under suspicion is still active."""

    ACTIVE = "active"
    ERROR = "error"  # error_threshold failed fetches in a row
    GONE = "gone"  # gone_threshold 404/410 answers in a row
    MOVED = "moved"  # its history continues at ``moved_to`` (a redirect, an alias, another host)


class Response(StrEnum):
    """What one fetch brought back, before the page's content is looked at."""

    OK = "ok"  # an answer whose content is compared with the page's (``Content``)
    NOT_MODIFIED = "not_modified"  # 304 to the validators sent
    SKIPPED = "skipped"  # an answer not analysed (not HTML, no body)
    HTTP_ERROR = "http_error"  # 4xx other than 404/410, 5xx
    FETCH_ERROR = "fetch_error"  # no answer (DNS, timeout, refused, robots.txt...), or one not archived/analysed
    GONE = "gone"  # 404 / 410
    ALIAS = "alias"  # the response names another URL of the site as its page (rel=canonical)
    OFFSITE = "offsite"  # a redirect (or meta refresh) to another host: recorded, never followed


class Content(StrEnum):
    """An ``OK`` response's content, against the page's snapshots."""

    SAME = "same"  # the current snapshot's: identical bytes, or the same noise-free fingerprint
    DIFFERENT = "different"
    EARLIER = "earlier"  # a recent snapshot's other than the current one (``Observation.earlier``)


class Outcome(StrEnum):
    """What the fetch was, for the page (``StoreOutcome.outcome``) and for the fetch row (``fetch.outcome``)."""

    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    NOT_MODIFIED = "not_modified"
    REVERTED = "reverted"
    ERROR = "error"
    GONE = "gone"  # (the fetch row says ``error``)
    MOVED = "moved"
    ALIAS = "alias"
    SKIPPED = "skipped"
    SUSPECTED_OUTAGE = "suspected_outage"


class EventKind(StrEnum):
    GONE = "gone"
    ERROR = "error"
    MOVED = "moved"
    RECOVERED = "recovered"
    SUSPECTED_OUTAGE = "suspected_outage"


class SnapshotStep(StrEnum):
    KEEP = "keep"  # the page's current snapshot stays what it is
    EARLIER = "earlier"  # the page points back at an earlier snapshot (``Decision.page.snapshot``)
    CREATE = "create"  # a new snapshot of the fetched content (``Decision.compare`` says against what)


@dataclass(frozen=True, slots=True)
class HistoryRules:
    """``error_threshold`` failed fetches (``gone_threshold`` 404/410 answers) in a row make the page
    ``error`` (``gone``); ``flap_history``: earlier snapshots a change is compared with before it is
    reported (an A/B test flipping between variants is reported once)."""

    error_threshold: int = 2
    gone_threshold: int = 2
    flap_history: int = 3
    outage: OutageRules = OutageRules()


@dataclass(frozen=True, slots=True)
class PageRecord:
    """What the page row remembers, as plain values (``id`` None: first seen on this fetch)."""

    url: str
    state: PageState = PageState.ACTIVE
    moved_to: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    etag: str | None = None  # validators of the last good fetch, sent back as If-None-Match ...
    last_modified: str | None = None  # ... and If-Modified-Since
    last_sha256: str | None = None  # of the last good fetch's bytes (an identical body is not analysed)
    fingerprint: str | None = None  # the current snapshot's noise-free fingerprint
    snapshot: int | None = None  # the current snapshot's id
    failures: int = 0  # failed fetches in a row
    gone_count: int = 0  # 404/410 answers in a row
    outage_fingerprint: str | None = None  # monitor.outage: the content under suspicion ...
    outage_seen: int = 0  # ... and the crawls in a row that showed it
    id: int | None = None

    @property
    def outage(self) -> OutageState:
        """Confirmed when the suspected content became the current snapshot."""
        suspected = self.outage_fingerprint
        confirmed = suspected is not None and suspected == self.fingerprint
        return OutageState(suspected, self.outage_seen, confirmed=confirmed)


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    id: int
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One fetch, as the history sees it (plain values; ``monitor.store`` makes it from a ``FetchResult``).

    ``content``, ``fingerprint``, ``earlier`` and ``recent`` (``compare_content``) and ``signals`` concern an
    ``OK`` response; ``target`` an ``ALIAS`` (the canonical URL) or ``OFFSITE`` one (the other host's URL).
    """

    response: Response
    at: datetime
    status: int | None = None
    error: str | None = None  # the fetch's error, or why its body was not analysed (SKIPPED)
    sha256: str | None = None  # of the bytes received
    etag: str | None = None
    last_modified: str | None = None
    content: Content = Content.SAME
    fingerprint: str | None = None  # the fetched content's
    earlier: int | None = None  # EARLIER: the snapshot it equals
    recent: tuple[int, ...] = ()  # the page's recent snapshots but the current one, newest first (anti-flap)
    signals: PageSignals | None = None  # the content as the outage rules see it (None: not judged)
    target: str | None = None


@dataclass(frozen=True, slots=True)
class PageEvent:
    kind: EventKind
    detail: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """What a new snapshot's statements are compared with: the ``before`` snapshot (None: nothing before,
    every statement added), the ``older`` snapshots' statements as anti-flap history."""

    before: int | None
    older: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Decision:
    """The decision for one fetch: what to record and how the page row reads afterwards.

    ``page.snapshot`` is the page's snapshot afterwards, except with ``CREATE`` (the new snapshot's id is
    the database's); ``compare`` is None when the new snapshot reports nothing (a baseline page).
    """

    outcome: Outcome
    page: PageRecord
    fetch_outcome: Outcome
    fetch_sha256: str | None = None
    fetch_error: str | None = None
    events: tuple[PageEvent, ...] = ()
    snapshot: SnapshotStep = SnapshotStep.KEEP
    compare: Comparison | None = None


# --- step 1: what came back ----------------------------------------------------------------------------------


def classify_response(*, status: int | None, error: str | None, not_modified: bool = False,
                      analysed: bool = True, alias: bool = False, offsite: bool = False) -> Response:
    """What a fetch brought back (``analysed``: it has a body that normalisation looked at).

    >>> classify_response(status=503, error=None), classify_response(status=410, error=None)
    (<Response.HTTP_ERROR: 'http_error'>, <Response.GONE: 'gone'>)
    """
    if alias:
        return Response.ALIAS
    if offsite:
        return Response.OFFSITE
    if error is not None or status is None:
        return Response.FETCH_ERROR
    if status in GONE_STATUSES:
        return Response.GONE
    if status >= 400:
        return Response.HTTP_ERROR
    if not_modified:
        return Response.NOT_MODIFIED
    if not analysed:
        return Response.SKIPPED
    return Response.OK


def compare_content(page: PageRecord, fingerprint: str | None,
                    recent: Sequence[SnapshotRef] = ()) -> tuple[Content, int | None]:
    """The fetched content against the page's snapshots (``fingerprint`` None: bytes identical to the last
    fetch, never analysed); ``recent``: the page's newest snapshots, newest first, needed only when the
    content is not the current snapshot's. With ``EARLIER``, the id of the snapshot it equals.

    >>> compare_content(PageRecord("u", fingerprint="a", snapshot=2), "b", [SnapshotRef(2, "a"), SnapshotRef(1, "b")])
    (<Content.EARLIER: 'earlier'>, 1)
    """
    if fingerprint is None or (fingerprint == page.fingerprint and page.snapshot is not None):
        return Content.SAME, None
    for old in recent:
        if old.fingerprint == fingerprint and old.id != page.snapshot:
            return Content.EARLIER, old.id
    return Content.DIFFERENT, None


# --- step 2: which page ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """The URL whose page the fetch is recorded under; ``moves_to``: the requested page moves there first
    (``move``), ``why`` completing its event's detail."""

    url: str
    moves_to: str | None = None
    why: str = ""


def route(*, url: str, final_url: str | None, status: int | None, redirect_status: int | None,
          alias_of: str | None, requested: PageRecord | None, offsite: bool = False) -> Route:
    """Which page a fetch of ``url`` belongs to (``requested``: that URL's page, None when there is none).
    A fetch that ended on another host (``offsite``, after on-site hops or not) is the requested page's:
    that page is what moved there.

    >>> route(url="/a", final_url="/b", status=200, redirect_status=301, alias_of=None,
    ...       requested=PageRecord("/a", id=1))
    Route(url='/b', moves_to='/b', why='')
    """
    if offsite:
        return Route(url)
    has_history = requested is not None and requested.state is not PageState.MOVED
    if alias_of is not None:  # the alias's own row records the fetch; a history of its own moves over
        return Route(url, alias_of if has_history else None, " (its canonical URL)")
    if (redirect_status in PERMANENT_REDIRECTS and final_url is not None and final_url != url
            and status is not None and status < 400):
        # a URL never stored (or already known as moved) is stored under its new address alone
        return Route(final_url, final_url if has_history else None)
    return Route(url)


@dataclass(frozen=True, slots=True)
class Move:
    source: PageRecord  # the requested page, now moved
    target: PageRecord  # the page the history continues at
    event: PageEvent  # on the source


def move(source: PageRecord, target: PageRecord | None, to: str, at: datetime, why: str = "") -> Move:
    """A page moved to ``to`` (a permanent redirect or an alias): a ``moved`` event, and the page at ``to``
    (``target``: None when there is none yet) takes its snapshot and first-seen time when it has no
    snapshot of its own."""
    moved = replace(source, state=PageState.MOVED, moved_to=to)
    event = PageEvent(EventKind.MOVED, f"{source.url} -> {to}{why}")
    after = target if target is not None else PageRecord(to, first_seen=at, last_seen=at)
    if target is None or target.snapshot is None:
        after = replace(after, snapshot=source.snapshot, fingerprint=source.fingerprint,
                        last_sha256=source.last_sha256, first_seen=source.first_seen)
    return Move(moved, after, event)


# --- step 3: what happened ------------------------------------------------------------------------------------


def decide(page: PageRecord, seen: Observation, rules: HistoryRules = HistoryRules(), *,
           report_new_pages: bool = False) -> Decision:
    """What the fetch ``seen`` means for ``page`` (the module's docstring has the rules, in order)."""
    if seen.response is Response.ALIAS:
        assert seen.target is not None
        return Decision(Outcome.ALIAS, replace(page, state=PageState.MOVED, moved_to=seen.target),
                        Outcome.ERROR if seen.error else Outcome.ALIAS,  # (an error: its response not archived)
                        fetch_sha256=seen.sha256, fetch_error=seen.error)
    if seen.response is Response.OFFSITE:
        assert seen.target is not None
        if page.state is PageState.MOVED and page.moved_to == seen.target:  # reported once per target
            return Decision(Outcome.MOVED, page, Outcome.MOVED, fetch_sha256=seen.sha256)
        event = PageEvent(EventKind.MOVED, f"{page.url} -> {seen.target} (another host: not followed)")
        return Decision(Outcome.MOVED, replace(page, state=PageState.MOVED, moved_to=seen.target), Outcome.MOVED,
                        fetch_sha256=seen.sha256, events=(event,))
    if seen.response in (Response.FETCH_ERROR, Response.HTTP_ERROR):
        return _failed(page, seen, rules)
    if seen.response is Response.GONE:
        return _gone(page, seen, rules)
    return _answered(page, seen, rules, report_new_pages)


def _failed(page: PageRecord, seen: Observation, rules: HistoryRules) -> Decision:
    failures = page.failures + 1
    events: tuple[PageEvent, ...] = ()
    state = page.state
    if failures == rules.error_threshold:
        state = PageState.ERROR
        detail = seen.error or f"HTTP {seen.status}"
        events = (PageEvent(EventKind.ERROR, f"{detail} ({failures} consecutive failed fetches)"),)
    return Decision(Outcome.ERROR, replace(page, state=state, failures=failures), Outcome.ERROR,
                    fetch_error=seen.error, events=events)


def _gone(page: PageRecord, seen: Observation, rules: HistoryRules) -> Decision:
    count = page.gone_count + 1
    events: tuple[PageEvent, ...] = ()
    state = page.state
    if count == rules.gone_threshold and page.state is not PageState.GONE:
        state = PageState.GONE
        events = (PageEvent(EventKind.GONE, f"HTTP {seen.status} on {count} consecutive crawls"),)
    return Decision(Outcome.GONE, replace(page, state=state, gone_count=count, failures=0), Outcome.ERROR,
                    fetch_error=seen.error, events=events)


def _answered(page: PageRecord, seen: Observation, rules: HistoryRules, report_new_pages: bool) -> Decision:
    """An answer (2xx/3xx): the page is back if it was not, then its content decides."""
    events: list[PageEvent] = []
    if page.state in (PageState.ERROR, PageState.GONE):
        events.append(PageEvent(EventKind.RECOVERED, f"HTTP {seen.status} after {page.state}"))
    # the page answered: (its columns changed by each step are gathered, then set with one ``replace``)
    answered: dict[str, Any] = {"state": page.state if page.state is PageState.MOVED else PageState.ACTIVE,
                                "last_seen": seen.at, "failures": 0, "gone_count": 0}
    if seen.response is Response.SKIPPED:
        return Decision(Outcome.SKIPPED, replace(page, **answered), Outcome.SKIPPED, fetch_error=seen.error,
                        events=tuple(events))
    if seen.response is Response.NOT_MODIFIED or seen.content is Content.SAME:
        outage = _outage(judge_outage(page.outage, None, page.fingerprint or "", rules.outage), events)
        if seen.response is Response.NOT_MODIFIED:
            return Decision(Outcome.NOT_MODIFIED, replace(page, **answered, **outage), Outcome.NOT_MODIFIED,
                            fetch_sha256=page.last_sha256, events=tuple(events))
        return Decision(Outcome.UNCHANGED, replace(page, **answered, **outage, **_validators(seen)),
                        Outcome.UNCHANGED, fetch_sha256=seen.sha256, events=tuple(events))

    # content the current snapshot does not have: an outage, a flip back, or a new version
    assert seen.fingerprint is not None
    suspicion = suspect_outage(seen.signals, rules.outage) if rules.outage.enabled and seen.signals else None
    judgement = judge_outage(page.outage, suspicion, seen.fingerprint, rules.outage)
    outage = _outage(judgement, events)
    if judgement.step is Step.HOLD:
        # the current snapshot stays, and so do the validators and SHA-256 the next crawl compares with,
        # and the time its statements were last seen
        answered["last_seen"] = page.last_seen
        return Decision(Outcome.SUSPECTED_OUTAGE, replace(page, **answered, **outage), Outcome.SUSPECTED_OUTAGE,
                        fetch_sha256=seen.sha256, events=tuple(events))
    stored = {**answered, **outage, **_validators(seen), "fingerprint": seen.fingerprint}
    # A confirmed outage is stored as a version of its own, and the page's return is compared with it as it
    # is: no flip back to an earlier variant, no anti-flap history (the removals were reported, so what
    # comes back is reported too).
    confirmed = page.outage.confirmed
    if seen.content is Content.EARLIER and judgement.step is Step.STORE and not confirmed:
        assert seen.earlier is not None
        return Decision(Outcome.REVERTED, replace(page, **stored, snapshot=seen.earlier), Outcome.REVERTED,
                        fetch_sha256=seen.sha256, events=tuple(events), snapshot=SnapshotStep.EARLIER)
    compare = None
    if page.snapshot is not None:
        compare = Comparison(page.snapshot, () if confirmed else seen.recent[:rules.flap_history])
    elif report_new_pages and page.id is None and page.first_seen == seen.at:
        compare = Comparison(None)  # first seen now (not a page moved here), after the site's baseline crawl
    outcome = Outcome.NEW if page.snapshot is None else Outcome.CHANGED
    return Decision(outcome, replace(page, **stored), outcome, fetch_sha256=seen.sha256, events=tuple(events),
                    snapshot=SnapshotStep.CREATE, compare=compare)


def _outage(judgement: Judgement, events: list[PageEvent]) -> dict[str, Any]:
    """The page's outage columns after ``judgement``; its event, if any, added to ``events``."""
    if judgement.event is not None:
        events.append(PageEvent(EventKind(judgement.event), judgement.detail))
    return {"outage_fingerprint": judgement.state.fingerprint, "outage_seen": judgement.state.seen}


def _validators(seen: Observation) -> dict[str, Any]:
    """The validators and SHA-256 the next crawl compares with (never those of a suspected outage). A
    response without validators clears the old ones: they name another version, and a 304 to them would
    say that version is still there."""
    return {"etag": seen.etag, "last_modified": seen.last_modified, "last_sha256": seen.sha256}
