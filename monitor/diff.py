"""Statement-level diff between two snapshots of a page: what changed, and how much it matters.

Pure functions: statements in, ``StatementChange`` values out. No database, no Scrapy.

Matching, in order:

1. **By key.** Keys are compared as *sets* after one more defensive fold (``match_key``: case, accents
   written two ways, whitespace, punctuation, quotes, ``&nbsp;`` and noise such as prices or timestamps
   inside a sentence). A sentence repeated N times on a page is one key, so it changes once, not N times;
   the first occurrence gives the change its position and text.
2. **By similarity**, only among the leftovers (removed vs added keys of the same kind): rapidfuzz
   ``token_set_ratio`` over the keys, at least ``similarity`` (0-100). Pairs are taken best score first,
   ties broken by the closer position. A matched pair is one ``modified`` change with a word-level inline
   diff; everything else is ``added`` or ``removed``.

Because both sides are folded the same way, a pair whose texts differ only by case, punctuation,
whitespace or markup has equal keys and is never reported: a ``modified`` change always has a real word
change.

Severity (TAXONOMY.md; the tables below are the rules):

- added: the statement's own severity, a disease claim is always ``high`` (``serious`` terms flagged in
  the delta); an added disclaimer is an improvement: ``low``.
- removed: a claim is an improvement (``low``); a guarantee removed is ``medium``; the DSHEA (``fda``)
  disclaimer removed is ``high`` while structure/function claims remain in the new snapshot, ``medium``
  while other claims remain, ``low`` when the page no longer makes claims or still has another verbatim
  DSHEA disclaimer; a ``results_vary`` or ``other`` (paid endorser, actor) disclaimer removed while
  testimonials remain is ``medium``; other disclaimers removed are ``low``.
- modified: a claim takes its new severity unless it got milder (then ``low``, e.g. a disease claim
  softened into a structure/function claim, shown with ``before_type``); a claim rewritten into a disease
  claim is ``high``. A guarantee shortened, losing "lifetime", with its refund cut, its refund wording
  gone, or with (unfavourable) conditions added is ``medium``; otherwise ``low``. A DSHEA disclaimer
  that stops being verbatim is ``medium``. A change never ranks below the new statement's severity when
  that severity rose.

Anti-flap (``history``): the statement lists of the K snapshots before ``before``, newest first.

- an ``added`` statement whose key is in any history snapshot was seen recently: not reported again;
- a ``removed`` statement whose key is absent from a history snapshot that is otherwise similar to the
  new snapshot (Jaccard of keys >= 0.8): the page went back to a recent state: not reported again;
- a ``modified`` pair is not reported when one history snapshot holds the new key but not the old one.

So a page flipping between variants A and B reports A -> B once and is quiet on every later flip while
the variants stay within the last K snapshots.

>>> from monitor.statements import Statement
>>> old = [Statement("guarantee", "money_back", "90-day money-back guarantee", "90 day money back guarantee",
...                  attributes={"days": 90})]
>>> new = [Statement("guarantee", "money_back", "30-day money-back guarantee", "30 day money back guarantee",
...                  attributes={"days": 30})]
>>> [(c.change, c.severity, c.delta["days"]) for c in diff_statements(old, new)]
[('modified', 'medium', [90, 30])]
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from monitor.noise import strip_noise
from monitor.statements import Statement, severity_rank

__all__ = [
    "StatementChange",
    "diff_statements",
    "guarantee_delta",
    "match_key",
    "inline_diff",
    "FLAP_SIMILARITY",
]

#: How alike (Jaccard of keys) a history snapshot must be to the new one for a removal to count as a flip.
FLAP_SIMILARITY = 0.8

# --- rules as data -------------------------------------------------------------------------------------

#: Severity of a removed statement by (kind, type); ``None`` means any type of that kind. ``fda``,
#: ``results_vary`` and disclaimer ``other`` depend on what remains on the page (see ``_removed``).
REMOVED_SEVERITY: dict[tuple[str, str | None], str] = {
    ("claim", None): "low",  # an improvement
    ("guarantee", None): "medium",
    ("disclaimer", None): "low",
}

#: Refund wordings from most to least generous; ``None`` (no wording) is unknown, never compared.
REFUND_RANK: dict[str, int] = {"100%": 2, "full": 2, "partial": 0}

#: Guarantee conditions that favour the buyer: adding one is an improvement, removing one makes it worse.
FAVOURABLE_CONDITIONS: tuple[str, ...] = (
    "empty bottle",
    "empty bottles",
    "even empty",
    "no questions asked",
    "free return",
    "free returns",
    "return shipping paid",
    "shipping refunded",
)

#: Delta reasons that make a modified guarantee ``medium``.
GUARANTEE_WORSE: frozenset[str] = frozenset(
    {"shortened", "lifetime_lost", "refund_cut", "refund_removed", "conditions_added", "favourable_removed"}
)

#: Disclaimer types whose removal matters while testimonials remain (16 CFR 255.2, 255.5).
TESTIMONIAL_DISCLAIMERS: frozenset[str] = frozenset({"results_vary", "other"})


# --- the change value ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementChange:
    """One statement-level change between two snapshots of a page.

    ``type`` is the statement's type after the change (before it, for ``removed``); ``before_type`` is set
    on a ``modified`` change whose type changed. ``delta`` holds structured attribute changes, e.g.
    ``{"days": [90, 30], "refund": ["full", "partial"], "conditions_added": ["less shipping"],
    "type": ["disease", "structure_function"], "worse": ["shortened"], "better": []}``. ``inline`` is a
    word-level diff of a ``modified`` change: ``(("equal", "Try it for"), ("delete", "90"), ("insert",
    "30"), ("equal", "days"))``. ``key`` is the statement's key (the new one for ``modified``).
    """

    change: str
    kind: str
    type: str
    before_type: str | None
    before: str | None
    after: str | None
    severity: str
    delta: dict[str, Any] = field(default_factory=dict)
    inline: tuple[tuple[str, str], ...] = ()
    before_position: int | None = None
    after_position: int | None = None
    key: str = ""


# --- keys ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _fold(key: str) -> str:
    return strip_noise(key)


def match_key(statement: Statement) -> str:
    """The key two snapshots are matched on: the statement's key folded once more (idempotent).

    >>> match_key(Statement("claim", "efficacy", "x", "Works\u00a0FAST!!"))
    'works fast'
    """
    return _fold(statement.key or statement.text)


def _first_by_key(statements: Iterable[Statement]) -> dict[str, Statement]:
    """Keys to the first statement (in page order) that has them; a repeated sentence is one entry."""
    by_key: dict[str, Statement] = {}
    for statement in sorted(statements, key=_position):
        by_key.setdefault(match_key(statement), statement)
    by_key.pop("", None)
    return by_key


def _position(statement: Statement) -> int:
    return statement.position


# --- deltas ----------------------------------------------------------------------------------------------


def _conditions(value: Any) -> dict[str, str]:
    """Condition strings by a folded form, so "Less shipping." and "less shipping" are one condition."""
    if not value:
        return {}
    items = [value] if isinstance(value, str) else list(value)
    return {" ".join(str(i).casefold().replace("-", " ").split()).strip(" .;,"): str(i) for i in items}


def _favourable(condition: str) -> bool:
    return any(marker in condition for marker in FAVOURABLE_CONDITIONS)


def guarantee_delta(before_attrs: Mapping[str, Any], after_attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Structured difference between two guarantees' attributes.

    Keys present only when something differs: ``days`` and ``lifetime`` and ``refund`` as ``[before,
    after]``, ``conditions_added`` / ``conditions_removed`` as lists; always ``worse`` and ``better``: the
    reason codes (``shortened``, ``lengthened``, ``lifetime_lost``, ``lifetime_added``, ``refund_cut``,
    ``refund_raised``, ``conditions_added``, ``conditions_removed``, ``favourable_added``,
    ``favourable_removed``).

    >>> d = guarantee_delta({"days": 90, "refund": "full"}, {"days": 30, "refund": "full",
    ...                     "conditions": ["less shipping"]})
    >>> d["days"], d["conditions_added"], d["worse"]
    ([90, 30], ['less shipping'], ['shortened', 'conditions_added'])
    """
    delta: dict[str, Any] = {}
    worse: list[str] = []
    better: list[str] = []

    before_days, after_days = before_attrs.get("days"), after_attrs.get("days")
    before_life, after_life = bool(before_attrs.get("lifetime")), bool(after_attrs.get("lifetime"))
    if before_days != after_days:
        delta["days"] = [before_days, after_days]
    if before_life != after_life:
        delta["lifetime"] = [before_life, after_life]
    before_cycle, after_cycle = before_attrs.get("cycle_days"), after_attrs.get("cycle_days")
    if before_cycle != after_cycle:  # an auto-ship's cycle: stated, neither better nor worse for the buyer
        delta["cycle_days"] = [before_cycle, after_cycle]
    if before_life and not after_life:
        worse.append("lifetime_lost")
    elif after_life and not before_life:
        better.append("lifetime_added")
    elif isinstance(before_days, int) and isinstance(after_days, int):
        if after_days < before_days:
            worse.append("shortened")
        elif after_days > before_days:
            better.append("lengthened")

    before_refund, after_refund = before_attrs.get("refund"), after_attrs.get("refund")
    if before_refund != after_refund:
        delta["refund"] = [before_refund, after_refund]
        before_rank, after_rank = REFUND_RANK.get(str(before_refund)), REFUND_RANK.get(str(after_refund))
        if before_rank is not None and after_rank is not None:
            if after_rank < before_rank:
                worse.append("refund_cut")
            elif after_rank > before_rank:
                better.append("refund_raised")
        elif after_rank == 0:  # unknown -> partial: less than the money back that was implied
            worse.append("refund_cut")

    before_conditions = _conditions(before_attrs.get("conditions"))
    after_conditions = _conditions(after_attrs.get("conditions"))
    added = [folded for folded in after_conditions if folded not in before_conditions]
    removed = [folded for folded in before_conditions if folded not in after_conditions]
    if added:
        delta["conditions_added"] = [after_conditions[folded] for folded in added]
        if any(not _favourable(folded) for folded in added):
            worse.append("conditions_added")
        if any(_favourable(folded) for folded in added):
            better.append("favourable_added")
    if removed:
        delta["conditions_removed"] = [before_conditions[folded] for folded in removed]
        if any(_favourable(folded) for folded in removed):
            worse.append("favourable_removed")
        if any(not _favourable(folded) for folded in removed):
            better.append("conditions_removed")

    delta["worse"] = worse
    delta["better"] = better
    return delta


