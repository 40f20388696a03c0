"""The HTML part rendered in headless Chromium: not blank, at most ~700 px of content width, and readable on
a 400 px screen."""

from __future__ import annotations

import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import chromium_path
from report_fixtures import add_change, add_page, add_site, add_snapshot, make_database, populate_example

from monitor.report import MAIL_HTML_LIMIT, build_report, mailed_size, render_report
from monitor.screenshots import chromium_launch_options

pytestmark = pytest.mark.chromium

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")
BACKGROUND = (0xEE, 0xF1, 0xF4)  # the report's outer background, #eef1f4
MAX_CONTENT_WIDTH = 710  # 700 px plus the container's borders and anti-aliasing


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, bytearray(), b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position:position + 4])
        kind = data[position + 4:position + 8]
        chunk = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    channels = 4 if colour == 6 else 3
    stride = width * channels
    raw = zlib.decompress(bytes(idat))
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous, strict=True))
        elif kind == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = previous[i]
                c = previous[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        previous = line
        rgb = bytes(line) if channels == 3 else bytes(v for i, v in enumerate(line) if i % 4 != 3)
        rows.append(rgb)
    return width, height, rows


def screenshot(chromium: str, html: Path, png: Path, profile: Path, size: str = "1000,1400") -> None:
    command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}",
               f"--window-size={size}", html.as_uri()]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert png.is_file(), f"chromium wrote no screenshot (exit {completed.returncode}): {completed.stderr[-500:]}"


def content_box(width: int, rows: list[bytes]) -> tuple[int, int, int]:
    """Leftmost and rightmost columns that differ from the background, and how many pixels differ."""
    left, right, differing = width, -1, 0
    for row in rows:
        for x in range(width):
            pixel = (row[3 * x], row[3 * x + 1], row[3 * x + 2])
            if max(abs(a - b) for a, b in zip(pixel, BACKGROUND, strict=True)) > 8:
                differing += 1
                left, right = min(left, x), max(right, x)
    return left, right, differing


def test_report_renders_in_chromium_within_700px(tmp_path: Path) -> None:
    chromium = chromium_path()
    sessions = make_database(tmp_path / "shot.db")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        example = populate_example(session, now)
    with sessions() as session:
        html = render_report(build_report(session, since=example.since, until=now)).html
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    png = tmp_path / "report.png"
    screenshot(chromium, page, png, tmp_path / "profile")

    width, height, rows = decode_png(png.read_bytes())
    assert (width, height) == (1000, 1400)
    colours = {row[i:i + 3] for row in rows[::10] for i in range(0, len(row), 30)}
    assert len(colours) > 20, "the screenshot is blank or nearly so"
    left, right, differing = content_box(width, rows[::2])
    assert differing > 0.2 * width * len(rows[::2]), "too little content on the page"
    content_width = right - left + 1
    print(f"content box x={left}..{right} ({content_width} px)")
    assert 600 <= content_width <= MAX_CONTENT_WIDTH, f"content is {content_width} px wide"
    # centred in the window
    assert abs(left - (width - 1 - right)) <= 4


#: What a narrow screen must not have: anything past the right edge of the window, a table cell whose
#: content is wider than the cell (so it spills over its neighbours, as squeezed columns do), or a column
#: heading or a seller name of up to 16 characters in the summary table broken over two lines.
OVERFLOW_JS = """() => {
  const problems = [];
  const name = (e) => e.tagName.toLowerCase() + ' "' + e.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40) + '"';
  const lines = (e) => {
    const range = document.createRange();
    range.selectNodeContents(e);
    return new Set(Array.from(range.getClientRects(), (rect) => Math.round(rect.top))).size;
  };
  for (const e of document.querySelectorAll('body *')) {
    if (e.getBoundingClientRect().right > window.innerWidth + 0.5) problems.push('past the edge: ' + name(e));
    if (getComputedStyle(e).display === 'table-cell' && e.scrollWidth > e.clientWidth + 1)
      problems.push('spills out of its cell: ' + name(e));
  }
  const summary = document.querySelectorAll('table.sellers th, table.sellers td:first-child');
  if (!summary.length) problems.push('no summary table');
  for (const e of summary) {
    if (e.textContent.trim().length <= 16 && lines(e) > 1) problems.push('broken over lines: ' + name(e));
  }
  return {width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth, problems: problems};
}"""


def layout_at(chromium: str, html: str, width: int) -> dict[str, Any]:
    """Lay the HTML out in a ``width`` px wide viewport (the CLI's --window-size cannot go below 500 px)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**chromium_launch_options(chromium))
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_content(html)  # the report loads nothing from anywhere
            return dict(page.evaluate(OVERFLOW_JS))
        finally:
            browser.close()


def test_report_is_readable_at_400px(tmp_path: Path) -> None:
    chromium = chromium_path()
    sessions = make_database(tmp_path / "narrow.db")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        example = populate_example(session, now)
        # what breaks narrow layouts: a long unbroken seller name, a long URL, a long unbroken statement
        site = add_site(session, "supplementsuperstoreinternationalwholesaleoutlet", ["ana@agency.example"])
        page = add_page(session, site, "https://shop.example/collections/all/products/" + "a" * 120
                        + "?variant=" + "9" * 40, when=now)
        before, after = add_snapshot(session, page, when=now), add_snapshot(session, page, when=now)
        add_change(session, page, before, after, when=now, change="added", kind="claim", type="disease",
                   severity="high", after_text="Cures" + "!" * 150)
    with sessions() as session:
        ctx = build_report(session, since=example.since, until=now + timedelta(seconds=1))
    full = render_report(ctx)
    abridged = render_report(ctx, max_html_bytes=len(full.html.encode()) // 2)
    assert abridged.extra["abridged"], "the abridged layout is checked too"
    for html in (full.html, abridged.html):
        layout = layout_at(chromium, html, 400)
        assert layout["width"] == 400
        assert layout["scrollWidth"] <= 400 and layout["problems"] == [], layout


def test_a_digest_of_many_changes_is_readable_at_400px(tmp_path: Path) -> None:
    from report_fixtures import populate_many

    chromium = chromium_path()
    sessions = make_database(tmp_path / "many.db")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        since = populate_many(session, now, changes=300, sellers=7)
    with sessions() as session:
        mailed = render_report(build_report(session, since=since, until=now), max_html_bytes=MAIL_HTML_LIMIT)
    assert mailed_size(mailed.html) <= MAIL_HTML_LIMIT and mailed.extra["abridged"]
    layout = layout_at(chromium, mailed.html, 400)
    assert layout["scrollWidth"] <= 400 and layout["problems"] == [], layout
