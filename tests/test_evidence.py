"""Screenshots and evidence bundles, from real crawls of a page that gains a disease claim (a high change)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import stat
import struct
import subprocess
import sys
import tracemalloc
import warnings
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import chromium_path
from crawlkit import crawl, rows, setup_site
from evidencekit import Stored, Version, machine, store_versions
from sqlalchemy import select, update

from monitor.db import make_engine, make_session_factory
from monitor.evidence import verify_bundle
from monitor.models import Change, Fetch, Snapshot
from monitor.warc import HttpExchange, WarcArchive, raw_records, warcinfo_record

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


# --- bundles of pages stored through the page chain (no crawl, no Chromium) ------------------------------

PAGE = "http://127.0.0.1:1/p.html"
OTHER = "http://127.0.0.1:1/other.html"
WARC = "warc/evidence.warc.gz"


def stored_versions(db: str, data: Path, store: str | None = None) -> Stored:
    """Two versions of p.html (the second with a disease claim) and one of other.html, archived in ``data``
    (or, with ``store`` "database", in the database)."""
    return store_versions(machine(db, data, store), [
        Version(PAGE, "Supports healthy joints as part of your daily routine.*"),
        Version(OTHER, "Made with organic ginger root."),
        Version(PAGE, DISEASE_CLAIM, "claim", "disease", "high"),
    ])


def page_fetches(db: str, url: str) -> list[Fetch]:
    return [fetch for fetch in rows(db, Fetch) if fetch.final_url == url]


def point_fetch_at(db: str, fetch_id: int, warc_path: str | None, warc_offset: int | None) -> None:
    engine = make_engine(db)
    try:
        with make_session_factory(engine).begin() as session:
            session.execute(update(Fetch).where(Fetch.id == fetch_id)
                            .values(warc_path=warc_path, warc_offset=warc_offset))
    finally:
        engine.dispose()


def one_line_failure(result: Any) -> str:
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("store", ["local", "database"])
@pytest.mark.parametrize("pointer", ["another page's record", "an older record of the page", "garbage",
                                     "a missing file"])
def test_a_fetch_row_that_points_at_the_wrong_record_is_never_bundled(run_cli, sqlite_url, tmp_path,
                                                                      pointer: str, store: str) -> None:
    # rows written before archive writes were all-or-nothing may point at another record, or at garbage
    data = tmp_path / "data"
    stored_versions(sqlite_url, data, store)
    first, latest = page_fetches(sqlite_url, PAGE)
    (other,) = page_fetches(sqlite_url, OTHER)
    assert latest.warc_path is not None and latest.warc_offset is not None
    assert latest.warc_path.startswith("db:" if store == "database" else "warc/")
    wrong: dict[str, tuple[str | None, int | None]] = {
        "another page's record": (other.warc_path, other.warc_offset),
        "an older record of the page": (first.warc_path, first.warc_offset),
        "garbage": (latest.warc_path, latest.warc_offset + 7),
        "a missing file": ("db:gone-run9" if store == "database" else "warc/gone.warc.gz", latest.warc_offset),
    }
    point_fetch_at(sqlite_url, latest.id, *wrong[pointer])
    out = tmp_path / "bundle.zip"
    line = one_line_failure(run_cli("evidence", PAGE, "--out", str(out), db=sqlite_url))
    assert "WARC record" in line and f"fetch {latest.id}" in line, line
    if pointer == "another page's record":
        assert OTHER in line
    assert not out.exists()


@pytest.fixture
def bundle(run_cli, sqlite_url, tmp_path) -> Path:
    """A genuine bundle of p.html's change (two fetches, no screenshots)."""
    stored_versions(sqlite_url, tmp_path / "data")
    out = tmp_path / "genuine.zip"
    made = run_cli("evidence", PAGE, "--out", str(out), db=sqlite_url)
    assert made.exit_code == 0, made.stderr
    return out


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def zip_of(path: Path, entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    """Write ``entries`` in order (duplicate names too), deflated."""
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        warnings.simplefilter("ignore")  # "Duplicate name": on purpose
        for name, content in entries:
            archive.writestr(name, content)
    return path


def listing(name: str, content: bytes) -> dict[str, Any]:
    return {"name": name, "sha256": hashlib.sha256(content).hexdigest(), "bytes": len(content)}


def relisted(manifest: dict[str, Any], extra: dict[str, bytes]) -> bytes:
    """The manifest with ``extra`` listed (replacing entries of the same name), consistent with them."""
    files = [entry for entry in manifest["files"] if entry["name"] not in extra]
    files += [listing(name, content) for name, content in extra.items()]
    return json.dumps({**manifest, "files": sorted(files, key=lambda entry: entry["name"])}).encode()


def verify(run_cli: Callable[..., Any], path: Path, *extra: str) -> Any:
    return run_cli("evidence", "verify", str(path), *extra)


def test_the_genuine_bundle_verifies_and_its_manifest_hash_can_be_pinned(run_cli, bundle) -> None:
    result = verify(run_cli, bundle)
    assert result.exit_code == 0 and result.stdout.startswith("OK: "), result.stdout + result.stderr
    digest = hashlib.sha256(members(bundle)["manifest.json"]).hexdigest()
    assert digest in result.stdout
    assert verify(run_cli, bundle, "--manifest-sha256", digest.upper()).exit_code == 0
    line = one_line_failure(verify(run_cli, bundle, "--manifest-sha256", "0" * 64))
    assert "FAILED: " in line and "manifest.json" in line and "SHA-256" in line, line


def test_a_forged_member_placed_before_the_genuine_one_is_refused(run_cli, bundle, tmp_path) -> None:
    genuine = members(bundle)
    forged = genuine["statements/after.json"].replace(DISEASE_CLAIM.encode(), b"Supports joint comfort.")
    path = zip_of(tmp_path / "forged.zip", [("statements/after.json", forged), *genuine.items()])
    assert zipfile.ZipFile(path).namelist().count("statements/after.json") == 2
    line = one_line_failure(verify(run_cli, path))
    assert "FAILED: " in line and "statements/after.json" in line and "duplicate" in line, line


@pytest.mark.parametrize("name", ["../evil.sh", "statements/../../evil.sh", "/etc/cron.d/claimwatch",
                                  "statements\\..\\..\\evil.bat", "C:/evil.bat", "statements//after.json"])
def test_a_member_name_that_could_escape_the_folder_is_refused(run_cli, bundle, tmp_path, name: str) -> None:
    genuine = members(bundle)
    evil = b"#!/bin/sh\necho owned\n"
    manifest = relisted(json.loads(genuine.pop("manifest.json")), {name: evil})
    path = zip_of(tmp_path / "escape.zip", [("manifest.json", manifest), *genuine.items(), (name, evil)])
    line = one_line_failure(verify(run_cli, path))
    assert "FAILED: " in line and "unsafe member name" in line, line


def test_a_symlink_member_is_refused(run_cli, bundle, tmp_path) -> None:
    genuine = members(bundle)
    target = b"/etc/passwd"
    manifest = json.loads(genuine.pop("manifest.json"))
    manifest["snapshots"][-1].update(screenshot="screenshots/after.png",
                                     screenshot_sha256=hashlib.sha256(target).hexdigest())
    link = zipfile.ZipInfo("screenshots/after.png")
    link.create_system = 3  # unix: the mode below is read
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    path = zip_of(tmp_path / "link.zip", [("manifest.json", relisted(manifest, {"screenshots/after.png": target})),
                                          *genuine.items(), (link, target)])
    line = one_line_failure(verify(run_cli, path))
    assert "FAILED: " in line and "screenshots/after.png" in line and "symbolic link" in line, line


def test_members_outside_the_manifest_or_the_zip_directory_are_refused(run_cli, bundle, tmp_path) -> None:
    genuine = members(bundle)
    extra = zip_of(tmp_path / "extra.zip", [*genuine.items(), ("notes.txt", b"added later")])
    line = one_line_failure(verify(run_cli, extra))
    assert "FAILED: " in line and "notes.txt: not listed in the manifest" in line, line

    # a forged entry ahead of the zip's first member that its central directory does not list: Python's
    # zipfile skips it, a streaming unzip extracts it
    forged = zip_of(tmp_path / "one.zip", [("statements/after.json", b"{}")]).read_bytes()
    hidden = forged[:forged.index(b"PK\x01\x02")]  # its local entry alone
    prefixed = tmp_path / "prefixed.zip"
    prefixed.write_bytes(hidden + bundle.read_bytes())
    with zipfile.ZipFile(prefixed) as archive, zipfile.ZipFile(bundle) as original:
        assert archive.namelist() == original.namelist()
    line = one_line_failure(verify(run_cli, prefixed))
    assert "FAILED: " in line and "outside" in line, line


def _drop_listing(manifest: dict[str, Any], name: str) -> None:
    manifest["files"] = [entry for entry in manifest["files"] if entry["name"] != name]


MISSING_CHECKS: dict[str, Callable[[dict[str, Any]], object]] = {
    "no format": lambda m: m.pop("format"),
    "report.html unlisted": lambda m: _drop_listing(m, "report.html"),
    "statements unlisted": lambda m: _drop_listing(m, "statements/after.json"),
    "WARC unlisted": lambda m: _drop_listing(m, WARC),
    "no body SHA-256": lambda m: m["snapshots"][-1].update(body_sha256=None),
    "no WARC record named": lambda m: [s.update(warc=None) for s in m["snapshots"]],
    "no snapshots": lambda m: m.update(snapshots=[]),
    "file without SHA-256": lambda m: m["files"][0].pop("sha256"),
    "file without size": lambda m: m["files"][0].pop("bytes"),
}


@pytest.mark.parametrize("mutation", sorted(MISSING_CHECKS))
def test_a_manifest_missing_a_required_check_is_refused(run_cli, bundle, tmp_path, mutation: str) -> None:
    genuine = members(bundle)
    manifest = json.loads(genuine.pop("manifest.json"))
    MISSING_CHECKS[mutation](manifest)
    listed = {entry["name"] for entry in manifest["files"]}
    kept = [(name, content) for name, content in genuine.items() if name in listed or mutation.startswith("file")]
    path = zip_of(tmp_path / "weak.zip", [("manifest.json", json.dumps(manifest).encode()), *kept])
    line = one_line_failure(verify(run_cli, path))
    assert "FAILED: " in line and "manifest.json" in line, line


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b"42", b"\xff\xfe{", b"{", b"[" * 100_000,
                                 b'{"files": "abc"}', b'{"files": [1]}', b'{"files": {"a": 1}}',
                                 b'{"format": "claimwatch-evidence/1", "files": [], "snapshots": [{"warc": {}}]}',
                                 b'{"format": "claimwatch-evidence/1", "files": [{"name": ["x"]}]}'],
                         ids=lambda raw: raw[:40].decode("latin-1"))
