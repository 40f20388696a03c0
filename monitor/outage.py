"""Suspected outages: a page that answered 200 but shows the site's trouble, not the seller's page.

Pure functions, no database, called by ``monitor.history.decide``: ``suspect_outage`` looks at one fetch
(its raw body, its visible text and the statement keys before and after) and names what it looks like;
``judge_outage`` decides, from what the page row remembers (``OutageState``), whether the fetch is held
back, stored, or stored after confirmation.

A suspected outage (``OutageKind``):

- ``empty``: a body with nothing in it, or no visible text at all;
- ``challenge``: a bot-challenge or firewall page (Cloudflare, Akamai, Sucuri, Imperva/Incapsula,
  DataDome, PerimeterX: their wording or the markup and script names of their interstitials);
- ``maintenance``: a maintenance page ("we'll be back soon", "down for maintenance"...);
- ``mass_loss``: nearly all statements gone at once (>= ``loss_share`` of >= ``min_statements``) and
  nothing added.

Wording and markup count only on a short page (``short_text`` characters of visible text) that lost at least
half of its statements (or never had any): a product page that says "temporarily unavailable" about a
flavour, or that carries a firewall's script, keeps its changes.

While an outage is suspected the page keeps its current snapshot: no new snapshot and no change; a
``suspected_outage`` event when it starts, a ``recovered`` one when the page shows its content again. The
same content on ``confirmations`` more crawls makes it the page's content after all (its removals are then
reported), except a bot challenge: that is the firewall's page, never the seller's.

>>> suspect_outage(PageSignals(b"", "", before=frozenset({"a"}), after=frozenset()), OutageRules()).kind
<OutageKind.EMPTY: 'empty'>
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "OutageKind", "OutageRules", "PageSignals", "Suspicion", "suspect_outage",
    "OutageState", "Step", "Judgement", "judge_outage",
]


class OutageKind(StrEnum):
    EMPTY = "empty"
    CHALLENGE = "challenge"
    MAINTENANCE = "maintenance"
    MASS_LOSS = "mass_loss"


# --- rules as data -----------------------------------------------------------------------------------------

#: Visible wording of maintenance pages (lower case, straight apostrophes).
MAINTENANCE_PHRASES: tuple[str, ...] = (
    "we'll be back soon", "we will be back soon", "we'll be back shortly", "be right back",
    "down for maintenance", "under maintenance", "undergoing maintenance", "scheduled maintenance",
    "maintenance mode", "temporarily unavailable", "temporarily down", "briefly unavailable",
    "site is currently unavailable", "service unavailable", "store is unavailable",
)

#: Visible wording of bot-challenge and firewall pages.
CHALLENGE_PHRASES: tuple[str, ...] = (
    "checking your browser", "checking if the site connection is secure", "just a moment",
    "verify you are human", "verifying you are human", "verify that you are human", "are you a robot",
    "enable javascript and cookies to continue", "complete the security check", "attention required",
    "ddos protection by", "pardon our interruption", "press & hold", "access to this page has been denied",
    "request unsuccessful", "incapsula incident", "you don't have permission to access", "website firewall",
)

#: Markup and script names of the interstitials (lower case), looked for in the raw body. Only names of the
#: challenge pages themselves: the scripts these services inject into ordinary pages are not listed.
CHALLENGE_MARKUP: tuple[str, ...] = (
    "_cf_chl_opt", "cf-browser-verification", "/cdn-cgi/challenge-platform/h/", "cf-challenge",  # Cloudflare
    "errors.edgesuite.net",  # Akamai's "Access Denied ... Reference #"
    "sucuri_cloudproxy", "sucuri website firewall",  # Sucuri
    "_incapsula_resource",  # Imperva / Incapsula
    "captcha-delivery.com",  # DataDome
    "px-captcha", "_pxcaptcha",  # PerimeterX / HUMAN
)

#: How much of the raw body is searched for markup (interstitials are a few KB).
MARKUP_WINDOW = 64 * 1024

#: Kinds whose content, seen again, is the page's content after all.
CONFIRMABLE: frozenset[OutageKind] = frozenset({OutageKind.EMPTY, OutageKind.MAINTENANCE, OutageKind.MASS_LOSS})

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


@dataclass(frozen=True, slots=True)
class OutageRules:
    """``confirmations``: further crawls with the same content that make a suspected outage the page's
    content (0: no outage detection); ``loss_share`` of at least ``min_statements`` statements gone at once
    is a mass loss; ``short_text``: the most visible text a maintenance or challenge page has."""

    confirmations: int = 1
    loss_share: float = 0.8
    min_statements: int = 5
    short_text: int = 2000

    @property
    def enabled(self) -> bool:
        return self.confirmations > 0


@dataclass(frozen=True, slots=True)
class PageSignals:
    """One fetch as the outage rules see it: ``before`` holds the statement keys of the page's current
    snapshot (None: it has none yet), ``after`` those of the fetched content."""

    body: bytes
    text: str
    before: frozenset[str] | None
    after: frozenset[str]


@dataclass(frozen=True, slots=True)
class Suspicion:
    kind: OutageKind
    evidence: str  # the wording or markup found, or the statements lost

    @property
    def confirmable(self) -> bool:
        return self.kind in CONFIRMABLE

    def __str__(self) -> str:
        what = {OutageKind.EMPTY: "empty page", OutageKind.CHALLENGE: "bot-challenge page",
                OutageKind.MAINTENANCE: "maintenance page", OutageKind.MASS_LOSS: "mass loss"}[self.kind]
        return f"{what} ({self.evidence})"


def _found(haystack: str, needles: tuple[str, ...]) -> str | None:
    return next((needle for needle in needles if needle in haystack), None)


def _lost_most(signals: PageSignals) -> bool:
    """At least half of the statements gone, or a page that said nothing before and says nothing now."""
    if not signals.before:
        return len(signals.after) <= 1
    kept = len(signals.before & signals.after)
    return kept * 2 < len(signals.before)


def suspect_outage(signals: PageSignals, rules: OutageRules) -> Suspicion | None:
    """What the fetch looks like when it is not the seller's page, or None when it is."""
    text = signals.text.strip()
    # a challenge first: some show nothing but a frame or a script, and are not an empty page to confirm
    short = len(text) <= rules.short_text and _lost_most(signals)
    # the page's words, folded: read only on a short page (a whole page's text costs ~1 ms to fold)
    words = " ".join(text.lower().translate(_APOSTROPHES).split()) if short else ""
    if short and (phrase := _found(words, CHALLENGE_PHRASES)):
        return Suspicion(OutageKind.CHALLENGE, f'"{phrase}"')
    if short and (marker := _found(signals.body[:MARKUP_WINDOW].decode("latin-1").lower(), CHALLENGE_MARKUP)):
        return Suspicion(OutageKind.CHALLENGE, f"markup {marker!r}")
    if not signals.body.strip() or not text:
        return Suspicion(OutageKind.EMPTY, "HTTP 200 with no visible text")
    if short and (phrase := _found(words, MAINTENANCE_PHRASES)):
        return Suspicion(OutageKind.MAINTENANCE, f'"{phrase}"')
    before = signals.before or frozenset()
    gone = len(before - signals.after)
    if (len(before) >= rules.min_statements and gone >= rules.loss_share * len(before)
            and not signals.after - before):
        return Suspicion(OutageKind.MASS_LOSS, f"{gone} of {len(before)} statements gone at once, none added")
    return None


