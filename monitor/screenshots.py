"""Full-page screenshots of changed pages, with the system Chromium through Playwright (never a download).

When a crawl run detected a high or medium change on a page, the new version of that page is rendered
once, after the crawl (one browser session for the whole run, off the hot path), and the PNG is stored
content-addressed, as ``data_dir/screenshots/<sha256>.png`` or, with ``CLAIMWATCH_EVIDENCE=database``, as
a row of the ``screenshot`` table; ``snapshot.screenshot_sha256`` points at it (``load_screenshot`` looks
in both).

What is rendered is the archived body itself: the main document is answered from the stored bytes (the
ones in the WARC and the ``body`` table), so the picture shows the version that was analysed, not whatever
the server says now. Images and stylesheets are loaded live. JavaScript runs for plain pages; pages of
``render_js`` sites were archived as the DOM after their scripts ran, so scripts stay off to not run twice.

A page cannot take the browser elsewhere (docs/architecture.md, "No internal fetches"): every later
top-level navigation (``location.href``, a meta refresh, a ``window.open`` popup) is answered "204 No
Content", so the browser stays on the archived page, and every connection goes through
``monitor.egress.EgressGuard``, which connects only to public addresses or the site's own hosts
(``monitor.hosts``). The URL the screenshot shows is
recorded with it (``snapshot.screenshot_url``); a screenshot whose URL is not the page's origin is not kept.

>>> capture_run_screenshots(settings, run_id=7)                           # doctest: +SKIP
2
>>> screenshot_path(settings, sha).read_bytes()[:8]                       # doctest: +SKIP
b'\\x89PNG\\r\\n\\x1a\\n'
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.db import make_engine, make_session_factory
from monitor.egress import EgressGuard
from monitor.hosts import NO_HOSTS, HostPolicy, url_origin
from monitor.models import Change, Fetch, Page, ScreenshotBlob, Site, Snapshot, utcnow
from monitor.store import load_body

log = logging.getLogger(__name__)

SCREENSHOT_DIR = "screenshots"
#: Change severities that earn the new version a screenshot.
SCREENSHOT_SEVERITIES: tuple[str, ...] = ("high", "medium")
VIEWPORT = {"width": 1280, "height": 800}
#: Chromium flags for a closed network and containers: no sandbox (often no user namespaces), no GPU,
#: and none of the background traffic (updates, sync, QUIC probes) that makes Chromium hang offline.
CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebRTC may not send UDP around the proxy (monitor.egress) to internal addresses
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
NAVIGATION_TIMEOUT_MS = 30_000
SETTLE_TIMEOUT_MS = 5_000


def chromium_launch_options(executable_path: str, proxy: str | None = None) -> dict[str, Any]:
    """Playwright ``launch()`` options for the system Chromium (also passed to scrapy-playwright); with
    ``proxy`` (``EgressGuard.server``) every connection goes through it, loopback included."""
    options: dict[str, Any] = {"executable_path": executable_path, "headless": True, "args": list(CHROMIUM_ARGS)}
    if proxy is not None:
        options["proxy"] = {"server": proxy}
    return options


def chromium_available(settings: Settings) -> bool:
    path = Path(settings.chromium_path)
    return path.is_file() and os.access(path, os.X_OK)


def _check_sha256(sha256: str) -> None:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a SHA-256: {sha256!r}")


def screenshot_path(settings: Settings, sha256: str) -> Path:
    """Where the screenshot with this SHA-256 lives in the data folder: ``data_dir/screenshots/<sha256>.png``
    (the ``local`` evidence store; with ``database`` it is a row of the ``screenshot`` table)."""
    _check_sha256(sha256)
    return settings.data_dir / SCREENSHOT_DIR / f"{sha256}.png"


def store_screenshot(settings: Settings, png: bytes, *, session: Session | None = None) -> str:
    """Keep a PNG once under its SHA-256 and return the SHA-256: as ``settings.evidence_store`` says, a
    file written atomically in the data folder (``local``) or a row of the ``screenshot`` table in
    ``session``'s transaction (``database``: ``session`` required)."""
    sha = hashlib.sha256(png).hexdigest()
    if settings.evidence_store == "database":
        if session is None:
            raise ValueError("a screenshot kept in the database needs a session")
        _insert_screenshot(session, sha, png)
        return sha
    path = screenshot_path(settings, sha)
    if path.exists():
        return sha
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        handle.write(png)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(handle.name, 0o644)
    os.replace(handle.name, path)
    return sha


