"""The web app in a real browser: `claimwatch serve` (gunicorn) in a subprocess, Debian's Chromium driven by
Playwright through sign-in, inbox triage, the page timeline and its side-by-side view, and a search, at
1280 and 400 px wide. Screenshots are kept in the test's tmp folder; with CLAIMWATCH_WEB_DOCS_SCREENSHOTS=1
two of them replace docs/webapp-inbox-1280.png and docs/webapp-compare-400.png."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import REPO_ROOT, chromium_path
from report_fixtures import populate_example
from webkit import PASSWORD, SECRET, fast_hashing, make_web_app  # noqa: F401

from monitor.models import Body, Change, Fetch, Snapshot
from monitor.screenshots import chromium_launch_options

pytestmark = pytest.mark.chromium

HOSTILE_BODY = (b"<html><head><title>archived</title></head><body><h1>Archived page</h1>"
                b"<script>try { top.document.body.setAttribute('data-pwned', 'frame') } catch (e) {}"
                b" document.body.setAttribute('data-ran', 'yes')</script>"
                b"<img src='/inbox' onerror=\"top.document.body.setAttribute('data-pwned', 'img')\"></body></html>")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(request, sqlite_url, tmp_path) -> Iterator[tuple[str, object]]:
    chromium_path()
    web = make_web_app(sqlite_url, tmp_path / "data", request)
    with web.sessions.begin() as session:
        example = populate_example(session, datetime.now(UTC))
        guarantee = session.get(Change, example.change_ids["guarantee"])
        newest = session.get(Snapshot, guarantee.after_snapshot_id)
        fetch = session.get(Fetch, newest.fetch_id)
        sha = hashlib.sha256(HOSTILE_BODY).hexdigest()
        session.add(Body(sha256=sha, size=len(HOSTILE_BODY), compression="zlib", data=zlib.compress(HOSTILE_BODY)))
        fetch.sha256 = sha
        newest.screenshot_sha256 = None  # the example's screenshot is a name with no picture
    web.engine.dispose()
    port = _free_port()
    env = {**os.environ, "CLAIMWATCH_DB": sqlite_url, "CLAIMWATCH_DATA": str(tmp_path / "data"),
           "CLAIMWATCH_SECRET_KEY": SECRET}
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen([sys.executable, "-m", "monitor.cli", "serve", "--port", str(port), "--workers", "1",
                                "--threads", "4", "--no-access-log"], env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True, cwd=REPO_ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=5) as response:
                assert response.status == 200
                break
        except OSError:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "claimwatch serve did not answer"
            time.sleep(0.2)
    try:
        yield base, example
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _no_horizontal_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport + 1, f"the page is {width} px wide in a {viewport} px window"


def test_sign_in_triage_timeline_and_search_in_chromium(served, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, example = served
    guarantee, disease = example.change_ids["guarantee"], example.change_ids["disease"]
    shots: dict[str, Path] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_options(chromium_path()))
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{base}/inbox")
            assert page.url.startswith(f"{base}/login")
            page.fill("#name", "analyst")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/inbox")
            # the stylesheet applied: its hash is the one the CSP allows
            assert page.evaluate("getComputedStyle(document.querySelector('header.top')).backgroundColor") == \
                "rgb(29, 41, 57)"
            expect(page.locator(f"#change-{guarantee}")).to_be_visible()
            shots["inbox-1280"] = tmp_path / "webapp-inbox-1280.png"
            page.screenshot(path=str(shots["inbox-1280"]), full_page=False)

            page.locator(f"#change-{guarantee} button", has_text="Acknowledge").click()
            page.wait_for_load_state()
            expect(page.locator(f"#change-{guarantee}")).to_have_count(0)
            card = page.locator(f"#change-{disease}")
            card.locator("input[name=note]").fill("cure claim: to legal")
            card.locator("button", has_text="Escalate").click()
            page.wait_for_load_state()
            expect(page.locator(f"#change-{disease}")).to_have_count(0)
            page.select_option("select[name=state]", "escalated")
            page.click("form.filters button[type=submit]")
            expect(page.locator(f"#change-{disease}")).to_contain_text("escalated by analyst")

            # the page timeline, then the side-by-side view of its two versions
            page.goto(f"{base}/changes/{guarantee}")
            page.click("text=timeline")
            expect(page.locator("h2", has_text="Snapshots")).to_be_visible()
            expect(page.locator("h2", has_text="Fetch log")).to_be_visible()
            page.click("text=Compare side by side")
            expect(page.locator("#statements")).to_contain_text("Try it for 30 days: refund less shipping.")
            expect(page.locator("#statements del.del").first).to_be_visible()
            shots["compare-1280"] = tmp_path / "webapp-compare-1280.png"
            page.screenshot(path=str(shots["compare-1280"]), full_page=True)
            page.set_viewport_size({"width": 400, "height": 900})
            _no_horizontal_scroll(page)
            shots["compare-400"] = tmp_path / "webapp-compare-400.png"
            page.screenshot(path=str(shots["compare-400"]), full_page=True)

            # the page as fetched, in its sandbox: its scripts and handlers never run
            page.click("text=page as fetched >> nth=-1")
            frame_element = page.locator("iframe.raw")
            expect(frame_element).to_have_attribute("sandbox", "")
            page.wait_for_timeout(0)
            frame = page.frame_locator("iframe.raw")
            expect(frame.locator("h1")).to_have_text("Archived page")
            assert page.evaluate("document.body.getAttribute('data-pwned')") is None
            assert frame.locator("body").get_attribute("data-ran") is None

            page.goto(f"{base}/search?q=arthritis")
            expect(page.locator("#results")).to_contain_text("Shrinks arthritis flare-ups in a week.")
            _no_horizontal_scroll(page)
            page.goto(f"{base}/inbox?state=all")
            _no_horizontal_scroll(page)
            shots["inbox-400"] = tmp_path / "webapp-inbox-400.png"
            page.screenshot(path=str(shots["inbox-400"]), full_page=False)
            # the app's own stylesheet was never refused; the archived page's image request was (it never
            # leaves the sandbox to reach anything, the seller's server included)
            blocked = [e for e in errors if "Content Security Policy" in e]
            assert not [e for e in blocked if "style-src" in e or "script-src" in e], blocked
            assert any("img-src data:" in e for e in blocked), errors
        finally:
            browser.close()
    for path in shots.values():
        assert path.stat().st_size > 5000, path
    if os.environ.get("CLAIMWATCH_WEB_DOCS_SCREENSHOTS") == "1":
        shutil.copy(shots["inbox-1280"], REPO_ROOT / "docs" / "webapp-inbox-1280.png")
        shutil.copy(shots["compare-400"], REPO_ROOT / "docs" / "webapp-compare-400.png")
