"""Suspected outages (issue 15, item 3): a 200 that shows the site's trouble never reads as removed claims.

The rules (``monitor.outage``) data-driven, then end to end through the CLI: an empty page, a maintenance
page, a bot challenge and a page that lost nearly all its statements keep the last good snapshot, record a
``suspected_outage`` event and report nothing, and the page's return reports nothing either (no false
"removed", no "reverted"); the same content on the confirming crawls is reported, and so is the return.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from crawlkit import crawl, rows, setup_site

from monitor.config import ConfigError, load_settings
from monitor.extract.keys import statement_key
from monitor.models import Change, Event, Fetch, Page
from monitor.outage import (
    OutageKind,
    OutageRules,
    OutageState,
    PageSignals,
    Step,
    Suspicion,
    judge_outage,
    suspect_outage,
)
from monitor.siteserver import SiteServer

CASE = Path(__file__).resolve().parent / "sites" / "changes" / "guarantee_shortened" / "v1"
V1 = (CASE / "index.html").read_bytes()
RULES = OutageRules()

MAINTENANCE = ("<!DOCTYPE html><html><head><title>Down for maintenance</title></head><body>"
               "<h1>We\u2019ll be back soon!</h1><p>Sorry for the inconvenience. We\u2019re performing some "
               "maintenance at the moment.</p><p>&mdash; The Hollow Creek team</p></body></html>").encode()
CLOUDFLARE = (b"<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>"
              b"<meta name=\"robots\" content=\"noindex,nofollow\"><script>(function(){window._cf_chl_opt={"
              b"cvId: '3',cZone: 'shop.example',cType: 'managed'};}());</script></head><body>"
              b"<div class=\"main-wrapper\" role=\"main\"><h1 class=\"zone-name-title h1\">shop.example</h1>"
              b"<h2 class=\"h2\" id=\"challenge-running\">Verifying you are human. This may take a few seconds."
              b"</h2><noscript><div>Enable JavaScript and cookies to continue</div></noscript></div>"
              b"<script src=\"/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=8a1b2c3d4e5f6a7b\">"
              b"</script></body></html>")
AKAMAI = (b"<HTML><HEAD><TITLE>Access Denied</TITLE></HEAD><BODY><H1>Access Denied</H1>You don't have "
          b"permission to access \"http&#58;&#47;&#47;shop&#46;example&#47;\" on this server.<P>Reference&#32;"
          b"&#35;18&#46;6f64d217&#46;1700000000&#46;1a2b3c4d<P>https&#58;&#47;&#47;errors&#46;edgesuite&#46;"
          b"net&#47;18&#46;6f64d217</BODY></HTML>")
INCAPSULA = (b"<html><head><META NAME=\"robots\" CONTENT=\"noindex,nofollow\"></head><body><iframe "
             b"id=\"main-iframe\" src=\"/_Incapsula_Resource?CWUDNSAI=24&xinfo=8-1234\" frameborder=0 "
             b"width=\"100%\" height=\"100%\">Request unsuccessful. Incapsula incident ID: 1234-5678</iframe>"
             b"</body></html>")
SUCURI = (b"<html><head><title>Sucuri WebSite Firewall - Access Denied</title></head><body><h2>Access "
          b"Denied - Sucuri Website Firewall</h2><p>Block reason: Access from your area has been temporarily "
          b"limited for security reasons.</p></body></html>")
DATADOME = (b"<html><head><title>shop.example</title></head><body><script>var dd={'rt':'c','cid':'AHrlqAAA',"
            b"'host':'geo.captcha-delivery.com'}</script><script src=\"https://ct.captcha-delivery.com/c.js\">"
            b"</script></body></html>")


def _without(html: bytes, *fragments: str) -> bytes:
    """The v1 page with every line holding one of ``fragments`` cut out."""
    return b"\n".join(line for line in html.split(b"\n")
                      if not any(fragment.encode() in line for fragment in fragments))


#: v1 with its claims, guarantees, testimonials and disclaimers gone but the consultation line: a partial page
MASS_LOSS = _without(V1, "badge", "<li>Supports", "<li>Helps", "<li>Promotes", "testimonial", "results-note",
                     "footer-guarantee", "fda-disclaimer")
KEYS = frozenset(f"statement {n}" for n in range(10))


def _text(html: bytes) -> str:
    from monitor.normalize import html_to_blocks

    return "\n".join(block.text for block in html_to_blocks(html, "utf-8"))


def _signals(html: bytes, before: frozenset[str] | None = KEYS, after: frozenset[str] = frozenset()) -> PageSignals:
    return PageSignals(html, _text(html), before, after)


# --- the rules, data-driven ----------------------------------------------------------------------------------

SUSPECTED: list[tuple[str, PageSignals, OutageKind]] = [
    ("empty body", _signals(b""), OutageKind.EMPTY),
    ("whitespace body", _signals(b"  \r\n\t "), OutageKind.EMPTY),
    ("markup without text", _signals(b"<html><head><script>x()</script></head><body> </body></html>"),
     OutageKind.EMPTY),
    ("we'll be back soon, curly apostrophe", _signals(MAINTENANCE), OutageKind.MAINTENANCE),
    ("down for maintenance", _signals(b"<h1>Site down for maintenance</h1><p>Back at 6am.</p>"),
     OutageKind.MAINTENANCE),
    ("temporarily unavailable", _signals(b"<p>This store is temporarily unavailable.</p>"),
     OutageKind.MAINTENANCE),
    ("Cloudflare managed challenge", _signals(CLOUDFLARE), OutageKind.CHALLENGE),
    ("Cloudflare markup alone", _signals(b"<p>One moment.</p><script>window._cf_chl_opt={}</script>"),
     OutageKind.CHALLENGE),
    ("checking your browser", _signals(b"<h1>Checking your browser before accessing shop.example</h1>"),
     OutageKind.CHALLENGE),
    ("Akamai access denied", _signals(AKAMAI), OutageKind.CHALLENGE),
    ("Imperva / Incapsula", _signals(INCAPSULA), OutageKind.CHALLENGE),
    ("Sucuri firewall", _signals(SUCURI), OutageKind.CHALLENGE),
    ("DataDome captcha", _signals(DATADOME), OutageKind.CHALLENGE),
    ("a new page that is a challenge", _signals(CLOUDFLARE, before=None), OutageKind.CHALLENGE),
    ("9 of 10 gone, none added", _signals(b"<p>Our shop.</p>", after=frozenset({"statement 0"})),
     OutageKind.MASS_LOSS),
    ("4 of 5 gone (80%)",
     _signals(b"<p>Our shop.</p>", before=frozenset(list(KEYS)[:5]), after=frozenset(list(KEYS)[:1])),
     OutageKind.MASS_LOSS),
]

NOT_SUSPECTED: list[tuple[str, PageSignals]] = [
    ("a product page that says a flavour is temporarily unavailable",
     _signals(V1.replace(b"Add to cart", b"Cherry flavour temporarily unavailable"), after=KEYS)),
    ("a page with Cloudflare's injected script that keeps its statements",
     _signals(V1.replace(b"</body>", b"<script src=\"/cdn-cgi/challenge-platform/scripts/jsd/main.js\"></script>"
                                     b"</body>"), after=KEYS)),
    ("a short page that keeps most statements and mentions maintenance",
     _signals(b"<p>Our maintenance dose: two capsules.</p><p>We'll be back soon with new flavours.</p>",
              after=frozenset(list(KEYS)[:6]))),
    ("3 of 5 gone: below the share", _signals(b"<p>Our shop.</p>", before=frozenset(list(KEYS)[:5]),
                                              after=frozenset(list(KEYS)[:2]))),
    ("all of 4 gone: too few statements", _signals(b"<p>Our shop.</p>", before=frozenset(list(KEYS)[:4]))),
    ("9 of 10 gone but one added: a rewrite", _signals(b"<p>Our shop.</p>", after=frozenset({"new"}))),
    ("a new page", _signals(V1, before=None, after=KEYS)),
]


@pytest.mark.parametrize(("name", "signals", "kind"), SUSPECTED, ids=[case[0] for case in SUSPECTED])
def test_what_looks_like_an_outage(name: str, signals: PageSignals, kind: OutageKind) -> None:
    suspicion = suspect_outage(signals, RULES)
    assert suspicion is not None and suspicion.kind is kind, suspicion


@pytest.mark.parametrize(("name", "signals"), NOT_SUSPECTED, ids=[case[0] for case in NOT_SUSPECTED])
def test_what_is_the_sellers_page(name: str, signals: PageSignals) -> None:
    assert suspect_outage(signals, RULES) is None


def test_the_mass_loss_share_and_minimum_are_settings() -> None:
    signals = _signals(b"<p>Our shop.</p>", before=frozenset(list(KEYS)[:5]), after=frozenset(list(KEYS)[:2]))
    assert suspect_outage(signals, OutageRules(loss_share=0.6)) is not None  # 3 of 5
    assert suspect_outage(signals, OutageRules(loss_share=0.6, min_statements=6)) is None


EMPTY = Suspicion(OutageKind.EMPTY, "blank")
CHALLENGE = Suspicion(OutageKind.CHALLENGE, "just a moment")


def _run(steps: list[tuple[Suspicion | None, str]], rules: OutageRules = RULES) -> list[tuple[Step, str | None]]:
    """Judge a sequence of crawls (suspicion, content fingerprint); the current snapshot is "good" until a
    fetch is stored."""
    state, current, seen = OutageState(), "good", []
    for suspicion, fingerprint in steps:
        if suspicion is None and fingerprint == current:  # unchanged content: judged against the current one
            judgement = judge_outage(state, None, current, rules)
        else:
            judgement = judge_outage(state, suspicion, fingerprint, rules)
            if judgement.step is not Step.HOLD:
                current = fingerprint
        state = OutageState(judgement.state.fingerprint, judgement.state.seen,
                            confirmed=judgement.state.fingerprint == current)
        seen.append((judgement.step, judgement.event))
    return seen


JUDGED: list[tuple[str, list[tuple[Suspicion | None, str]], OutageRules, list[tuple[Step, str | None]]]] = [
    ("held, then the page is back unchanged", [(EMPTY, "blank"), (None, "good")], RULES,
     [(Step.HOLD, "suspected_outage"), (Step.STORE, "recovered")]),
    ("held, then back with a real change", [(EMPTY, "blank"), (None, "good-v2")], RULES,
     [(Step.HOLD, "suspected_outage"), (Step.STORE, "recovered")]),
    ("one more identical crawl confirms", [(EMPTY, "blank"), (EMPTY, "blank"), (None, "good")], RULES,
     [(Step.HOLD, "suspected_outage"), (Step.CONFIRM, None), (Step.STORE, "recovered")]),
    ("a confirmed outage that stays is the page as it is", [(EMPTY, "blank"), (EMPTY, "blank"), (None, "blank")],
     RULES, [(Step.HOLD, "suspected_outage"), (Step.CONFIRM, None), (Step.STORE, None)]),
    ("two more crawls with CLAIMWATCH_OUTAGE_CONFIRMATIONS=2", [(EMPTY, "blank")] * 3,
     OutageRules(confirmations=2), [(Step.HOLD, "suspected_outage"), (Step.HOLD, None), (Step.CONFIRM, None)]),
    ("other content during the outage starts the count again", [(EMPTY, "blank"), (EMPTY, "other"), (EMPTY, "other")],
     RULES, [(Step.HOLD, "suspected_outage"), (Step.HOLD, None), (Step.CONFIRM, None)]),
    ("a bot challenge is never the seller's page", [(CHALLENGE, "challenge")] * 4 + [(None, "good")], RULES,
     [(Step.HOLD, "suspected_outage")] + [(Step.HOLD, None)] * 3 + [(Step.STORE, "recovered")]),
    ("no outage", [(None, "good"), (None, "good-v2")], RULES, [(Step.STORE, None), (Step.STORE, None)]),
]


@pytest.mark.parametrize(("name", "steps", "rules", "expected"), JUDGED, ids=[case[0] for case in JUDGED])
def test_how_an_outage_goes(name: str, steps: list[tuple[Suspicion | None, str]], rules: OutageRules,
                            expected: list[tuple[Step, str | None]]) -> None:
    assert _run(steps, rules) == expected


def test_outage_settings_are_read_from_the_environment() -> None:
    settings = load_settings({"CLAIMWATCH_OUTAGE_CONFIRMATIONS": "2", "CLAIMWATCH_OUTAGE_LOSS_SHARE": "0.9",
                              "CLAIMWATCH_OUTAGE_MIN_STATEMENTS": "8"}, cwd=Path("/tmp"))
    assert settings.outage_rules == OutageRules(confirmations=2, loss_share=0.9, min_statements=8)
    assert load_settings({}, cwd=Path("/tmp")).outage_rules == OutageRules()
    assert not load_settings({"CLAIMWATCH_OUTAGE_CONFIRMATIONS": "0"}, cwd=Path("/tmp")).outage_rules.enabled
    for name, value in [("CLAIMWATCH_OUTAGE_CONFIRMATIONS", "-1"), ("CLAIMWATCH_OUTAGE_LOSS_SHARE", "80%"),
                        ("CLAIMWATCH_OUTAGE_MIN_STATEMENTS", "1.5")]:
        with pytest.raises(ConfigError, match=name):
            load_settings({name: value}, cwd=Path("/tmp"))


# --- end to end: crawls through the CLI ----------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.05")


OUTAGES: dict[str, bytes] = {"empty": b"", "maintenance": MAINTENANCE, "challenge": CLOUDFLARE,
                             "mass_loss": MASS_LOSS}
Cli = Callable[..., Result]


def _home_id(db: str) -> int:
    """The start page's id (the fixture also links to pages that do not exist: 404s, then gone events)."""
    return min(page.id for page in rows(db, Page))


