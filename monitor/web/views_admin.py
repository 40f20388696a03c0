"""Admin views: the watched sites (add, edit, disable, watchlist import and export), the users, the
audit log. Sites are validated exactly as the CLI validates them (``monitor.watchlist``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from monitor.sites import (
    SiteExists,
    SiteNotFound,
    add_site,
    edit_site,
    get_site,
    list_sites,
    site_to_spec,
    upsert_sites,
)
from monitor.watchlist import WatchlistError, parse_watchlist, site_from_mapping, specs_to_yaml
from monitor.web.audit import recent, record
from monitor.web.auth import actor, client_ip, current_user, requires, web_state
from monitor.web.forms import parse_int
from monitor.web.users import ROLES, UserError, add_user, count_admins, list_users, set_enabled, set_password, set_role

bp = Blueprint("admin", __name__)


def _lines(name: str) -> list[str]:
    return [line.strip() for line in (request.form.get(name) or "").splitlines() if line.strip()][:200]


def _site_form() -> dict[str, Any]:
    """The form as a watchlist entry; ``site_from_mapping`` validates it like a YAML one."""
    max_pages: Any = (request.form.get("max_pages") or "").strip()
    if max_pages.lstrip("-").isdigit() and len(max_pages) < 10:
        max_pages = int(max_pages)  # else left as text: validation names the field
    return {"name": (request.form.get("name") or "").strip(), "start_urls": _lines("start_urls"),
            "allow": _lines("allow"), "max_pages": max_pages, "schedule": (request.form.get("schedule") or "").strip(),
            "render_js": request.form.get("render_js") == "on", "recipients": _lines("recipients"),
            "enabled": request.form.get("enabled") == "on", "hosts": _lines("hosts")}


@bp.get("/admin/sites")
@requires("admin")
def sites() -> str:
    with web_state().sessions() as session:
        rows = [site_to_spec(site) for site in list_sites(session)]
    return render_template("web/sites.html", sites=rows)


@bp.route("/admin/sites/new", methods=["GET", "POST"])
@requires("admin")
def site_new() -> Any:
    error = None
    form: dict[str, Any] = {"name": "", "start_urls": [], "allow": [], "max_pages": 50, "schedule": "0 6 * * *",
                            "render_js": False, "recipients": [], "enabled": True, "hosts": []}
    if request.method == "POST":
        form = _site_form()
        try:
            spec = site_from_mapping(form)
            with web_state().sessions.begin() as session:
                add_site(session, spec)
                record(session, "site.add", actor=actor(), target=f"site {spec.name}", user=current_user(),
                       ip=client_ip())
        except (WatchlistError, SiteExists) as exc:
            error = str(exc)
        else:
            flash(f"added site {spec.name}", "ok")
            return redirect(url_for("admin.sites"))
    return render_template("web/site_form.html", form=form, error=error, new=True), 400 if error else 200


@bp.route("/admin/sites/<name>", methods=["GET", "POST"])
@requires("admin")
def site_edit(name: str) -> Any:
    error = None
    with web_state().sessions() as session:
        try:
            spec = site_to_spec(get_site(session, name))
        except SiteNotFound:
            abort(404)
    form: dict[str, Any] = {"name": spec.name, "start_urls": list(spec.start_urls), "allow": list(spec.allow),
                            "max_pages": spec.max_pages, "schedule": spec.schedule, "render_js": spec.render_js,
                            "recipients": list(spec.recipients), "enabled": spec.enabled, "hosts": list(spec.hosts)}
    if request.method == "POST":
        form = {**_site_form(), "name": name}
        try:
            with web_state().sessions.begin() as session:
                edit_site(session, name, form)
                record(session, "site.edit", actor=actor(), target=f"site {name}", user=current_user(),
                       ip=client_ip(), detail={"enabled": form["enabled"]})
        except (WatchlistError, SiteNotFound) as exc:
            error = str(exc)
        else:
            flash(f"updated site {name}", "ok")
            return redirect(url_for("admin.sites"))
    return render_template("web/site_form.html", form=form, error=error, new=False), 400 if error else 200


@bp.post("/admin/sites/<name>/enabled")
@requires("admin")
def site_enabled(name: str) -> WerkzeugResponse:
    enabled = request.form.get("enabled") == "1"
    try:
        with web_state().sessions.begin() as session:
            edit_site(session, name, {"enabled": enabled})
            record(session, "site.enable" if enabled else "site.disable", actor=actor(), target=f"site {name}",
                   user=current_user(), ip=client_ip())
    except SiteNotFound:
        abort(404)
    except WatchlistError as exc:
        flash(str(exc), "error")
    return redirect(url_for("admin.sites"))


@bp.post("/admin/sites/import")
@requires("admin")
def sites_import() -> Any:
    upload = request.files.get("watchlist")
    text = request.form.get("yaml") or ""
    source = "pasted watchlist"
    if upload is not None and upload.filename:
        source = "uploaded watchlist"
        try:
            text = upload.read(2 * 1024 * 1024).decode("utf-8")
        except UnicodeDecodeError:
            flash(f"{source}: not UTF-8 text", "error")
            return redirect(url_for("admin.sites"))
    try:
        specs = parse_watchlist(text, source)
    except WatchlistError as exc:
        flash(str(exc), "error")  # nothing was written: the whole file is validated first
        return redirect(url_for("admin.sites"))
    with web_state().sessions.begin() as session:
        added, updated = upsert_sites(session, specs)
        record(session, "site.import", actor=actor(), target=f"{len(specs)} sites", user=current_user(),
               ip=client_ip(), detail={"added": added, "updated": updated})
    flash(f"imported {len(specs)} sites: {added} added, {updated} updated", "ok")
    return redirect(url_for("admin.sites"))


@bp.get("/admin/sites/watchlist.yaml")
@requires("admin")
def sites_export() -> Response:
    with web_state().sessions() as session:
        specs = [site_to_spec(site) for site in list_sites(session)]
    response = Response(specs_to_yaml(specs), mimetype="text/plain")
    response.headers["Content-Disposition"] = "attachment; filename=watchlist.yaml"
    return response


@bp.get("/admin/users")
@requires("admin")
def users() -> str:
    with web_state().sessions() as session:
        rows = list_users(session)
    return render_template("web/users.html", users=rows, roles=ROLES)


@bp.post("/admin/users")
@requires("admin")
def user_add() -> WerkzeugResponse:
    try:
        with web_state().sessions.begin() as session:
            user = add_user(session, request.form.get("name") or "", request.form.get("password") or "",
                            request.form.get("role") or "", actor=actor(), ip=client_ip())
            name = user.name
    except UserError as exc:
        flash(str(exc), "error")
    else:
        flash(f"added user {name}", "ok")
    return redirect(url_for("admin.users"))


@bp.post("/admin/users/<name>")
@requires("admin")
def user_change(name: str) -> WerkzeugResponse:
    action = request.form.get("action")
    me = current_user()
    try:
        with web_state().sessions.begin() as session:
            if action == "role":
                role = request.form.get("role") or ""
                if me is not None and name == me.name and role != "admin":
                    raise UserError("you cannot take the admin role from yourself")
                set_role(session, name, role, actor=actor(), ip=client_ip())
            elif action in ("disable", "enable"):
                if me is not None and name == me.name:
                    raise UserError("you cannot disable yourself")
                set_enabled(session, name, action == "enable", actor=actor(), ip=client_ip())
                if count_admins(session) == 0:
                    raise UserError("that would leave no enabled admin")
            elif action == "passwd":
                set_password(session, name, request.form.get("password") or "", actor=actor(), ip=client_ip())
            else:
                abort(400)
    except UserError as exc:
        flash(str(exc), "error")
    else:
        flash(f"user {name}: done", "ok")
    return redirect(url_for("admin.users"))


@bp.get("/admin/audit")
@requires("admin")
def audit() -> str:
    page = parse_int(request.args.get("page"), 1, high=10_000)
    with web_state().sessions() as session:
        entries = recent(session, limit=200, offset=(page - 1) * 200, actor=request.args.get("actor") or None,
                         action=request.args.get("action") or None)
    return render_template("web/audit.html", entries=entries, page=page, args=request.args)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