def _insert_screenshot(session: Session, sha256: str, png: bytes) -> None:
    """The row, unless one with that SHA-256 is there (another worker may be adding it right now)."""
    values = {"sha256": sha256, "size": len(png), "data": png, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql_insert(ScreenshotBlob).values(values).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite_insert(ScreenshotBlob).values(values).on_conflict_do_nothing())
    elif session.get(ScreenshotBlob, sha256) is None:
        session.add(ScreenshotBlob(**values))


def load_screenshot(settings: Settings, sha256: str, *, session: Session | None = None) -> bytes | None:
    """The PNG bytes, or None when missing; bytes that no longer hash to their SHA-256 raise ValueError.

    Looked up wherever it may be, whatever this machine's ``evidence_store``: in the database's
    ``screenshot`` table when a ``session`` is given (a crawl on another machine kept it there), then in
    the data folder."""
    _check_sha256(sha256)
    if session is not None:
        data = session.scalar(select(ScreenshotBlob.data).where(ScreenshotBlob.sha256 == sha256))
        if data is not None:
            png = bytes(data)
            if hashlib.sha256(png).hexdigest() != sha256:
                raise ValueError(f"screenshot {sha256} in the database does not match its SHA-256 (row altered)")
            return png
    path = screenshot_path(settings, sha256)
    try:
        png = path.read_bytes()
    except FileNotFoundError:
        return None
    if hashlib.sha256(png).hexdigest() != sha256:
        raise ValueError(f"screenshot {path.name} does not match its SHA-256 (file altered)")
    return png


@dataclass(frozen=True, slots=True)
class ScreenshotTarget:
    """One snapshot to render: its URL and the archived body that is served as the main document."""

    snapshot_id: int
    url: str
    body: bytes
    content_type: str
    javascript: bool
    policy: HostPolicy = NO_HOSTS  # the site's own hosts: the only internal addresses the page may reach


@dataclass(frozen=True, slots=True)
class Screenshot:
    """A full-page PNG and the URL of the page it shows."""

    png: bytes
    url: str


def pending_screenshots(session: Session, run_id: int) -> list[ScreenshotTarget]:
    """Snapshots of ``run_id`` whose page got a high or medium change and that have no screenshot yet."""
    rows = session.execute(
        select(Snapshot, Fetch, Page.url, Site.render_js, Site.start_urls, Site.hosts)
        .join(Change, Change.after_snapshot_id == Snapshot.id)
        .join(Fetch, Fetch.id == Snapshot.fetch_id)
        .join(Page, Page.id == Snapshot.page_id)
        .join(Site, Site.id == Page.site_id)
        .where(Change.run_id == run_id, Change.severity.in_(SCREENSHOT_SEVERITIES),
               Snapshot.screenshot_sha256.is_(None), Fetch.sha256.is_not(None))
        .order_by(Snapshot.id)
    )
    targets: dict[int, ScreenshotTarget] = {}
    for snapshot, fetch, url, render_js, start_urls, hosts in rows:
        if snapshot.id in targets or fetch.sha256 is None:
            continue
        body = load_body(session, fetch.sha256)
        if body is None:
            continue
        targets[snapshot.id] = ScreenshotTarget(
            snapshot.id, fetch.final_url or url, body, fetch.content_type or "text/html; charset=utf-8",
            javascript=not render_js, policy=HostPolicy.for_site(start_urls, hosts or ()),
        )
    return list(targets.values())


