"""The web app's accounts, sign-in, sessions, CSRF, roles, headers and audit log, through its test client
on real SQLite and PostgreSQL databases."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from sqlalchemy import select
from webkit import PASSWORD, SECRET, csrf_token, fast_hashing, login, make_web_app, post, settings_for  # noqa: F401

from monitor.models import AuditEntry, WebUser
from monitor.web.app import create_app
from monitor.web.secret import load_secret_key, secret_key_path
from monitor.web.users import MAX_FAILURES_PER_NAME

# one id of each kind in every URL rule: none of them may answer without a signed-in user
SAMPLE_VALUES = {"change_id": "1", "event_id": "1", "page_id": "1", "snapshot_id": "1", "mute_id": "1",
                 "name": "shop"}


def _urls(app, method: str) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if method in (rule.methods or ()) and rule.endpoint != "static":
            urls.append(re.sub(r"<(?:\w+:)?(\w+)>", lambda m: SAMPLE_VALUES[m.group(1)], rule.rule))
    return sorted(set(urls))


def test_no_page_answers_without_signing_in_and_every_response_carries_the_security_headers(request, db_url, tmp_path):
    web = make_web_app(db_url, tmp_path / "data", request)
    client = web.client()
    gets = _urls(web.app, "GET")
    assert "/inbox" in gets and "/snapshots/1/raw.html" in gets and "/changes/1/evidence.zip" in gets
    for url in gets:
        response = client.get(url)
        if url == "/login":
            assert response.status_code == 200
        else:
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/login"), url
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'none'" in policy and "unsafe-inline" not in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    for url in _urls(web.app, "POST"):
        if url in ("/login",):
            continue
        token = csrf_token(client.get("/login").text)
        response = client.post(url, data={"csrf_token": token})
        assert response.status_code == 401, url


def test_sign_in_signed_http_only_cookie_and_sign_out(request, db_url, tmp_path):
    web = make_web_app(db_url, tmp_path / "data", request)
    client = web.client()
    response = login(client, "analyst")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "claimwatch_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/inbox").status_code == 200
    # a cookie whose signature does not match is nobody's
    value = client.get_cookie("claimwatch_session").value
    forged = web.app.test_client()
    forged.set_cookie("claimwatch_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert forged.get("/inbox").status_code == 302
    token = csrf_token(client.get("/inbox").text)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/inbox").status_code == 302
    with web.sessions() as session:
        actions = [entry.action for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions[-2:] == ["login", "logout"]


def test_wrong_passwords_are_throttled_per_name_and_audited(request, sqlite_url, tmp_path):
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    client = web.client()
    for _ in range(MAX_FAILURES_PER_NAME):
        response = login(client, "analyst", "not the password")
        assert response.status_code == 401 and "wrong user name or password" in response.text
    # locked out now, even with the right password, with no hint whether it was right
    response = login(client, "analyst", PASSWORD)
    assert response.status_code == 401 and "too many failed sign-ins" in response.text
    assert client.get("/inbox").status_code == 302
    # another name from the same address is not locked out by these few failures
    assert login(client, "viewer").status_code == 302
    with web.sessions() as session:
        actions = [entry.action for entry in session.scalars(select(AuditEntry).where(AuditEntry.actor == "analyst"))]
    assert actions.count("login.failed") == MAX_FAILURES_PER_NAME and "login.throttled" in actions
    with web.sessions() as session:
        stored = session.scalar(select(WebUser.password_hash).where(WebUser.name == "analyst"))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_posts_need_the_session_csrf_token_and_this_origin(request, sqlite_url, tmp_path):
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    client = web.client("analyst")
    assert client.post("/inbox/acknowledge", data={"item": "change:1"}).status_code == 400
    assert client.post("/inbox/acknowledge", data={"item": "change:1", "csrf_token": "forged"}).status_code == 400
    other = web.client("admin")  # another session's token is no good either
    token = csrf_token(other.get("/inbox").text)
    assert client.post("/inbox/acknowledge", data={"item": "change:1", "csrf_token": token}).status_code == 400
    mine = csrf_token(client.get("/inbox").text)
    response = client.post("/inbox/acknowledge", data={"item": "change:1", "csrf_token": mine},
                           headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert post(client, "/inbox/acknowledge", {"item": "change:1"}).status_code == 302


def test_a_viewer_reads_but_cannot_post_any_form_and_admin_pages_need_an_admin(request, sqlite_url, tmp_path):
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    viewer, analyst = web.client("viewer"), web.client("analyst")
    assert viewer.get("/inbox").status_code == 200
    assert 'action="/inbox/acknowledge"' not in viewer.get("/inbox").text
    for url in _urls(web.app, "POST"):
        if url in ("/login", "/logout"):
            continue
        assert post(viewer, url).status_code == 403, url
    for url in ("/admin/sites", "/admin/users", "/admin/audit", "/admin/sites/new", "/admin/sites/watchlist.yaml"):
        assert viewer.get(url).status_code == 403, url
        assert analyst.get(url).status_code == 403, url
    assert post(analyst, "/admin/users", {"name": "mallory", "password": PASSWORD, "role": "admin"}).status_code == 403
    assert web.client("admin").get("/admin/users").status_code == 200


def test_disabling_or_a_new_password_ends_sessions_at_once(request, run_cli, sqlite_url, tmp_path):
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    client = web.client("analyst")
    assert client.get("/inbox").status_code == 200
    result = run_cli("users", "passwd", "analyst", db=sqlite_url, input="a brand new passphrase\n")
    assert result.exit_code == 0, result.stderr
    assert client.get("/inbox").status_code == 302
    assert login(client, "analyst", "a brand new passphrase").status_code == 302
    assert run_cli("users", "disable", "analyst", db=sqlite_url).exit_code == 0
    assert client.get("/inbox").status_code == 302
    assert login(client, "analyst", "a brand new passphrase").status_code == 401


def test_users_command_line(run_cli, sqlite_url):
    assert run_cli("init", db=sqlite_url).exit_code == 0
    added = run_cli("users", "add", "Ann", "--role", "analyst", db=sqlite_url, input=PASSWORD + "\n")
    assert added.exit_code == 0, added.stderr
    assert run_cli("users", "add", "ann", "--role", "admin", db=sqlite_url, input=PASSWORD + "\n").exit_code == 1
    short = run_cli("users", "add", "bob", "--role", "viewer", db=sqlite_url, input="short\n")
    assert short.exit_code == 1 and "too short" in short.stderr
    bad_role = run_cli("users", "add", "bob", "--role", "root", db=sqlite_url, input=PASSWORD + "\n")
    assert bad_role.exit_code == 2
    listed = run_cli("users", "list", db=sqlite_url)
    assert re.search(r"^ann\s+analyst\s+enabled\s+never signed in$", listed.stdout, re.M), listed.stdout
    assert run_cli("users", "disable", "ann", db=sqlite_url).exit_code == 0
    assert "disabled" in run_cli("users", "list", db=sqlite_url).stdout
    missing = run_cli("users", "disable", "nobody", db=sqlite_url)
    assert missing.exit_code == 1 and missing.stderr.strip() == "Error: unknown user: nobody"


def test_the_secret_key_is_made_once_private_and_shared_by_every_app(request, sqlite_url, tmp_path):
    data = tmp_path / "data"
    settings = settings_for(sqlite_url, data, CLAIMWATCH_SECRET_KEY="")
    first = load_secret_key(settings)
    path = secret_key_path(settings)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret_key(settings) == first and len(first) >= 32
    web = make_web_app(sqlite_url, data, request, CLAIMWATCH_SECRET_KEY="")
    client = web.client("analyst")
    cookie = client.get_cookie("claimwatch_session").value
    # a second process (another worker, or after a restart) reads the same key: the session holds
    again = create_app(settings, engine=web.engine).test_client()
    again.set_cookie("claimwatch_session", cookie)
    assert again.get("/inbox").status_code == 200
    os.chmod(path, 0o644)
    with pytest.raises(RuntimeError, match="readable by other users"):
        load_secret_key(settings)
    assert settings_for(sqlite_url, data).secret_key == SECRET


def test_open_redirects_are_refused(request, sqlite_url, tmp_path):
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    client = web.client()
    page = client.get("/login?next=//evil.example/x")
    response = client.post("/login", data={"name": "viewer", "password": PASSWORD, "csrf_token": csrf_token(page.text),
                                           "next": "//evil.example/x"})
    assert response.headers["Location"] == "/"
    assert Path  # keep the import for type checkers
