"""Seller, page timeline, side-by-side comparison, raw page, screenshots, evidence bundles, crawl now."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, abort, flash, render_template, request, send_file, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from monitor.evidence import EvidenceError, build_bundle, write_bundle
from monitor.models import Change, Fetch, Page, Site, Snapshot
from monitor.screenshots import load_screenshot
from monitor.store import load_body
from monitor.web.app import RAW_PAGE_POLICY
from monitor.web.audit import record
from monitor.web.auth import actor, back, client_ip, current_user, requires, web_state
from monitor.web.crawls import CrawlRefused
from monitor.web.forms import parse_int
from monitor.web.seller import seller_view
from monitor.web.timeline import compare_snapshots, page_history

bp = Blueprint("pages", __name__)


@bp.get("/sellers")
def sellers() -> str:
    with web_state().sessions() as session:
        sites = list(session.scalars(select(Site).order_by(Site.name)))
    return render_template("web/sellers.html", sites=sites)


@bp.get("/sellers/<name>")
def seller(name: str) -> str:
    state = web_state()
    with state.sessions() as session:
        view = seller_view(session, name)
        if view is None:
            abort(404)
    queued = state.launcher is not None and state.launcher.queued(name)
    return render_template("web/seller.html", view=view, queued=queued)


@bp.post("/sellers/<name>/crawl")
@requires("analyst")
def crawl_now(name: str) -> WerkzeugResponse:
    state = web_state()
    assert state.launcher is not None
    try:
        state.launcher.start(name)
    except CrawlRefused as exc:
        flash(f"crawl not started: {exc}", "error")
        return back(url_for("pages.seller", name=name))
    with state.sessions.begin() as session:
        record(session, "crawl.now", actor=actor(), target=f"site {name}", user=current_user(), ip=client_ip())
    flash("crawl queued: reload this page to follow it", "ok")
    return back(url_for("pages.seller", name=name))


@bp.get("/pages/<int:page_id>")
def timeline(page_id: int) -> str:
    with web_state().sessions() as session:
        history = page_history(session, page_id)
        if history is None:
            abort(404)
    return render_template("web/timeline.html", history=history)


def _snapshot_of(session: Any, page_id: int, snapshot_id: int) -> Snapshot:
    snapshot = session.get(Snapshot, snapshot_id)
    if snapshot is None or snapshot.page_id != page_id:  # an id of another page is not this page's
        abort(404)
    return snapshot


@bp.get("/pages/<int:page_id>/compare")
def compare(page_id: int) -> str:
    with web_state().sessions() as session:
        page = session.get(Page, page_id)
        if page is None:
            abort(404)
        ids = list(session.scalars(select(Snapshot.id).where(Snapshot.page_id == page_id)
                                   .order_by(Snapshot.created_at.desc(), Snapshot.id.desc()).limit(2)))
        if not ids:
            abort(404)
        newer_id = parse_int(request.args.get("b"), ids[0], high=2**62)
        older_id = parse_int(request.args.get("a"), ids[-1], high=2**62)
        older, newer = _snapshot_of(session, page_id, older_id), _snapshot_of(session, page_id, newer_id)
        if (older.created_at, older.id) > (newer.created_at, newer.id):
            older, newer = newer, older
        rows = compare_snapshots(session, older, newer)
        fetches = {f.id: f for f in session.scalars(select(Fetch).where(Fetch.id.in_([older.fetch_id,
                                                                                      newer.fetch_id])))}
        site = session.get(Site, page.site_id)
    return render_template("web/compare.html", page=page, site=site, older=older, newer=newer, rows=rows,
                           fetches=fetches)


def _body_of(snapshot_id: int) -> tuple[bytes, Fetch]:
    with web_state().sessions() as session:
        snapshot = session.get(Snapshot, snapshot_id)
        if snapshot is None:
            abort(404)
        fetch = session.get(Fetch, snapshot.fetch_id)
        if fetch is None or not fetch.sha256:
            abort(404)
        body = load_body(session, fetch.sha256)
        if body is None:
            abort(404)
        session.expunge(fetch)
        return body, fetch


@bp.get("/snapshots/<int:snapshot_id>/raw.txt")
def raw_text(snapshot_id: int) -> Response:
    """The raw page as fetched, as plain text: the browser shows the markup, never runs it."""
    body, _fetch = _body_of(snapshot_id)
    text = body.decode("utf-8", errors="replace")
    response = Response(text, mimetype="text/plain")
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/snapshots/<int:snapshot_id>/raw.html")
def raw_html(snapshot_id: int) -> Response:
    """The raw page rendered, only ever in a sandbox (CSP ``sandbox``: an opaque origin, no scripts, no
    requests), meant for the sandboxed frame of the timeline."""
    body, fetch = _body_of(snapshot_id)
    response = Response(body, mimetype="text/html")
    charset = _charset(fetch.content_type)
    if charset:
        response.headers["Content-Type"] = f"text/html; charset={charset}"
    response.headers["Content-Security-Policy"] = RAW_PAGE_POLICY
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        value = value.strip().strip('"').lower()
        if name.lower() == "charset" and value.replace("-", "").replace("_", "").isalnum() and len(value) < 40:
            return value
    return None


@bp.get("/pages/<int:page_id>/view/<int:snapshot_id>")
def sandboxed(page_id: int, snapshot_id: int) -> str:
    with web_state().sessions() as session:
        page = session.get(Page, page_id)
        if page is None:
            abort(404)
        snapshot = _snapshot_of(session, page_id, snapshot_id)
    return render_template("web/raw.html", page=page, snapshot=snapshot)


@bp.get("/snapshots/<int:snapshot_id>/screenshot.png")
def screenshot(snapshot_id: int) -> Response:
    """The snapshot's screenshot: looked up by the SHA-256 the database holds, never by a name from the URL."""
    state = web_state()
    with state.sessions() as session:
        snapshot = session.get(Snapshot, snapshot_id)
        if snapshot is None or not snapshot.screenshot_sha256:
            abort(404)
        try:
            png = load_screenshot(state.settings, snapshot.screenshot_sha256, session=session)
        except ValueError:
            abort(404)
    if png is None:
        abort(404)
    return Response(png, mimetype="image/png")


@bp.get("/changes/<int:change_id>/evidence.zip")
def evidence(change_id: int) -> Response:
    """The change's evidence bundle, the same as `claimwatch evidence URL --change ID`."""
    state = web_state()
    with state.sessions.begin() as session:
        found = session.execute(select(Change, Page.url, Site.name).join(Page, Page.id == Change.page_id)
                                .join(Site, Site.id == Change.site_id).where(Change.id == change_id)).first()
        if found is None:
            abort(404)
        _change, url, site = found
        try:
            bundle = build_bundle(session, state.settings, url, change_id=change_id, site=site)
        except EvidenceError as exc:
            abort(409, str(exc))
        record(session, "evidence", actor=actor(), target=f"change {change_id}", user=current_user(),
               ip=client_ip())
    with tempfile.TemporaryDirectory(prefix="claimwatch-evidence-") as folder:
        path = Path(folder) / "bundle.zip"
        write_bundle(bundle, path)  # the very zip `claimwatch evidence` writes
        data = path.read_bytes()
    return send_file(io.BytesIO(data), mimetype="application/zip", as_attachment=True,
                     download_name=f"change-{change_id}-evidence.zip")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