def _disease_facts(statement: Statement) -> dict[str, Any]:
    """``terms`` and ``serious`` of a disease claim, for the delta."""
    attrs = statement.attributes
    facts: dict[str, Any] = {}
    terms = attrs.get("terms")
    if terms:
        facts["terms"] = list(terms) if not isinstance(terms, str) else [terms]
    serious = attrs.get("serious")
    if isinstance(serious, list | tuple | set | frozenset):
        facts["serious"] = bool(serious)
        if serious:
            facts["serious_terms"] = sorted(str(term) for term in serious)
    elif serious is not None:
        facts["serious"] = bool(serious)
    return facts


def _attribute_delta(before: Statement, after: Statement) -> dict[str, Any]:
    """Structured delta of a modified pair."""
    delta: dict[str, Any] = {}
    if before.type != after.type:
        delta["type"] = [before.type, after.type]
    if after.kind == "guarantee":
        if before.kind == "guarantee":
            delta.update(guarantee_delta(before.attributes, after.attributes))
        if before.type == "money_back" and after.type != "money_back":
            delta.setdefault("worse", []).append("refund_removed")
        elif after.type == "money_back" and before.type != "money_back":
            delta.setdefault("better", []).append("refund_added")
    elif after.kind == "claim":
        if after.type == "disease":
            delta.update(_disease_facts(after))
            if before.type == "disease":
                old_terms = set(_disease_facts(before).get("terms", ()))
                new_terms = delta.get("terms", [])
                added_terms = [t for t in new_terms if t not in old_terms]
                if added_terms:
                    delta["terms_added"] = added_terms
    elif after.kind == "disclaimer" and "fda" in (before.type, after.type):
        for name in ("verbatim", "plural"):
            old, new = before.attributes.get(name), after.attributes.get(name)
            if old != new:
                delta[name] = [old, new]
    return delta


