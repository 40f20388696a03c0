"""WARC archives of real crawls: warcio's own tools accept them, every fetch row points at its record, and
each response payload hashes to the body SHA-256 that was stored."""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from crawlkit import crawl, fetches, setup_site, shop_page
from sqlalchemy import select

from crawler.items import PageItem
from monitor.config import load_settings
from monitor.db import make_engine, make_session_factory
from monitor.models import Body, Fetch
from monitor.store import load_body
from monitor.urls import canonical_url
from monitor.warc import HttpExchange, WarcArchive, raw_records, read_record, sha256_base32

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
    # the crawl's files, named after the site and the run
    assert files and all(path.name.startswith("shop-run1-") for path in files)
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


# --- a write that fails (a full disk) -------------------------------------------------------------------


@contextlib.contextmanager
def file_size_limit(limit: int) -> Iterator[None]:
    """Any write past ``limit`` bytes into a file fails, as on a full disk: the kernel's RLIMIT_FSIZE cuts
    a write that crosses the limit short and fails the next one with EFBIG (SIGXFSZ ignored, as a server
    would). Process-wide: hold it only around the write under test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def exchange(name: str, size: int = 3000) -> HttpExchange:
    body = b"<p>" + os.urandom(size).hex().encode() + b"</p>"  # random: the record does not compress away
    return HttpExchange(url=f"http://127.0.0.1:1/{name}", status=200, body=body, fetched_at=datetime.now(UTC))


def target_uris(path: Path) -> list[str]:
    index = warcio("index", "-f", "warc-type,warc-target-uri", str(path))
    assert index.returncode == 0, index.stderr
    return [json.loads(line).get("warc-target-uri", "") for line in index.stdout.splitlines()]


def test_a_write_cut_short_is_undone_and_later_records_are_where_their_locations_say(tmp_path) -> None:
    data = tmp_path / "data"
    with WarcArchive(data, prefix="shop-run1-w1") as archive:
        first = archive.write_exchange(exchange("a.html"))
        path = archive.files[-1]
        before = path.stat().st_size
        with file_size_limit(before + 1000), pytest.raises(OSError):
            archive.write_exchange(exchange("b.html"))  # 1000 bytes land, then "File too large"
        assert path.stat().st_size == before, "the half-written record was not cut off"
        later = [archive.write_exchange(exchange(name)) for name in ("c.html", "d.html")]
    for location, name in zip([first, *later], ["a.html", "c.html", "d.html"], strict=True):
        assert read_record(data, location.path, location.offset).url.endswith(f"/{name}")
    check_with_warcio(warc_files(data))
    assert not any(uri.endswith("/b.html") for uri in target_uris(path))


def test_a_new_file_that_cannot_be_started_is_not_left_half_written(tmp_path) -> None:
    data = tmp_path / "data"
    with WarcArchive(data, prefix="shop-run1-w1", max_bytes=1) as archive:  # every fetch starts a file
        first = archive.write_exchange(exchange("a.html"))
        with file_size_limit(100), pytest.raises(OSError):
            archive.write_exchange(exchange("b.html"))  # the next file's warcinfo record is cut short
        later = archive.write_exchange(exchange("c.html"))
    assert read_record(data, first.path, first.offset).url.endswith("/a.html")
    assert read_record(data, later.path, later.offset).url.endswith("/c.html")
    files = warc_files(data)
    assert files == sorted(archive.files) and len(files) == 2
    check_with_warcio(files)


def test_a_file_that_grew_behind_the_archives_back_is_left_for_a_new_one(tmp_path) -> None:
    # offsets are counted, not asked for: bytes the archive did not write (a write interrupted between
    # two system calls) must never shift the next record away from its recorded offset
    data = tmp_path / "data"
    with WarcArchive(data, prefix="shop-run1-w1") as archive:
        first = archive.write_exchange(exchange("a.html"))
        with archive.files[-1].open("ab") as handle:
            handle.write(b"\x1f\x8b half a record")
        later = archive.write_exchange(exchange("b.html"))
    assert later.path != first.path and later.offset > 0  # a new file, after its warcinfo record
    assert read_record(data, later.path, later.offset).url.endswith("/b.html")


def test_a_page_that_could_not_be_archived_says_so_and_no_other_item_points_at_a_wrong_record(
        sqlite_url, tmp_path) -> None:
    """The crawl's ArchivePipeline on a disk that fills up for one page: that page says "not archived"
    (and has no location, so its fetch row is stored as an error), the others point at their records."""
    import asyncio

    from pipelines.archive import ArchivePipeline
    from pipelines.services import PageServices

    data = tmp_path / "data"
    settings = dataclasses.replace(load_settings({"CLAIMWATCH_DATA": str(data)}, db_url=sqlite_url),
                                   crawl_workers=0)
    services = PageServices(settings)
    pipeline = ArchivePipeline(services, "shop-run1")
    # a first page large enough that the limit stays far above any other file this test writes meanwhile
    padding = b"<!-- " + os.urandom(100_000).hex().encode() + b" -->"
    large = shop_page("p0.html")
    large = dataclasses.replace(large, body=(large.body or b"") + padding)

    def archived(item: PageItem) -> PageItem:
        return asyncio.run(pipeline.process_item(item))

    try:
        items = [archived(large)] + [archived(shop_page(f"p{n}.html", text=f"Supports joints {n}.*")) for n in (1, 2)]
        assert pipeline.archive is not None
        size = warc_files(data)[-1].stat().st_size
        with file_size_limit(size + 200):  # nothing but this page's WARC write happens in here
            unarchived = archived(shop_page("p3.html", text="Supports healthy joints 3.*"))
        items += [archived(shop_page(f"p{n}.html", text=f"Supports joints {n}.*")) for n in (4, 5, 6)]
        asyncio.run(pipeline.close_spider())
    finally:
        services.close()

    assert unarchived.warc_path is None and unarchived.warc_offset is None
    assert unarchived.error is not None and unarchived.error.startswith("not archived: ")
    assert "File too large" in unarchived.error
    for item in items:
        assert item.error is None and item.warc_path is not None and item.warc_offset is not None
        record = read_record(data, item.warc_path, item.warc_offset)
        assert record.url == item.url, "an item points at another page's record"
        assert item.sha256 is not None and hashlib.sha256(record.payload).hexdigest() == item.sha256
    check_with_warcio(warc_files(data))


def test_a_record_whose_length_is_wrong_is_read_without_raw_bytes_on_the_console(tmp_path, capfd) -> None:
    """warcio writes "Record not followed by newline" and the raw bytes it found to standard error when a
    record's Content-Length is wrong (or an offset lands on bytes that only look like one); claimwatch says
    what happened in its own words and never pours the raw bytes on the analyst's console."""
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=False)
    for body in (b"first record body, long enough", b"second record"):
        writer.write_record(writer.create_warc_record("https://shop.test/p", "resource", payload=io.BytesIO(body),
                                                      warc_content_type="text/plain"))
    data = buffer.getvalue()
    length = b"Content-Length: 30\r\n"
    assert data.count(length) == 1
    (tmp_path / "warc").mkdir()
    (tmp_path / "warc" / "bad.warc").write_bytes(data.replace(length, b"Content-Length: 25\r\n", 1))
    with contextlib.suppress(ValueError):
        raw_records(tmp_path, "warc/bad.warc", 0)
    with contextlib.suppress(ValueError):
        read_record(tmp_path, "warc/bad.warc", 0)
    captured = capfd.readouterr()
    assert "not followed by newline" not in captured.err and "Remainder" not in captured.err
