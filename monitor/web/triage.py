"""Triage: an analyst's decision about a change or a page event (acknowledged, escalated with a note), and
statement mutes (later changes of a muted statement are kept and shown, never mailed). Flask-free: the
web app writes it; the JSON export and the reports read it.

>>> with sessions.begin() as session:                                      # doctest: +SKIP
...     triage(session, [("change", 42)], "escalated", note="ask legal", actor="ann")
>>> states_for_changes(session, [42])[42].state                           # doctest: +SKIP
'escalated'
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import Change, Event, StatementMute, StatementRow, Triage, WebUser, utcnow
from monitor.web.audit import record

STATES: tuple[str, ...] = ("acknowledged", "escalated")
ITEM_KINDS: tuple[str, ...] = ("change", "event")
MAX_NOTE = 4000


class TriageError(ValueError):
    """A one-line problem with a triage request (unknown item, bad state...)."""


@dataclass(frozen=True, slots=True)
class TriageState:
    """What the JSON export and the reports show of a triage decision."""

    state: str
    actor: str
    at: datetime
    note: str

    def as_json(self) -> dict[str, str]:
        return {"state": self.state, "by": self.actor, "at": _iso(self.at), "note": self.note}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def states_for_changes(session: Session, change_ids: Iterable[int]) -> dict[int, TriageState]:
    ids = sorted(set(change_ids))
    found: dict[int, TriageState] = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(Triage).where(Triage.change_id.in_(chunk))):
            assert row.change_id is not None
            found[row.change_id] = TriageState(row.state, row.actor, row.at, row.note)
    return found


def states_for_events(session: Session, event_ids: Iterable[int]) -> dict[int, TriageState]:
    ids = sorted(set(event_ids))
    found: dict[int, TriageState] = {}
    for chunk in _chunks(ids):
        for row in session.scalars(select(Triage).where(Triage.event_id.in_(chunk))):
            assert row.event_id is not None
            found[row.event_id] = TriageState(row.state, row.actor, row.at, row.note)
    return found


def triage(session: Session, items: Sequence[tuple[str, int]], state: str, *, actor: str, note: str = "",
           user: WebUser | None = None, ip: str | None = None) -> int:
    """Set the state of each (``"change"`` or ``"event"``, id); returns how many exist and were set. A
    later decision replaces an earlier one (the audit log keeps both)."""
    if state not in STATES:
        raise TriageError(f"unknown triage state {state!r} (one of {', '.join(STATES)})")
    if state == "escalated" and not note.strip():
        raise TriageError("an escalation needs a note saying why")
    note = note.strip()[:MAX_NOTE]
    done = 0
    for kind, item_id in items:
        if kind not in ITEM_KINDS:
            raise TriageError(f"unknown item kind {kind!r}")
        model = Change if kind == "change" else Event
        if session.get(model, item_id) is None:
            continue
        column = Triage.change_id if kind == "change" else Triage.event_id
        row = session.scalar(select(Triage).where(column == item_id))
        if row is None:
            row = Triage(change_id=item_id if kind == "change" else None,
                         event_id=item_id if kind == "event" else None)
            session.add(row)
        row.state, row.note, row.actor, row.at = state, note, actor, utcnow()
        row.user_id = user.id if user is not None else None
        record(session, f"triage.{state[:3]}", actor=actor, target=f"{kind} {item_id}", user=user, ip=ip,
               detail={"note": note} if note else {})
        done += 1
    session.flush()
    return done


def untriage(session: Session, kind: str, item_id: int, *, actor: str, user: WebUser | None = None,
             ip: str | None = None) -> bool:
    """Put an item back in the inbox."""
    column = Triage.change_id if kind == "change" else Triage.event_id
    row = session.scalar(select(Triage).where(column == item_id))
    if row is None:
        return False
    session.delete(row)
    record(session, "triage.reopen", actor=actor, target=f"{kind} {item_id}", user=user, ip=ip)
    return True


# --- mutes ---------------------------------------------------------------------------------------------


def statement_keys(session: Session, changes: Sequence[Change]) -> dict[int, set[str]]:
    """Each change's statement keys: of its old statement (in the snapshot before) and of its new one."""
    wanted: dict[tuple[int, str], list[int]] = {}
    for change in changes:
        for snapshot_id, text in ((change.before_snapshot_id, change.before), (change.after_snapshot_id, change.after)):
            if snapshot_id and text is not None:
                wanted.setdefault((snapshot_id, text), []).append(change.id)
    keys: dict[int, set[str]] = {change.id: set() for change in changes}
    snapshot_ids = sorted({snapshot_id for snapshot_id, _text in wanted})
    for chunk in _chunks(snapshot_ids):
        rows = session.execute(select(StatementRow.snapshot_id, StatementRow.text, StatementRow.key)
                               .where(StatementRow.snapshot_id.in_(chunk)))
        for snapshot_id, text, key in rows:
            for change_id in wanted.get((snapshot_id, text), ()):
                keys[change_id].add(key)
    return keys


