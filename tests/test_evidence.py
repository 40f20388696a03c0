"""Screenshots and evidence bundles, from real crawls of a page that gains a disease claim (a high change)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from conftest import chromium_path
from crawlkit import crawl, rows, setup_site
from sqlalchemy import select

from monitor.db import make_engine, make_session_factory
from monitor.models import Change, Snapshot

JS_SHOP = Path(__file__).resolve().parent / "sites" / "js"
MARKER = "<!-- marker: tests may insert static statements here -->"
DISEASE_CLAIM = "Cures arthritis and rebuilds damaged knee cartilage in two weeks."


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.1")


def changed_shop(run_cli, db: str, site_server, tmp_path: Path) -> str:
    """Crawl the shop, add a disease claim to its home page, crawl again; returns the home page URL."""
    root = tmp_path / "site"
    shutil.copytree(JS_SHOP, root)
    server = site_server(root)
    setup_site(run_cli, db, "shop", f"{server.url}/")
    crawl(run_cli, db)
    home = root / "index.html"
    home.write_text(home.read_text(encoding="utf-8").replace(MARKER, f"<p>{DISEASE_CLAIM}</p>"), encoding="utf-8")
    result = crawl(run_cli, db)
    assert "1 changes" in result.stderr, result.stderr
    return f"{server.url}/"


def snapshots(db: str) -> list[Snapshot]:
    return rows(db, Snapshot)


def change_ids(db: str) -> list[int]:
    engine = make_engine(db)
    try:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(Change.id).order_by(Change.id)))
    finally:
        engine.dispose()


def png_size_and_top_rows(png: bytes, rows: int = 300) -> tuple[int, int, list[bytes]]:
    """Width, height and the first ``rows`` unfiltered scanlines of an 8-bit RGB/RGBA PNG (no Chromium)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, idat, header = 8, b"", b""
    while position < len(png):
        (length,), kind = struct.unpack(">I", png[position:position + 4]), png[position + 4:position + 8]
        chunk = png[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), f"unexpected PNG format depth={depth} colour={colour}"
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompressobj().decompress(idat, (stride + 1) * rows)
    previous = bytearray(stride)
    lines: list[bytes] = []
    for row in range(min(rows, height)):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        lines.append(bytes(line))
        previous = line
    return width, height, lines


