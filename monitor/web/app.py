"""The Flask application factory: ``create_app(settings)`` -> a WSGI app (``claimwatch serve`` runs it
under gunicorn; tests use its test client).

Security on every response: a Content-Security-Policy with no script source at all (the app runs no
JavaScript), styles only from the one inline stylesheet whose hash the policy names, no framing
(``frame-ancestors 'none'``, X-Frame-Options), ``nosniff``, no referrer to other sites, no caching of
pages. Templates are autoescaped whatever their name; page text is never marked safe.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import jinja2
from flask import Flask, Response, render_template
from markupsafe import Markup
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from monitor.config import Settings
from monitor.db import make_engine, make_session_factory
from monitor.report import LINK_SCHEMES, SEVERITY_COLOURS, SEVERITY_ORDER, templates_dir
from monitor.web.crawls import CrawlLauncher
from monitor.web.secret import load_secret_key
from monitor.web.state import WebState

STYLESHEET = "web/web.css"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a watchlist YAML


def content_security_policy(style_hash: str) -> str:
    return ("default-src 'none'; script-src 'none'; "
            f"style-src '{style_hash}'; img-src 'self'; frame-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")


#: The raw page as fetched, shown in a sandboxed frame: no scripts, no forms, no plugins, no requests to
#: anywhere (the seller never learns the analyst looked), an opaque origin with no access to the app.
RAW_PAGE_POLICY = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
                   "frame-ancestors 'self'; base-uri 'none'; form-action 'none'")


def _when(value: Any) -> str:
    from monitor.report import _when as report_when

    return report_when(value)


def _link(url: str | None) -> str | None:
    from monitor.report import _link as report_link

    return report_link(url)


def _short(value: str | None, length: int = 12) -> str:
    return (value or "")[:length]


def create_app(settings: Settings, *, engine: Engine | None = None, secret_key: str | None = None) -> Flask:
    """The web app over ``settings.db_url`` (or ``engine``); ``secret_key`` overrides the configured one."""
    from monitor.web.auth import init_app as init_auth
    from monitor.web.views_admin import init_app as init_admin
    from monitor.web.views_inbox import init_app as init_inbox
    from monitor.web.views_pages import init_app as init_pages
    from monitor.web.views_search import init_app as init_search

    app = Flask("claimwatch.web", template_folder=str(templates_dir()), static_folder=None)
    app.config.update(
        SECRET_KEY=secret_key or load_secret_key(settings),
        SESSION_COOKIE_NAME="claimwatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.web_secure_cookies,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.web_session_hours),
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        MAX_FORM_PARTS=2000,
    )
    app.jinja_env.autoescape = True  # every template, whatever its extension
    app.jinja_env.undefined = jinja2.StrictUndefined
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters.update(when=_when, link=_link, short=_short)
    app.jinja_env.globals.update(severity_colours=SEVERITY_COLOURS, severity_order=SEVERITY_ORDER,
                                 link_schemes=LINK_SCHEMES)

    css = (templates_dir() / STYLESHEET).read_text(encoding="utf-8")
    style_hash = "sha256-" + base64.b64encode(hashlib.sha256(css.encode("utf-8")).digest()).decode()
    engine = engine or make_engine(settings.db_url, busy_timeout=settings.db_busy_timeout)
    state = WebState(settings=settings, engine=engine, sessions=make_session_factory(engine), css=css,
                     style_hash=style_hash, dialect=engine.dialect.name)
    state.launcher = CrawlLauncher(state.sessions, settings)  # its executor is made on the first `crawl now`
    app.extensions["claimwatch"] = state
    app.jinja_env.globals["stylesheet"] = Markup(css)  # our own file, hashed into the CSP: never page text
    if settings.web_proxies:
        n = settings.web_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]

    for init in (init_auth, init_inbox, init_pages, init_search, init_admin):
        init(app)
    policy = content_security_policy(style_hash)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Frame-Options", "DENY")
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        headers["Cross-Origin-Resource-Policy"] = "same-origin"
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        headers.setdefault("Cache-Control", "no-store")
        if settings.web_secure_cookies:
            headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[str, int]:
        code = error.code or 500
        return render_template("web/error.html", code=code, name=error.name,
                               description=error.description if code < 500 else ""), code

    return app