def take_screenshots(targets: Sequence[ScreenshotTarget], chromium_path: str) -> dict[int, Screenshot]:
    """Render every target in one Chromium session, its connections through an ``EgressGuard``: snapshot
    id -> full-page screenshot (failures, and pictures of another origin, are logged and left out)."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    shots: dict[int, Screenshot] = {}
    if not targets:
        return shots
    with EgressGuard() as guard, sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_options(chromium_path, proxy=guard.server))
        try:
            for target in targets:
                guard.policy = target.policy
                try:
                    shot = _render(browser, target)
                except PlaywrightError as exc:
                    log.warning("screenshot of %s failed: %s", target.url, str(exc).splitlines()[0])
                    continue
                if not same_origin(shot.url, target.url):
                    log.warning("screenshot of %s not kept: it shows %s", target.url, shot.url)
                    continue
                shots[target.snapshot_id] = shot
        finally:
            browser.close()
    return shots


def same_origin(url: str, other: str) -> bool:
    """Whether two http(s) URLs have the same scheme, host and port."""
    origin = url_origin(url)
    return origin is not None and origin == url_origin(other)


def _render(browser: Any, target: ScreenshotTarget) -> Screenshot:
    from playwright.sync_api import Error as PlaywrightError

    # service workers blocked: their requests would pass by the routing below
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1,
                                  java_script_enabled=target.javascript, service_workers="block")
    served = False

    def answer(route: Any) -> None:
        nonlocal served
        request = route.request
        try:
            top_level = request.is_navigation_request() and request.frame.parent_frame is None
        except PlaywrightError:
            top_level = True  # a frame already gone: treated as the strictest case
        if not top_level:
            route.continue_()  # frames, images, scripts: through the EgressGuard
        elif not served:
            served = True  # the page itself: the archived bytes, not today's version
            route.fulfill(status=200, headers={"content-type": target.content_type}, body=target.body)
        else:  # location.href, meta refresh, window.open...: the screenshot stays of the archived page
            log.info("screenshot of %s: navigation to %s blocked", target.url, request.url)
            # "204 No Content": the browser stays where it is (an aborted navigation stops the page's load)
            route.fulfill(status=204, body=b"")

    try:
        context.route("**/*", answer)  # the context's pages: popups too
        page = context.new_page()
        if target.javascript:
            # the document's own state, not Playwright's "load": a navigation a script started (blocked
            # below) leaves Playwright waiting for that navigation's load event
            page.goto(target.url, wait_until="commit", timeout=NAVIGATION_TIMEOUT_MS)
            page.wait_for_function("document.readyState === 'complete'", timeout=NAVIGATION_TIMEOUT_MS)
        else:  # (wait_for_function runs in the page: not without JavaScript)
            page.goto(target.url, wait_until="load", timeout=NAVIGATION_TIMEOUT_MS)
        with contextlib.suppress(PlaywrightError):  # a page that never goes quiet is taken as it is
            page.wait_for_load_state("networkidle", timeout=SETTLE_TIMEOUT_MS)
        png: bytes = page.screenshot(full_page=True, type="png", animations="disabled")
        return Screenshot(png, page.url)
    finally:
        context.close()


def record_screenshots(session: Session, settings: Settings, shots: Iterable[tuple[int, Screenshot]]) -> int:
    """Store PNGs content-addressed and point their snapshots at them, with the URL each shows; returns
    how many."""
    count = 0
    for snapshot_id, shot in shots:
        sha = store_screenshot(settings, shot.png, session=session)
        session.execute(update(Snapshot).where(Snapshot.id == snapshot_id)
                        .values(screenshot_sha256=sha, screenshot_url=shot.url[:2048]))
        count += 1
    return count


def capture_run_screenshots(settings: Settings, run_id: int) -> int:
    """Screenshot every page of a run that got a high or medium change; returns how many were taken.

    Without Chromium (``CLAIMWATCH_CHROMIUM``) nothing is taken and a warning is logged.
    """
    engine = make_engine(settings.db_url)
    try:
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            targets = pending_screenshots(session, run_id)
        if not targets:
            return 0
        if not chromium_available(settings):
            log.warning("no screenshots for %d changed pages: Chromium not found at %s "
                        "(apt-get install chromium, or set CLAIMWATCH_CHROMIUM)", len(targets),
                        settings.chromium_path)
            return 0
        shots = take_screenshots(targets, settings.chromium_path)
        with sessions.begin() as session:
            return record_screenshots(session, settings, shots.items())
    finally:
        engine.dispose()