# --- severity --------------------------------------------------------------------------------------------


def _max_severity(*severities: str) -> str:
    return max(severities, key=severity_rank)


def _added_severity(statement: Statement) -> str:
    if statement.kind == "disclaimer":
        return "low"  # a disclaimer added is an improvement
    if statement.kind == "claim" and statement.type == "disease":
        return "high"
    return statement.severity if severity_rank(statement.severity) >= 0 else "low"


def _page_facts(after: Sequence[Statement]) -> tuple[bool, bool, bool, bool]:
    """(structure/function claims, any claims, testimonials, a verbatim DSHEA disclaimer) in ``after``."""
    sf = claims = testimonials = dshea = False
    for statement in after:
        if statement.kind == "claim":
            claims = True
            if statement.type == "structure_function":
                sf = True
            elif statement.type == "testimonial":
                testimonials = True
        elif statement.kind == "disclaimer" and statement.type == "fda" and statement.attributes.get(
            "verbatim", True
        ):
            dshea = True
    return sf, claims, testimonials, dshea


def _removed_severity(
    statement: Statement, facts: tuple[bool, bool, bool, bool], reasons: list[str]
) -> str:
    sf, claims, testimonials, dshea = facts
    if statement.kind == "disclaimer" and statement.type == "fda":
        if dshea:
            reasons.append("dshea_still_present")
            return "low"
        if sf:
            reasons.append("dshea_removed_with_structure_function_claims")
            return "high"
        if claims:
            reasons.append("dshea_removed_with_claims")
            return "medium"
        reasons.append("dshea_removed_no_claims")
        return "low"
    if statement.kind == "disclaimer" and statement.type in TESTIMONIAL_DISCLAIMERS and testimonials:
        reasons.append("testimonial_disclaimer_removed")
        return "medium"
    severity = REMOVED_SEVERITY.get((statement.kind, statement.type))
    if severity is None:
        severity = REMOVED_SEVERITY.get((statement.kind, None), "low")
    return severity