def muted_changes(session: Session, changes: Sequence[Change]) -> dict[int, StatementMute]:
    """The changes (id -> mute) that touch a muted statement of their page: a mute standing now, or one
    that stood when the change was detected."""
    if not changes:
        return {}
    page_ids = sorted({change.page_id for change in changes})
    mutes: dict[tuple[int, str], list[StatementMute]] = {}
    for chunk in _chunks(page_ids):
        for mute in session.scalars(select(StatementMute).where(StatementMute.page_id.in_(chunk))):
            mutes.setdefault((mute.page_id, mute.key), []).append(mute)
    if not mutes:
        return {}
    keys = statement_keys(session, changes)
    found: dict[int, StatementMute] = {}
    for change in changes:
        for key in keys.get(change.id, ()):
            for mute in mutes.get((change.page_id, key), ()):
                standing = mute.lifted_at is None
                stood = mute.created_at <= change.detected_at and (mute.lifted_at is None
                                                                    or change.detected_at < mute.lifted_at)
                if standing or stood:
                    found[change.id] = mute
    return found


def mute_change_statement(session: Session, change_id: int, *, actor: str, note: str = "",
                          user: WebUser | None = None, ip: str | None = None) -> StatementMute:
    """Mute the statement a change is about (its new statement, or the old one for a removal)."""
    change = session.get(Change, change_id)
    if change is None:
        raise TriageError(f"no change {change_id}")
    keys = statement_keys(session, [change])[change.id]
    text = change.after if change.after is not None else change.before or ""
    snapshot_id = change.after_snapshot_id if change.after is not None else change.before_snapshot_id
    key = session.scalar(select(StatementRow.key).where(StatementRow.snapshot_id == snapshot_id,
                                                        StatementRow.text == text).limit(1)) if snapshot_id else None
    if key is None:
        if not keys:
            raise TriageError(f"change {change_id}: its statement is no longer stored; nothing to mute")
        key = sorted(keys)[0]
    existing = session.scalar(select(StatementMute).where(StatementMute.page_id == change.page_id,
                                                          StatementMute.key == key,
                                                          StatementMute.lifted_at.is_(None)))
    if existing is not None:
        return existing
    mute = StatementMute(page_id=change.page_id, key=key, kind=change.kind, type=change.type, text=text[:4000],
                         note=note.strip()[:MAX_NOTE], actor=actor, user_id=user.id if user is not None else None)
    session.add(mute)
    session.flush()
    record(session, "mute", actor=actor, target=f"page {change.page_id}", user=user, ip=ip,
           detail={"change": change_id, "statement": text[:300], "note": mute.note})
    return mute


def lift_mute(session: Session, mute_id: int, *, actor: str, user: WebUser | None = None,
              ip: str | None = None) -> StatementMute:
    mute = session.get(StatementMute, mute_id)
    if mute is None:
        raise TriageError(f"no mute {mute_id}")
    if mute.lifted_at is None:
        mute.lifted_at, mute.lifted_by = utcnow(), actor
        record(session, "mute.lift", actor=actor, target=f"page {mute.page_id}", user=user, ip=ip,
               detail={"statement": mute.text[:300]})
    return mute


def page_mutes(session: Session, page_id: int) -> list[StatementMute]:
    return list(session.scalars(select(StatementMute).where(StatementMute.page_id == page_id)
                                .order_by(StatementMute.created_at.desc())))
