"""Inbox and triage views: list, one change, acknowledge, escalate, reopen, mute, bulk acknowledge."""

from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from monitor.models import Site
from monitor.statements import KINDS, SEVERITIES, TYPES
from monitor.web.auth import actor, back, client_ip, current_user, requires, web_state
from monitor.web.forms import parse_date, parse_int, parse_items
from monitor.web.inbox import PAGE_SIZE, STATE_FILTERS, InboxFilter, change_row, inbox_page
from monitor.web.triage import TriageError, lift_mute, mute_change_statement, triage, untriage

bp = Blueprint("inbox", __name__)


@bp.get("/")
def home() -> WerkzeugResponse:
    return redirect(url_for("inbox.index"))


@bp.get("/inbox")
def index() -> str:
    args = request.args
    wanted = InboxFilter(site=args.get("site") or None, min_severity=args.get("severity") or "info",
                         kind=args.get("kind") or None, type=args.get("type") or None,
                         since=parse_date(args.get("since")), until=parse_date(args.get("until"), end=True),
                         state=args.get("state") or "untriaged", page=parse_int(args.get("page"))).normalised()
    with web_state().sessions() as session:
        page = inbox_page(session, wanted)
        sites = list(session.scalars(select(Site.name).order_by(Site.name)))
    query = {key: args[key] for key in ("site", "severity", "kind", "type", "since", "until", "state") if args.get(key)}
    return render_template("web/inbox.html", page=page, sites=sites, severities=SEVERITIES, kinds=KINDS,
                           types=TYPES, states=STATE_FILTERS, args=args, query=query, page_size=PAGE_SIZE)


@bp.get("/changes/<int:change_id>")
def change(change_id: int) -> str:
    with web_state().sessions() as session:
        row = change_row(session, change_id)
        if row is None:
            abort(404)
    return render_template("web/change.html", row=row)


def _triage(kind: str, item_id: int) -> WerkzeugResponse:
    action = request.form.get("action") or ""
    note = request.form.get("note") or ""
    default = url_for("inbox.change", change_id=item_id) if kind == "change" else url_for("inbox.index")
    try:
        with web_state().sessions.begin() as session:
            if action == "reopen":
                untriage(session, kind, item_id, actor=actor(), user=current_user(), ip=client_ip())
            else:
                if not triage(session, [(kind, item_id)], action, note=note, actor=actor(), user=current_user(),
                              ip=client_ip()):
                    abort(404)
    except TriageError as exc:
        flash(str(exc), "error")
    return back(default)


@bp.post("/changes/<int:change_id>/triage")
@requires("analyst")
def triage_change(change_id: int) -> WerkzeugResponse:
    return _triage("change", change_id)


@bp.post("/events/<int:event_id>/triage")
@requires("analyst")
def triage_event(event_id: int) -> WerkzeugResponse:
    return _triage("event", event_id)


@bp.post("/inbox/acknowledge")
@requires("analyst")
def bulk_acknowledge() -> WerkzeugResponse:
    items = parse_items(request.form.getlist("item"))
    if not items:
        flash("nothing selected: tick the changes and events to acknowledge", "error")
        return back(url_for("inbox.index"))
    with web_state().sessions.begin() as session:
        done = triage(session, items, "acknowledged", actor=actor(), user=current_user(), ip=client_ip())
    flash(f"acknowledged {done} item{'s' if done != 1 else ''}", "ok")
    return back(url_for("inbox.index"))


@bp.post("/changes/<int:change_id>/mute")
@requires("analyst")
def mute(change_id: int) -> WerkzeugResponse:
    try:
        with web_state().sessions.begin() as session:
            mute_change_statement(session, change_id, actor=actor(), note=request.form.get("note") or "",
                                  user=current_user(), ip=client_ip())
    except TriageError as exc:
        flash(str(exc), "error")
    else:
        flash("statement muted: its later changes are kept and shown here, but not mailed", "ok")
    return back(url_for("inbox.change", change_id=change_id))


@bp.post("/mutes/<int:mute_id>/lift")
@requires("analyst")
def lift(mute_id: int) -> WerkzeugResponse:
    try:
        with web_state().sessions.begin() as session:
            lift_mute(session, mute_id, actor=actor(), user=current_user(), ip=client_ip())
    except TriageError:
        abort(404)
    flash("mute lifted: later changes of the statement are mailed again", "ok")
    return back(url_for("inbox.index"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