def _modified_severity(
    before: Statement,
    after: Statement,
    delta: dict[str, Any],
    facts: tuple[bool, bool, bool, bool],
) -> str:
    rose = severity_rank(after.severity) > severity_rank(before.severity)
    base = after.severity if rose and severity_rank(after.severity) >= 0 else "low"
    if after.kind == "claim":
        if after.type == "disease":
            return "high"
        if before.kind == "claim" and severity_rank(after.severity) >= severity_rank(before.severity) >= 0:
            return after.severity  # a rewritten claim is a new claim to assess, unless it got milder
        return base
    if after.kind == "guarantee":
        if GUARANTEE_WORSE.intersection(delta.get("worse", ())):
            return _max_severity(base, "medium")
        return base
    if after.kind == "disclaimer":
        if before.type == "fda" and after.type != "fda":
            return _max_severity(base, _removed_severity(before, facts, []))
        if after.type == "fda" and before.attributes.get("verbatim", True) and not after.attributes.get(
            "verbatim", True
        ):
            return _max_severity(base, "medium")
        if before.type in TESTIMONIAL_DISCLAIMERS and after.type not in TESTIMONIAL_DISCLAIMERS:
            return _max_severity(base, _removed_severity(before, facts, []))
        return base
    return base


# --- inline diff -----------------------------------------------------------------------------------------


def inline_diff(before: str, after: str) -> tuple[tuple[str, str], ...]:
    """Word-level diff: runs of ``("equal" | "delete" | "insert", words)``.

    >>> inline_diff("Try it for 90 days", "Try it for 30 days")
    (('equal', 'Try it for'), ('delete', '90'), ('insert', '30'), ('equal', 'days'))
    """
    old, new = before.split(), after.split()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            runs.append(("equal", " ".join(old[i1:i2])))
            continue
        if op in ("delete", "replace"):
            runs.append(("delete", " ".join(old[i1:i2])))
        if op in ("insert", "replace"):
            runs.append(("insert", " ".join(new[j1:j2])))
    return tuple(runs)


# --- matching --------------------------------------------------------------------------------------------


def _fuzzy_pairs(
    removed: dict[str, Statement], added: dict[str, Statement], similarity: float
) -> list[tuple[str, str]]:
    """Greedy best-first pairing of leftover keys of the same kind scoring at least ``similarity``."""
    candidates: list[tuple[float, int, str, str]] = []
    added_by_kind: dict[str, list[str]] = {}
    for key, statement in added.items():
        added_by_kind.setdefault(statement.kind, []).append(key)
    for old_key, old in removed.items():
        choices = added_by_kind.get(old.kind)
        if not choices:
            continue
        for new_key, score, _index in process.extract(
            old_key, choices, scorer=fuzz.token_set_ratio, score_cutoff=similarity, limit=None
        ):
            distance = abs(added[new_key].position - old.position)
            candidates.append((-score, distance, old_key, new_key))
    candidates.sort()
    pairs: list[tuple[str, str]] = []
    used_old: set[str] = set()
    used_new: set[str] = set()
    for _score, _distance, old_key, new_key in candidates:
        if old_key in used_old or new_key in used_new:
            continue
        used_old.add(old_key)
        used_new.add(new_key)
        pairs.append((old_key, new_key))
    return pairs


