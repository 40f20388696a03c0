"""WARC archives of real crawls: warcio's own tools accept them, every fetch row points at its record, and
each response payload hashes to the body SHA-256 that was stored."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from crawlkit import crawl, fetches, setup_site
from sqlalchemy import select

from monitor.db import make_engine, make_session_factory
from monitor.models import Body, Fetch
from monitor.store import load_body
from monitor.urls import canonical_url
from monitor.warc import raw_records, read_record, sha256_base32

SITES = Path(__file__).resolve().parent / "sites"
SHOP = SITES / "crawl"
JS_SHOP = SITES / "js"


@pytest.fixture(autouse=True)
def _fast_crawls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_RETRY_BACKOFF_BASE", "0.1")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")


def warcio(*args: str) -> subprocess.CompletedProcess[str]:
    """warcio's command line, from the interpreter running the tests."""
    return subprocess.run([sys.executable, "-m", "warcio.cli", *args], capture_output=True, text=True,
                          timeout=120)


def warc_files(data: Path) -> list[Path]:
    return sorted((data / "warc").glob("*.warc.gz"))


def check_with_warcio(files: list[Path]) -> None:
    checked = warcio("check", "-v", *map(str, files))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "digest pass" in checked.stdout and "fail" not in checked.stdout.lower()
    for path in files:
        index = warcio("index", "-f", "warc-type,warc-target-uri,http:status,offset", str(path))
        assert index.returncode == 0, index.stderr
        types = [json.loads(line)["warc-type"] for line in index.stdout.splitlines()]
        assert types[0] == "warcinfo", f"{path.name} does not start with a warcinfo record"


def test_every_fetch_is_archived_and_its_payload_is_the_stored_body(run_cli, db_url, site_server,
                                                                       tmp_path) -> None:
    server = site_server(SHOP)
    setup_site(run_cli, db_url, "shop", f"{server.url}/products/", "--allow", "/products/", "--max-pages", "200")
    crawl(run_cli, db_url)
    data = tmp_path / "data"
    files = warc_files(data)
    # one file per page worker (CLAIMWATCH_CRAWL_WORKERS, 2 by default), each named after the run
    assert 1 <= len(files) <= 2 and all(path.name.startswith("shop-run1-w") for path in files)
    check_with_warcio(files)

    rows = fetches(db_url)
    names = {path.relative_to(data).as_posix() for path in files}
    assert rows and all(f.warc_path in names for f in rows)
    assert len({(f.warc_path, f.warc_offset) for f in rows}) == len(rows)
    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            assert session.scalar(select(Body.sha256).limit(1)) is not None
            for fetch in session.scalars(select(Fetch)):
                assert fetch.warc_path is not None and fetch.warc_offset is not None
                record = read_record(data, fetch.warc_path, fetch.warc_offset)
                assert record.record_type == "response"
                assert canonical_url(record.url) == fetch.final_url
                assert record.http_status == fetch.status
                if fetch.sha256 is None:  # 404, non-HTML: archived, not stored as a body
                    continue
                body = load_body(session, fetch.sha256)
                assert body is not None
                assert hashlib.sha256(record.payload).hexdigest() == fetch.sha256 == hashlib.sha256(body).hexdigest()
                assert record.warc_header("WARC-Payload-Digest") == sha256_base32(fetch.sha256)
                stamp = fetch.fetched_at.strftime("%Y-%m-%dT%H:%M:%S")
                assert (record.warc_header("WARC-Date") or "").startswith(stamp)
    finally:
        engine.dispose()

    statuses = {f.status for f in rows}
    assert 404 in statuses  # error pages are archived too
    # each response record is followed by its request record, with the honest User-Agent
    sample = rows[0]
    assert sample.warc_path is not None and sample.warc_offset is not None
    raw = raw_records(data, sample.warc_path, sample.warc_offset)
    pair = data / "pair.warc.gz"
    pair.write_bytes(raw)
    index = [json.loads(line) for line in warcio("index", "-f", "warc-type,warc-target-uri", str(pair))
             .stdout.splitlines()]
    assert [entry["warc-type"] for entry in index] == ["response", "request"]
    assert b"User-Agent: claimwatch/" in gzip.decompress(raw)


def test_files_rotate_by_size_and_per_run_and_errors_are_recorded(run_cli, sqlite_url, site_server, tmp_path,
                                                                  monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_WARC_MAX_BYTES", "5000")
    monkeypatch.setenv("CLAIMWATCH_DOWNLOAD_TIMEOUT", "1")
    server = site_server(SHOP)
    server.delays["/products/p03.html"] = 4  # never answers in time: a fetch without a response
    setup_site(run_cli, sqlite_url, "shop", f"{server.url}/products/", "--allow", "/products/",
               "--max-pages", "12")
    crawl(run_cli, sqlite_url)
    data = tmp_path / "data"
    first_run = warc_files(data)
    assert len(first_run) > 2, "5000-byte files should have rotated"
    assert all(path.stat().st_size <= 5000 or _records(path) <= 2 for path in first_run)
    check_with_warcio(first_run)

    failed = [f for f in fetches(sqlite_url) if f.status is None]
    assert failed and "timeout" in (failed[0].error or "")
    assert failed[0].warc_path is not None and failed[0].warc_offset is not None
    record = read_record(data, failed[0].warc_path, failed[0].warc_offset)
    assert record.record_type == "metadata" and b"fetch-error: timeout" in record.payload
    assert record.url.endswith("/products/p03.html")

    server.delays.clear()
    crawl(run_cli, sqlite_url)
    second_run = sorted(set(warc_files(data)) - set(first_run))
    assert second_run and all(path.name.startswith("shop-run2-") for path in second_run)
    check_with_warcio(second_run)
    for fetch in fetches(sqlite_url):
        assert fetch.warc_path is not None and fetch.warc_offset is not None
        record = read_record(data, fetch.warc_path, fetch.warc_offset)
        if fetch.final_url is None:
            assert record.record_type == "metadata"
        else:
            assert record.record_type == "response" and canonical_url(record.url) == fetch.final_url


def _records(path: Path) -> int:
    index = warcio("index", str(path))
    return len(index.stdout.splitlines())
