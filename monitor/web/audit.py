"""The audit log: who did what, when and from where (web sign-ins, triage, mutes, crawls, downloads, and
the admin actions of the web app and of `claimwatch users`)."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.models import AuditEntry, WebUser


def cli_actor() -> str:
    """``cli:<os user>``: the actor of a change made with the command line."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no name for this uid (containers)
        return "cli:unknown"


def record(session: Session, action: str, *, actor: str, target: str = "", user: WebUser | None = None,
           detail: Mapping[str, Any] | None = None, ip: str | None = None) -> AuditEntry:
    """Add one entry in the caller's transaction: ``record(s, "triage.ack", actor="ann", target="change 4")``."""
    entry = AuditEntry(action=action[:32], actor=actor[:100], target=target[:500], detail=dict(detail or {}),
                       ip=(ip or None) and ip[:64], user_id=user.id if user is not None else None)
    session.add(entry)
    return entry


def recent(session: Session, *, limit: int = 200, offset: int = 0, actor: str | None = None,
           action: str | None = None) -> list[AuditEntry]:
    """The newest entries first."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    return list(session.scalars(query.limit(limit).offset(offset)))