# --- the page's outage state --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutageState:
    """What the page row remembers: the fingerprint of the content under suspicion and how many crawls
    showed it in a row; ``confirmed`` when that content became the page's current snapshot."""

    fingerprint: str | None = None
    seen: int = 0
    confirmed: bool = False

    @property
    def pending(self) -> bool:
        return self.fingerprint is not None and not self.confirmed


class Step(StrEnum):
    STORE = "store"  # not (or no longer) an outage: the fetch is stored as usual
    HOLD = "hold"  # a suspected outage: the current snapshot stays, only the fetch is recorded
    CONFIRM = "confirm"  # the suspected content was seen often enough: stored as the page's content


@dataclass(frozen=True, slots=True)
class Judgement:
    step: Step
    state: OutageState  # what the page row remembers afterwards
    event: str | None = None  # "suspected_outage" when an outage starts, "recovered" when it ends
    detail: str = ""


def judge_outage(state: OutageState, suspicion: Suspicion | None, fingerprint: str,
                 rules: OutageRules) -> Judgement:
    """The outage step of one fetch whose content has ``fingerprint``.

    >>> held = judge_outage(OutageState(), Suspicion(OutageKind.EMPTY, "blank"), "f1", OutageRules())
    >>> held.step, held.event
    (<Step.HOLD: 'hold'>, 'suspected_outage')
    >>> judge_outage(held.state, Suspicion(OutageKind.EMPTY, "blank"), "f1", OutageRules()).step
    <Step.CONFIRM: 'confirm'>
    """
    if state.confirmed and fingerprint == state.fingerprint:  # the confirmed content, still there
        return Judgement(Step.STORE, state)
    if suspicion is None:
        if state.fingerprint is None:
            return Judgement(Step.STORE, state)
        if state.confirmed:
            return Judgement(Step.STORE, OutageState(), "recovered",
                             f"content back after an outage confirmed on {state.seen} crawls")
        return Judgement(Step.STORE, OutageState(), "recovered",
                         f"content back after a suspected outage on {state.seen} "
                         f"crawl{'s' if state.seen != 1 else ''}: no statement was reported removed")
    if state.pending and state.fingerprint == fingerprint:
        seen = state.seen + 1
        if suspicion.confirmable and seen > rules.confirmations:
            return Judgement(Step.CONFIRM, OutageState(fingerprint, seen, confirmed=True))
        return Judgement(Step.HOLD, OutageState(fingerprint, seen))
    if state.pending:  # the outage goes on, showing something else
        return Judgement(Step.HOLD, OutageState(fingerprint, 1))
    if suspicion.confirmable:
        after = (f"reported only if the next {rules.confirmations} crawl{'s' if rules.confirmations != 1 else ''}"
                 " show the same")
    else:
        after = "held until the page shows its content again"
    return Judgement(Step.HOLD, OutageState(fingerprint, 1), "suspected_outage",
                     f"{suspicion}: the last good version is kept, its statements are not reported removed; "
                     f"{after}")
