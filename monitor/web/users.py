"""Web app accounts: argon2id password hashes, roles, sign-in with throttling (Flask-free, shared with
`claimwatch users`).

>>> with sessions.begin() as session:                                          # doctest: +SKIP
...     add_user(session, "ann", "a long passphrase", "analyst", actor="cli:root")
>>> with sessions.begin() as session:                                          # doctest: +SKIP
...     authenticate(session, "ann", "a long passphrase", ip="127.0.0.1").role
'analyst'
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from monitor.models import LoginAttempt, WebUser, utcnow
from monitor.web.audit import record

#: Roles from the least to the most trusted: viewers read, analysts triage and crawl, admins manage.
ROLES: tuple[str, ...] = ("viewer", "analyst", "admin")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes anything; a megabyte "password" is a denial of service, not a secret
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")

#: Sign-in throttling: this many failures within the window lock a name (or a client address) out until
#: the oldest failure leaves the window. Kept in the database: every worker and machine sees them.
MAX_FAILURES_PER_NAME = 5
MAX_FAILURES_PER_IP = 20
THROTTLE_WINDOW = timedelta(minutes=15)


class UserError(ValueError):
    """A one-line problem with an account operation (unknown user, weak password...)."""


class LoginThrottled(UserError):
    def __init__(self, retry_after: timedelta) -> None:
        self.retry_after = retry_after
        minutes = max(1, int(retry_after.total_seconds() + 59) // 60)
        super().__init__(f"too many failed sign-ins: try again in {minutes} minute{'s' if minutes != 1 else ''}")


#: argon2id parameters; empty: argon2-cffi's defaults (RFC 9106's low-memory profile: 3 passes over 64 MiB).
#: Tests lower them to keep the suite fast; a hash records its own parameters, so old hashes still verify
#: and are upgraded at the next sign-in.
HASHER_OPTIONS: dict[str, int] = {}


def password_hasher() -> PasswordHasher:
    return PasswordHasher(**HASHER_OPTIONS)  # type: ignore[arg-type]


@cache
def _dummy_hash(options: tuple[tuple[str, int], ...]) -> str:
    """A hash to verify against for unknown names (made on first use, not at import)."""
    return PasswordHasher(**dict(options)).hash(  # type: ignore[arg-type]
        "claimwatch: not a password")


def role_rank(role: str) -> int:
    """``role_rank("admin") > role_rank("viewer")``; an unknown role ranks below every role."""
    return ROLES.index(role) if role in ROLES else -1


def validate_name(name: str) -> str:
    name = name.strip().lower()
    if not _NAME.fullmatch(name):
        raise UserError(f"not a valid user name: {name!r} (lower-case letters, digits, '.', '_', '@', '-'; "
                        "at most 64 characters)")
    return name


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r} (choose from {', '.join(ROLES)})")
    return role


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def get_user(session: Session, name: str) -> WebUser:
    user = session.scalar(select(WebUser).where(WebUser.name == name.strip().lower()))
    if user is None:
        raise UserError(f"unknown user: {name}")
    return user


def list_users(session: Session) -> list[WebUser]:
    return list(session.scalars(select(WebUser).order_by(WebUser.name)))


def add_user(session: Session, name: str, password: str, role: str, *, actor: str,
             ip: str | None = None) -> WebUser:
    name, role = validate_name(name), validate_role(role)
    validate_password(password)
    if session.scalar(select(WebUser.id).where(WebUser.name == name)) is not None:
        raise UserError(f"user {name!r} already exists")
    user = WebUser(name=name, password_hash=hash_password(password), role=role, enabled=True, auth_epoch=0)
    session.add(user)
    session.flush()
    record(session, "user.add", actor=actor, target=f"user {name}", detail={"role": role}, ip=ip)
    return user


def set_password(session: Session, name: str, password: str, *, actor: str, ip: str | None = None) -> WebUser:
    """A new password; every session of the user ends (its ``auth_epoch`` moves on)."""
    validate_password(password)
    user = get_user(session, name)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.auth_epoch += 1
    record(session, "user.passwd", actor=actor, target=f"user {user.name}", ip=ip)
    return user


def set_enabled(session: Session, name: str, enabled: bool, *, actor: str, ip: str | None = None) -> WebUser:
    """Disable (sessions end at once) or enable an account."""
    user = get_user(session, name)
    if user.enabled != enabled:
        user.enabled = enabled
        user.auth_epoch += 1
        record(session, "user.enable" if enabled else "user.disable", actor=actor, target=f"user {user.name}",
               ip=ip)
    return user


def set_role(session: Session, name: str, role: str, *, actor: str, ip: str | None = None) -> WebUser:
    user = get_user(session, name)
    role = validate_role(role)
    if user.role != role:
        record(session, "user.role", actor=actor, target=f"user {user.name}", detail={"from": user.role, "to": role},
               ip=ip)
        user.role = role
        user.auth_epoch += 1
    return user


def _failures(session: Session, column: InstrumentedAttribute[str], value: str, since: datetime) -> list[datetime]:
    return list(session.scalars(
        select(LoginAttempt.at).where(column == value, LoginAttempt.at >= since, LoginAttempt.ok.is_(False))
       .order_by(LoginAttempt.at)
    ))


def throttle_wait(session: Session, name: str, ip: str, *, now: datetime | None = None) -> timedelta | None:
    """How long ``name`` (or ``ip``) must wait before another attempt, or None when it may try now."""
    now = now or utcnow()
    since = now - THROTTLE_WINDOW
    waits = []
    for column, value, limit in ((LoginAttempt.name, name, MAX_FAILURES_PER_NAME),
                                 (LoginAttempt.ip, ip, MAX_FAILURES_PER_IP)):
        failures = _failures(session, column, value, since)
        if len(failures) >= limit:
            waits.append(failures[-limit] + THROTTLE_WINDOW - now)
    return max(waits) if waits else None


def authenticate(session: Session, name: str, password: str, *, ip: str) -> WebUser | None:
    """The enabled user with this name and password, or None; raises ``LoginThrottled`` after too many
    recent failures for the name or the address (checked before the password, so a locked-out guesser
    learns nothing). Every attempt is recorded, and audited."""
    name = name.strip().lower()[:64]
    wait = throttle_wait(session, name, ip)
    if wait is not None:
        record(session, "login.throttled", actor=name or "?", ip=ip)
        raise LoginThrottled(wait)
    user = session.scalar(select(WebUser).where(WebUser.name == name)) if name else None
    ok = False
    hasher = password_hasher()
    if user is not None and len(password) <= MAX_PASSWORD:
        try:
            ok = hasher.verify(user.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
    else:  # the same work for an unknown name: response times do not tell which names exist
        with contextlib.suppress(VerificationError):
            hasher.verify(_dummy_hash(tuple(sorted(HASHER_OPTIONS.items()))), password[:MAX_PASSWORD] or "x")
    ok = ok and user is not None and user.enabled
    session.add(LoginAttempt(name=name, ip=ip[:64], ok=ok))
    record(session, "login" if ok else "login.failed", actor=name or "?", user=user if ok else None, ip=ip)
    if not ok or user is None:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    user.last_login_at = utcnow()
    prune_attempts(session)  # the table stays small: only the last month matters (the audit log keeps all)
    return user


def prune_attempts(session: Session, *, older_than: timedelta = timedelta(days=30)) -> int:
    """Forget sign-in attempts older than the window that matters (the audit log keeps them)."""
    result = session.execute(delete(LoginAttempt).where(LoginAttempt.at < utcnow() - older_than))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def count_admins(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(WebUser)
                              .where(WebUser.role == "admin", WebUser.enabled.is_(True))) or 0)