def _drop_same_text(removed: dict[str, Statement], added: dict[str, Statement]) -> None:
    """Leftovers whose texts fold to the same words are one statement (noise the key kept, e.g. a price
    whose ``$`` the key had already folded away): drop them from both sides."""
    by_text = {_fold(statement.text): key for key, statement in added.items()}
    for key, statement in list(removed.items()):
        twin = by_text.pop(_fold(statement.text), None)
        if twin is not None:
            del removed[key]
            del added[twin]


# --- anti-flap -------------------------------------------------------------------------------------------


def _jaccard(a: set[str] | frozenset[str], b: set[str] | frozenset[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class _History:
    """Key sets of recent snapshots, and which of them look like the new snapshot."""

    def __init__(self, history: Sequence[Sequence[Statement]], after_keys: set[str]) -> None:
        self.snapshots = [frozenset(_first_by_key(snapshot)) for snapshot in history]
        self.similar = [keys for keys in self.snapshots if _jaccard(keys, after_keys) >= FLAP_SIMILARITY]

    def seen(self, key: str) -> bool:
        return any(key in keys for keys in self.snapshots)

    def recently_absent(self, key: str) -> bool:
        return any(key not in keys for keys in self.similar)

    def reverted(self, old_key: str, new_key: str) -> bool:
        return any(new_key in keys and old_key not in keys for keys in self.snapshots)


# --- the diff --------------------------------------------------------------------------------------------


def diff_statements(
    before: Sequence[Statement],
    after: Sequence[Statement],
    *,
    history: Sequence[Sequence[Statement]] = (),
    similarity: float = 80.0,
) -> list[StatementChange]:
    """Changes from ``before`` to ``after`` (see the module docstring for matching, severity, anti-flap).

    ``history``: statement lists of the snapshots before ``before`` (newest first, K of them) used to stay
    quiet about a page flipping between variants. ``similarity``: 0-100 cutoff for matching a rewrite.
    Changes come in page order (new position, or old position for removals).
    """
    old = _first_by_key(before)
    new = _first_by_key(after)
    removed = {key: statement for key, statement in old.items() if key not in new}
    added = {key: statement for key, statement in new.items() if key not in old}
    if removed and added:
        _drop_same_text(removed, added)
    if not removed and not added:
        return []

    pairs = _fuzzy_pairs(removed, added, similarity) if removed and added else []
    flaps = _History(history, set(new)) if history else None
    facts = _page_facts(after)
    changes: list[StatementChange] = []

    for old_key, new_key in pairs:
        a, b = removed.pop(old_key), added.pop(new_key)
        if flaps is not None and flaps.reverted(old_key, new_key):
            continue
        delta = _attribute_delta(a, b)
        changes.append(
            StatementChange(
                change="modified",
                kind=b.kind,
                type=b.type,
                before_type=a.type if a.type != b.type else None,
                before=a.text,
                after=b.text,
                severity=_modified_severity(a, b, delta, facts),
                delta=delta,
                inline=inline_diff(a.text, b.text),
                before_position=a.position,
                after_position=b.position,
                key=b.key,
            )
        )

    for key, statement in added.items():
        if flaps is not None and flaps.seen(key):
            continue
        delta = _disease_facts(statement) if statement.kind == "claim" and statement.type == "disease" else {}
        changes.append(
            StatementChange(
                change="added",
                kind=statement.kind,
                type=statement.type,
                before_type=None,
                before=None,
                after=statement.text,
                severity=_added_severity(statement),
                delta=delta,
                after_position=statement.position,
                key=statement.key,
            )
        )

    for key, statement in removed.items():
        if flaps is not None and flaps.recently_absent(key):
            continue
        reasons: list[str] = []
        severity = _removed_severity(statement, facts, reasons)
        delta = {"reasons": reasons} if reasons else {}
        changes.append(
            StatementChange(
                change="removed",
                kind=statement.kind,
                type=statement.type,
                before_type=None,
                before=statement.text,
                after=None,
                severity=severity,
                delta=delta,
                before_position=statement.position,
                key=statement.key,
            )
        )

    changes.sort(key=_change_order)
    return changes


def _change_order(change: StatementChange) -> tuple[int, int]:
    position = change.after_position if change.after_position is not None else change.before_position
    return (position if position is not None else 0, 0 if change.change != "removed" else 1)
