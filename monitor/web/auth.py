"""Sign-in, sessions and roles for the web app.

A session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS) holding the user's id,
their ``auth_epoch`` and the time they signed in. Every request reloads the user: a disabled account, a
new password or a changed role (each moves ``auth_epoch`` on) ends every session of that user at once,
and a session older than ``CLAIMWATCH_WEB_SESSION_HOURS`` ends too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, current_app, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from monitor.models import WebUser
from monitor.web import csrf
from monitor.web.audit import record
from monitor.web.state import WebState
from monitor.web.users import LoginThrottled, authenticate, role_rank

F = TypeVar("F", bound=Callable[..., Any])

#: Endpoints that answer without a signed-in user.
PUBLIC_ENDPOINTS = frozenset({"auth.login"})
#: POST endpoints any signed-in user (a viewer too) may use; every other POST needs an analyst or more.
ANY_ROLE_POSTS = frozenset({"auth.login", "auth.logout"})

bp = Blueprint("auth", __name__)


def web_state() -> WebState:
    return cast(WebState, current_app.extensions["claimwatch"])


def client_ip() -> str:
    """The client's address (behind ``CLAIMWATCH_WEB_PROXIES`` proxies, ProxyFix has set it)."""
    return (request.remote_addr or "unknown")[:64]


def current_user() -> WebUser | None:
    return cast(WebUser | None, g.get("user"))


def actor() -> str:
    user = current_user()
    return user.name if user is not None else "?"


def requires(role: str) -> Callable[[F], F]:
    """Refuse (403) users below ``role``: ``@requires("analyst")``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                abort(401)
            if role_rank(user.role) < role_rank(role):
                abort(403)
            return view(*args, **kwargs)

        return cast(F, wrapped)

    return decorate


def _load_user() -> WebUser | None:
    uid, epoch, started = session.get("uid"), session.get("epoch"), session.get("t")
    if not isinstance(uid, int) or not isinstance(epoch, int) or not isinstance(started, int | float):
        return None
    state = web_state()
    if time.time() - started > state.settings.web_session_hours * 3600:
        return None
    with state.sessions() as db:
        user = db.get(WebUser, uid)
        if user is None or not user.enabled or user.auth_epoch != epoch:
            return None
        db.expunge(user)
        return user


def before_request() -> WerkzeugResponse | None:
    """Every request: who is it (else to the sign-in page), and a POST must carry the session's CSRF
    token, come from this origin, and be allowed to the user's role."""
    g.user = _load_user()
    endpoint = request.endpoint or ""
    if g.user is None and endpoint not in PUBLIC_ENDPOINTS:
        session.pop("uid", None)
        if request.method == "GET":
            return redirect(url_for("auth.login", next=_local_target(request.full_path)))
        abort(401)
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not csrf.same_origin(request.headers.get("Origin"), request.host_url):
            abort(403, "cross-site request refused")
        if not csrf.valid_token(session, request.form.get(csrf.FIELD)):
            abort(400, "the form expired or did not come from claimwatch: reload the page and try again")
        if endpoint not in ANY_ROLE_POSTS and (g.user is None or role_rank(g.user.role) < role_rank("analyst")):
            abort(403)
    return None


def _local_target(target: str | None) -> str:
    """A redirect target inside the app (a path), never another site: ``//evil.example`` becomes ``/``."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target.rstrip("?") or "/"


def back(default: str = "/") -> WerkzeugResponse:
    """Redirect to the form's ``next`` field when it is a path of this app, else ``default``."""
    return redirect(_local_target(request.form.get("next") or default))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    target = _local_target(request.values.get("next"))
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()
        password = request.form.get("password") or ""
        state = web_state()
        with state.sessions.begin() as db:  # committed either way: the attempt and its audit entry are kept
            try:
                user = authenticate(db, name, password, ip=client_ip())
            except LoginThrottled as exc:
                error, user = str(exc), None
            else:
                if user is None:
                    error = "wrong user name or password"
                else:
                    db.flush()
                    db.expunge(user)
        if user is not None:
            session.clear()  # a fresh session and CSRF token: nothing from before the sign-in survives
            session.permanent = True
            session.update({"uid": user.id, "epoch": user.auth_epoch, "t": int(time.time())})
            csrf.csrf_token(session)
            return redirect(target)
    status = 401 if error else 200
    return render_template("web/login.html", error=error, next=target), status


@bp.route("/logout", methods=["POST"])
def logout() -> WerkzeugResponse:
    user = current_user()
    if user is not None:
        with web_state().sessions.begin() as db:
            record(db, "logout", actor=user.name, ip=client_ip())
    session.clear()
    return redirect(url_for("auth.login"))


def init_app(app: Flask) -> None:
    app.before_request(before_request)
    app.register_blueprint(bp)

    @app.context_processor
    def template_values() -> dict[str, Any]:
        return {"current_user": current_user(), "csrf_token": lambda: csrf.csrf_token(session),
                "role_at_least": lambda role: (current_user() is not None
                                               and role_rank(current_user().role) >= role_rank(role))}  # type: ignore[union-attr]
