"""The search view."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from sqlalchemy import select

from monitor.models import Site
from monitor.statements import KINDS, TYPES
from monitor.web.auth import web_state
from monitor.web.forms import parse_date
from monitor.web.search import MAX_RESULTS, SearchQuery, search_statements

bp = Blueprint("search", __name__)


@bp.get("/search")
def index() -> str:
    args = request.args
    query = SearchQuery(text=(args.get("q") or "")[:500], kind=args.get("kind") or None,
                        type=args.get("type") or None, site=args.get("site") or None,
                        since=parse_date(args.get("since")), until=parse_date(args.get("until"), end=True))
    state = web_state()
    with state.sessions.begin() as session:  # committed: what the search indexed first stays indexed
        hits = search_statements(session, state.dialect, query)
        sites = list(session.scalars(select(Site.name).order_by(Site.name)))
    return render_template("web/search.html", query=query, hits=hits, sites=sites, kinds=KINDS, types=TYPES,
                           args=args, limit=MAX_RESULTS)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
