"""Helpers for the web app tests: a migrated database with one user of each role, the real Flask app over
it, and signing in through the real login form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from monitor.config import Settings, load_settings
from monitor.db import make_engine, make_session_factory, upgrade
from monitor.web import users
from monitor.web.app import create_app
from monitor.web.users import add_user

PASSWORD = "correct horse battery staple"
ROLES = ("viewer", "analyst", "admin")
SECRET = "test-secret-key-" + "x" * 40
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
#: argon2id at its cheapest for tests (production keeps argon2-cffi's defaults)
FAST_HASHING = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "HASHER_OPTIONS", FAST_HASHING)


@dataclass
class WebApp:
    app: Flask
    engine: Engine
    sessions: sessionmaker[Session]
    settings: Settings

    def client(self, role: str | None = None) -> FlaskClient:
        client = self.app.test_client()
        if role is not None:
            login(client, role)
        return client


def settings_for(db_url: str, data_dir: Path, **env: str) -> Settings:
    return load_settings({"CLAIMWATCH_DATA": str(data_dir), "CLAIMWATCH_SECRET_KEY": SECRET, **env}, db_url=db_url)


def make_web_app(db_url: str, data_dir: Path, request: pytest.FixtureRequest, *, users: bool = True,
                 **env: str) -> WebApp:
    """The app over a migrated database with users viewer, analyst and admin; closed after the test."""
    engine = make_engine(db_url)
    request.addfinalizer(engine.dispose)  # before the test's PostgreSQL database is dropped
    upgrade(engine)
    sessions = make_session_factory(engine)
    if users:
        with sessions.begin() as session:
            for role in ROLES:
                add_user(session, role, PASSWORD, role, actor="test")
    settings = settings_for(db_url, data_dir, **env)
    return WebApp(create_app(settings, engine=engine), engine, sessions, settings)


def csrf_token(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: FlaskClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post("/login", data={"name": name, "password": password, "csrf_token": csrf_token(page.text)})


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None, *, token_from: str = "/inbox",
         **kwargs: Any) -> Any:
    """POST a form as the browser would: with the CSRF token of a page the user can see."""
    token = csrf_token(client.get(token_from).text)
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kwargs)