def _home(db: str) -> list[str]:
    """Outcomes of the start page's fetches."""
    return [fetch.outcome for fetch in rows(db, Fetch) if fetch.page_id == _home_id(db)]


def _home_events(db: str) -> list[tuple[str, str]]:
    return [(event.event, event.detail) for event in rows(db, Event) if event.page_id == _home_id(db)]


def _export(run_cli: Cli, db: str) -> list[dict[str, Any]]:
    pages = json.loads(run_cli("export", db=db).stdout)["pages"]
    return [page for page in pages if page["statements"]]


def _changes(db: str) -> list[tuple[str, str, str]]:
    return [(change.change, change.type, change.severity) for change in rows(db, Change)]


def _serve(server: SiteServer, body: bytes) -> None:
    server.overrides["/"] = (200, {"Content-Type": "text/html; charset=utf-8"}, body)


@pytest.mark.parametrize("kind", sorted(OUTAGES))
def test_an_outage_page_keeps_the_snapshot_and_the_return_reports_nothing(kind: str, run_cli, sqlite_url,
                                                                          site_server) -> None:
    server = site_server(CASE)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    before = _export(run_cli, sqlite_url)
    types = [statement["type"] for statement in before[0]["statements"]]
    assert len(types) >= 10 and {"money_back", "fda", "testimonial", "structure_function"} <= set(types)

    _serve(server, OUTAGES[kind])
    crawl(run_cli, sqlite_url)
    assert _changes(sqlite_url) == [], "an outage was reported as removed statements"
    assert _export(run_cli, sqlite_url) == before, "the last good snapshot must stay current"
    assert _home(sqlite_url)[-1] == "suspected_outage"
    [(event, detail)] = _home_events(sqlite_url)
    assert event == "suspected_outage" and kind.replace("_", " ") in detail, detail

    server.overrides.pop("/")
    crawl(run_cli, sqlite_url)
    assert _changes(sqlite_url) == [], "the page's return must not be reported"
    assert "reverted" not in _home(sqlite_url)
    assert [event for event, _ in _home_events(sqlite_url)] == ["suspected_outage", "recovered"]
    checked = [{**page, "last_checked_at": None} for page in _export(run_cli, sqlite_url)]
    assert checked == [{**page, "last_checked_at": None} for page in before]