def test_a_malformed_manifest_is_one_failed_line_never_a_traceback(run_cli, bundle, tmp_path, raw: bytes) -> None:
    genuine = members(bundle)
    genuine.pop("manifest.json")
    path = zip_of(tmp_path / "malformed.zip", [("manifest.json", raw), *genuine.items()])
    line = one_line_failure(verify(run_cli, path))
    assert "FAILED: " in line and "manifest.json" in line, line


# --- memory: members are streamed, never read whole --------------------------------------------------------

HUGE = 64 * 1024 * 1024  # deflated, a member of 64 KiB; read whole, 64 MiB
MEMORY_LIMIT = 16 * 1024 * 1024


def peak_memory_of_verify(path: Path) -> tuple[bool, str, int]:
    """Verify in-process under tracemalloc: the verdict, its message and the peak of Python allocations."""
    tracemalloc.start()
    try:
        result = verify_bundle(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return result.ok, result.message, peak


def test_a_huge_member_is_streamed_not_read_whole(bundle, tmp_path) -> None:
    genuine = members(bundle)
    manifest = json.loads(genuine.pop("manifest.json"))
    zeros = bytes(HUGE)
    swapped = {**genuine, "report.html": zeros}

    # a size in the zip that is not the manifest's: refused from the sizes alone
    path = zip_of(tmp_path / "mismatched.zip", [("manifest.json", json.dumps(manifest).encode()), *swapped.items()])
    ok, message, peak = peak_memory_of_verify(path)
    assert not ok and "report.html" in message and "bytes" in message, message
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB"

    # the size the manifest states too: hashed in chunks, and it verifies
    path = zip_of(tmp_path / "declared.zip", [("manifest.json", relisted(manifest, {"report.html": zeros})),
                                              *swapped.items()])
    ok, message, peak = peak_memory_of_verify(path)
    assert ok, message
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB"


def huge_record(url: str, tmp_path: Path) -> tuple[bytes, str, str]:
    """A response record of HUGE zero bytes for ``url``: its raw bytes, record id and body SHA-256."""
    body = bytes(HUGE)
    with WarcArchive(tmp_path / "huge", prefix="huge") as archive:
        location = archive.write_exchange(HttpExchange(url=url, status=200, body=body,
                                                       fetched_at=datetime.now(UTC)))
    raw = raw_records(tmp_path / "huge", location.path, location.offset)
    head = gzip.GzipFile(fileobj=io.BytesIO(raw)).read(2000)
    record_id = head.split(b"WARC-Record-ID: ", 1)[1].split(b"\r\n", 1)[0].decode()
    return raw, record_id, hashlib.sha256(body).hexdigest()


def test_a_huge_warc_payload_or_header_is_streamed_not_read_whole(bundle, tmp_path) -> None:
    genuine = members(bundle)
    manifest = json.loads(genuine.pop("manifest.json"))
    genuine.pop("statements/before.json")
    _drop_listing(manifest, "statements/before.json")
    after = manifest["snapshots"][-1]
    info = warcinfo_record("evidence.warc.gz", {"description": "one huge record"})

    # the after fetch alone, its record a 64 MiB payload (the manifest's entries to match): it verifies
    raw, record_id, body_sha256 = huge_record(after["url"], tmp_path)
    manifest["snapshots"] = [{**after, "body_sha256": body_sha256, "warc": {**after["warc"], "record_id": record_id}}]
    warc = info + raw
    path = zip_of(tmp_path / "payload.zip", [("manifest.json", relisted(manifest, {WARC: warc})),
                                             *{**genuine, WARC: warc}.items()])
    ok, message, peak = peak_memory_of_verify(path)
    assert ok, message
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB"

    # a WARC header line of 64 MiB (a few KiB compressed)
    bomb = info + gzip.compress(b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: http://x/" + b"a" * HUGE
                                + b"\r\n\r\n", compresslevel=1)
    path = zip_of(tmp_path / "header.zip", [("manifest.json", relisted(manifest, {WARC: bomb})),
                                            *{**genuine, WARC: bomb}.items()])
    ok, message, peak = peak_memory_of_verify(path)
    assert not ok and WARC in message, message
    assert peak < MEMORY_LIMIT, f"{peak / 2**20:.0f} MiB"