def test_high_change_gets_a_screenshot_and_a_bundle_that_verifies(run_cli, sqlite_url, site_server, tmp_path,
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_CHROMIUM", chromium_path())
    url = changed_shop(run_cli, sqlite_url, site_server, tmp_path)
    data = tmp_path / "data"

    # only the new version of the changed page was photographed
    rows = snapshots(sqlite_url)
    shot = [s for s in rows if s.screenshot_sha256]
    assert len(shot) == 1 and DISEASE_CLAIM in shot[0].text
    png = (data / "screenshots" / f"{shot[0].screenshot_sha256}.png").read_bytes()
    assert hashlib.sha256(png).hexdigest() == shot[0].screenshot_sha256
    width, height, top = png_size_and_top_rows(png)
    assert width == 1280 and height >= 800  # the viewport width; full page, at least one screen high
    pixels = b"".join(top)
    assert len(set(pixels)) > 20, "the top of the screenshot is blank"
    assert len(set(top)) > 20, "every scanline is the same: a blank or flat screenshot"
    # the header band is the page's blue (#175cd3) and the body below it white: real rendering
    assert bytes([0x17, 0x5C, 0xD3]) in top[10] and top[200][:3] == b"\xff\xff\xff"

    bundle = tmp_path / "bundle.zip"
    made = run_cli("evidence", url, "--out", str(bundle), db=sqlite_url)
    assert made.exit_code == 0, made.stderr
    assert "manifest SHA-256" in made.stderr
    verified = run_cli("evidence", "verify", str(bundle))
    assert verified.exit_code == 0 and verified.stdout.startswith("OK: "), verified.stdout + verified.stderr
    assert len(verified.stdout.strip().splitlines()) == 1

    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        members = {name: archive.read(name) for name in archive.namelist()}
    assert {entry["name"] for entry in manifest["files"]} == set(members) - {"manifest.json"}
    assert {"warc/evidence.warc.gz", "statements/before.json", "statements/after.json", "report.html",
            "screenshots/after.png"} <= set(members)
    assert members["screenshots/after.png"] == png
    assert manifest["claimwatch_version"] and manifest["url"] == url
    before, after = manifest["snapshots"]
    assert (before["role"], after["role"]) == ("before", "after")
    assert all(entry["fetched_at"].endswith("Z") for entry in (before, after))
    assert [c["type"] for c in manifest["changes"]] == ["disease"] and manifest["changes"][0]["severity"] == "high"
    after_texts = [s["text"] for s in json.loads(members["statements/after.json"])["statements"]]
    before_texts = [s["text"] for s in json.loads(members["statements/before.json"])["statements"]]
    assert DISEASE_CLAIM in after_texts and DISEASE_CLAIM not in before_texts
    assert DISEASE_CLAIM in members["report.html"].decode("utf-8")

    # the small WARC passes warcio's own check and holds both fetches' response records
    warc = tmp_path / "evidence.warc.gz"
    warc.write_bytes(members["warc/evidence.warc.gz"])
    checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(warc)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and "fail" not in checked.stdout.lower(), checked.stdout
    assert checked.stdout.count(" response") == 2

    # one byte changed in one member (the zip itself rewritten consistently): verification fails
    tampered = tmp_path / "tampered.zip"
    changed = bytearray(members["statements/after.json"])
    at = changed.index(b"Cures")
    changed[at] = ord("K")
    with zipfile.ZipFile(tampered, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, bytes(changed) if name == "statements/after.json" else content)
    failed = run_cli("evidence", "verify", str(tampered))
    assert failed.exit_code == 1
    assert "FAILED" in failed.stderr and "statements/after.json" in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1

    # one byte flipped in the zip file itself (inside the stored WARC member): fails too
    raw = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        info = archive.getinfo("warc/evidence.warc.gz")
    raw[info.header_offset + 30 + len(info.filename) + len(info.extra) + 100] ^= 0x01
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(raw))
    failed = run_cli("evidence", "verify", str(flipped))
    assert failed.exit_code == 1 and "FAILED" in failed.stderr


def test_choosing_the_versions_and_clear_errors(run_cli, sqlite_url, site_server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")  # bundles without screenshots: no Chromium needed
    url = changed_shop(run_cli, sqlite_url, site_server, tmp_path)
    rows = [s for s in snapshots(sqlite_url) if s.text and DISEASE_CLAIM in s.text]
    first_home = min(s.id for s in snapshots(sqlite_url))

    by_change = tmp_path / "by-change.zip"
    change = change_ids(sqlite_url)[0]
    assert run_cli("evidence", url, "--change", str(change), "--out", str(by_change), db=sqlite_url).exit_code == 0
    with zipfile.ZipFile(by_change) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert "screenshots/after.png" not in archive.namelist()
    assert [s["snapshot_id"] for s in manifest["snapshots"]] == [first_home, rows[0].id]
    assert run_cli("evidence", "verify", str(by_change)).exit_code == 0

    # --at the first crawl's time: that version alone (it replaced nothing)
    at = manifest["snapshots"][0]["fetched_at"]
    early = tmp_path / "early.zip"
    assert run_cli("evidence", url, "--at", at, "--out", str(early), db=sqlite_url).exit_code == 0
    with zipfile.ZipFile(early) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    assert [(s["role"], s["snapshot_id"]) for s in manifest["snapshots"]] == [("after", first_home)]
    assert manifest["changes"] == []

    for args, message in [
        (("https://unknown.example/", "--out", "x.zip"), "no watched page"),
        ((url, "--change", "999", "--out", "x.zip"), "not a change of"),
        ((url, "--at", "2001-01-01", "--out", "x.zip"), "no snapshot"),
        ((url, "--at", "yesterday", "--out", "x.zip"), "not an ISO date"),
    ]:
        result = run_cli("evidence", *args, db=sqlite_url)
        assert result.exit_code == 1 and message in result.stderr, (args, result.stderr)
    assert run_cli("evidence", "verify", str(tmp_path / "missing.zip")).exit_code == 1