def test_the_same_outage_on_the_next_crawl_is_reported_and_so_is_the_return(run_cli, db_url,
                                                                            site_server) -> None:
    server = site_server(CASE)
    setup_site(run_cli, db_url, "shop", f"{server.url}/")
    crawl(run_cli, db_url)
    # one change per distinct statement (the guarantee is repeated on the page)
    distinct = len({statement_key(statement["text"]) for statement in _export(run_cli, db_url)[0]["statements"]})
    assert distinct >= 10
    _serve(server, MAINTENANCE)
    crawl(run_cli, db_url)
    assert _changes(db_url) == []
    crawl(run_cli, db_url)  # the same maintenance page again: CLAIMWATCH_OUTAGE_CONFIRMATIONS=1 confirms
    removed = _changes(db_url)
    assert len(removed) == distinct and {change for change, _, _ in removed} == {"removed"}, removed
    assert ("removed", "money_back", "medium") in removed

    server.overrides.pop("/")
    crawl(run_cli, db_url)
    back = _changes(db_url)[len(removed):]
    assert len(back) == distinct and {change for change, _, _ in back} == {"added"}, (
        "the statements that came back must be reported, not hidden as a flip back to an earlier variant")
    assert "reverted" not in _home(db_url)
    assert [event for event, _ in _home_events(db_url)] == ["suspected_outage", "recovered"]


def test_confirmations_are_a_setting_and_a_bot_challenge_never_confirms(run_cli, sqlite_url, site_server,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_OUTAGE_CONFIRMATIONS", "2")
    server = site_server(CASE)
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/")
    crawl(run_cli, sqlite_url)
    _serve(server, CLOUDFLARE)
    for _ in range(3):
        crawl(run_cli, sqlite_url)
    assert _changes(sqlite_url) == [], "a bot challenge is the firewall's page, not the seller's"
    _serve(server, b"")
    crawl(run_cli, sqlite_url)
    crawl(run_cli, sqlite_url)
    assert _changes(sqlite_url) == [], "two more crawls confirm with CLAIMWATCH_OUTAGE_CONFIRMATIONS=2"
    crawl(run_cli, sqlite_url)
    assert {change for change, _, _ in _changes(sqlite_url)} == {"removed"}
    assert [event for event, _ in _home_events(sqlite_url)] == ["suspected_outage"]
