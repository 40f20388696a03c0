"""The HTML part rendered in headless Chromium: not blank, and at most ~700 px of content width."""

from __future__ import annotations

import struct
import subprocess
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import chromium_path
from report_fixtures import make_database, populate_example

from monitor.report import build_report, render_report

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
