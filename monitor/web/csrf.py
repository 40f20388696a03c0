"""CSRF tokens: one random token per session, in a hidden field of every form, checked on every POST.

The session cookie is also ``SameSite=Lax`` and a POST whose ``Origin`` names another site is refused, but
the token is what a forged cross-site form cannot know.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

FIELD = "csrf_token"
SESSION_KEY = "csrf"


def csrf_token(session: MutableMapping[str, Any]) -> str:
    """The session's token, made on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def valid_token(session: MutableMapping[str, Any], submitted: str | None) -> bool:
    expected = session.get(SESSION_KEY)
    if not isinstance(expected, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def same_origin(origin: str | None, host_url: str) -> bool:
    """True when a request's ``Origin`` header is absent or names this app (``host_url``: scheme://host/)."""
    if not origin:
        return True
    return origin.rstrip("/") == host_url.rstrip("/")
