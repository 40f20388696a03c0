"""Evidence kept in the database (CLAIMWATCH_EVIDENCE=database): WARC records and screenshots written by a
crawl worker on one machine ("machine A", data folder A) are bundled by `claimwatch evidence` on another
(an empty data folder B) through the shared database, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from crawlkit import crawl, fetches, setup_site
from evidencekit import Stored, Version, machine, page_exchange, store_versions, tiny_png
from sqlalchemy import Engine, func, select, text, update

from monitor.config import ConfigError, load_settings
from monitor.db import make_engine, make_session_factory
from monitor.models import Fetch, ScreenshotBlob, WarcRecord
from monitor.screenshots import load_screenshot, store_screenshot
from monitor.urls import canonical_url
from monitor.warc import (
    ArchiveWriteError,
    HttpExchange,
    WarcArchive,
    open_archive,
    raw_records,
    read_record,
)
from monitor.warccheck import check_records
from monitor.warcdb import DatabaseArchive

SHOP = Path(__file__).resolve().parent / "sites" / "crawl"
URL = "http://127.0.0.1:1/guarantee.html"
PREFIX = "shop-run1-w101"
VERSIONS = ("Try it for 90 days: full refund, no questions asked.", "Try it for 30 days: refund less shipping.")
REFUSED = "disk is full (test trigger)"


def exchange(url: str, text: str, day: int) -> HttpExchange:
    return page_exchange(url, text, datetime(2026, 11, day, 6, tzinfo=UTC))


@pytest.fixture
def engine(migrated: str) -> Iterator[Engine]:
    engine = make_engine(migrated)
    yield engine
    engine.dispose()


def row_count(engine: Engine, model: type) -> int:
    with make_session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


# --- machine A: a crawl worker writing through open_archive ------------------------------------------------


def crawled_on_machine_a(db: str, data_a: Path) -> Stored:
    """Two versions of URL archived through ``open_archive`` with the database store (as the crawl on
    machine A does), their rows, a high change between them and the new version's screenshot."""
    settings = machine(db, data_a)
    archive = open_archive(settings, prefix=PREFIX)
    archive.close()
    assert isinstance(archive, DatabaseArchive)
    versions = [Version(URL, text_, "guarantee", "money_back", severity)
                for text_, severity in zip(VERSIONS, ("medium", "high"), strict=True)]
    return store_versions(settings, versions, prefix=PREFIX, screenshot=True)


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


def test_evidence_written_on_one_machine_is_bundled_from_another(run_cli, migrated, tmp_path) -> None:
    data_a, data_b = tmp_path / "machine-a", tmp_path / "data"  # run_cli's data folder is B's
    written = crawled_on_machine_a(migrated, data_a)
    assert files_under(data_a) == [], "the database store wrote into machine A's data folder"
    assert all(location.path == f"db:{PREFIX}" for location in written.locations)

    # machine B: another, empty data folder and no CLAIMWATCH_EVIDENCE (readers follow the fetch rows)
    bundle = tmp_path / "bundle.zip"
    made = run_cli("evidence", URL, "--change", str(written.change_ids[0]), "--out", str(bundle), db=migrated)
    assert made.exit_code == 0, made.stderr
    verified = run_cli("evidence", "verify", str(bundle))
    assert verified.exit_code == 0 and verified.stdout.startswith("OK: "), verified.stdout + verified.stderr
    assert files_under(data_b) == [], "reading evidence wrote into machine B's data folder"

    engine = make_engine(migrated)
    try:
        with make_session_factory(engine)() as session:
            stored = {row.id: bytes(row.data) for row in session.scalars(select(WarcRecord))}
    finally:
        engine.dispose()
    with zipfile.ZipFile(bundle) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        warc = archive.read("warc/evidence.warc.gz")
        assert archive.read("screenshots/after.png") == written.screenshot
    # the records are the very bytes machine A wrote, after the bundle's own warcinfo record
    copied = b"".join(stored[location.offset] for location in written.locations)
    assert warc.endswith(copied) and len(warc) > len(copied)
    records = list(check_records(io.BytesIO(warc)))
    assert [record.record_type for record in records] == ["warcinfo", "response", "request", "response", "request"]
    entries = {entry["role"]: entry for entry in manifest["snapshots"]}
    assert [entries[role]["warc"]["source_file"] for role in ("before", "after")] == [f"db:{PREFIX}"] * 2
    assert [entries[role]["warc"]["source_offset"] for role in ("before", "after")] == [
        location.offset for location in written.locations]
    assert written.screenshot is not None
    assert entries["after"]["screenshot_sha256"] == hashlib.sha256(written.screenshot).hexdigest()
    # the crawl's archive of the run, from the database: warcio accepts it
    out = tmp_path / "run.warc.gz"
    exported = run_cli("evidence", "warc", "--run", str(written.run_id), "--out", str(out), db=migrated)
    assert exported.exit_code == 0, exported.stderr
    assert "2 archived fetches" in exported.stderr
    missing = run_cli("evidence", "warc", "--run", "999", "--out", str(tmp_path / "none.warc.gz"), db=migrated)
    assert missing.exit_code == 1 and "no crawl run 999" in missing.stderr
    assert not (tmp_path / "none.warc.gz").exists()
    assert out.read_bytes().endswith(copied)
    checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(out)], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0 and "digest pass" in checked.stdout, checked.stdout + checked.stderr


def test_a_database_pointer_is_read_only_with_its_database_and_never_as_another_rows(run_cli, migrated,
                                                                                      tmp_path) -> None:
    written = crawled_on_machine_a(migrated, tmp_path / "machine-a")
    first, second = written.locations
    engine = make_engine(migrated)
    try:
        with make_session_factory(engine)() as session:
            record = read_record(tmp_path / "empty", first.path, first.offset, session=session)
            assert record.record_type == "response" and record.url == URL
            assert VERSIONS[0].encode() in record.payload
            raw = raw_records(tmp_path / "empty", second.path, second.offset, session=session)
            assert [r.record_type for r in check_records(io.BytesIO(raw))] == ["response", "request"]
            with pytest.raises(ValueError, match="in the database"):
                read_record(tmp_path / "empty", first.path, first.offset)  # no session: not a file either
            with pytest.raises(ValueError, match="no WARC record"):
                read_record(tmp_path / "empty", "db:other-run9-w1", first.offset, session=session)
            with pytest.raises(ValueError, match="no WARC record"):
                read_record(tmp_path / "empty", first.path, 10_000, session=session)
            # the warcinfo row is not a fetch's response
            info_id = session.scalar(select(WarcRecord.id).where(WarcRecord.record_type == "warcinfo"))
        with make_session_factory(engine).begin() as session:
            session.execute(update(Fetch).where(Fetch.id == written.fetch_ids[1])
                            .values(warc_offset=info_id))
    finally:
        engine.dispose()
    result = run_cli("evidence", URL, "--out", str(tmp_path / "x.zip"), db=migrated)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert f"fetch {written.fetch_ids[1]}: the WARC record at db:{PREFIX}#{info_id}" in result.stderr
    assert "warcinfo record" in result.stderr and not (tmp_path / "x.zip").exists()


# --- failed writes --------------------------------------------------------------------------------------


def refuse_records_of(engine: Engine, pattern: str) -> None:
    """A trigger that makes the database refuse warc_record rows of URLs matching ``pattern`` (LIKE)."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(text(
                "CREATE TRIGGER refuse_records BEFORE INSERT ON warc_record "
                f"WHEN NEW.target_uri LIKE '{pattern}' BEGIN SELECT RAISE(ABORT, '{REFUSED}'); END"))
        else:
            connection.execute(text(
                "CREATE FUNCTION refuse_records() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.target_uri LIKE '{pattern}' THEN RAISE EXCEPTION '{REFUSED}'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"))
            connection.execute(text("CREATE TRIGGER refuse_records BEFORE INSERT ON warc_record "
                                    "FOR EACH ROW EXECUTE FUNCTION refuse_records()"))


def allow_records(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse_records" if engine.dialect.name == "sqlite"
                                else "DROP TRIGGER refuse_records ON warc_record"))
        if engine.dialect.name != "sqlite":
            connection.execute(text("DROP FUNCTION refuse_records()"))


def test_a_record_the_database_refuses_is_an_os_error_and_keeps_nothing(engine, migrated, tmp_path) -> None:
    refuse_records_of(engine, "%/refused.html")
    archive = open_archive(machine(migrated, tmp_path / "a"), prefix="shop-run2-w7")
    try:
        # the very first write also carries the warcinfo row: refused together, kept together later
        with pytest.raises(OSError) as refused:
            archive.write_exchange(exchange("http://127.0.0.1:1/refused.html", "x", 1))
        assert isinstance(refused.value, ArchiveWriteError) and REFUSED in str(refused.value)
        assert "\n" not in str(refused.value)
        assert row_count(engine, WarcRecord) == 0
        kept = archive.write_exchange(exchange("http://127.0.0.1:1/kept.html", "y", 1))
        with pytest.raises(ArchiveWriteError):
            archive.write_error("http://127.0.0.1:1/refused.html", "timeout", datetime(2026, 11, 1, tzinfo=UTC))
        error = archive.write_error("http://127.0.0.1:1/down.html", "timeout", datetime(2026, 11, 1, tzinfo=UTC))
    finally:
        archive.close()
    assert kept is not None and error is not None and error.offset > kept.offset
    with make_session_factory(engine)() as session:
        types = list(session.scalars(select(WarcRecord.record_type).order_by(WarcRecord.id)))
        assert types == ["warcinfo", "response", "metadata"]
        assert read_record(tmp_path, kept.path, kept.offset, session=session).url.endswith("/kept.html")
        metadata = read_record(tmp_path, error.path, error.offset, session=session)
        assert metadata.record_type == "metadata" and b"fetch-error: timeout" in metadata.payload


def test_a_crawl_whose_record_the_database_refuses_records_the_fetch_as_not_archived(
        run_cli, db_url, site_server, tmp_path, monkeypatch) -> None:
    """The crawl (whatever machine it runs on) keeps the fetch as an error, "not archived: ...", writes no
    file, and archives the page at the next crawl."""
    monkeypatch.setenv("CLAIMWATCH_EVIDENCE", "database")
    monkeypatch.setenv("CLAIMWATCH_DATA", str(tmp_path / "machine-a"))
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")
    monkeypatch.setenv("CLAIMWATCH_CRAWL_WORKERS", "0")  # extraction in the crawl process: fewer processes
    server = site_server(SHOP)
    setup_site(run_cli, db_url, "shop", f"{server.url}/products/", "--allow", "/products/", "--max-pages", "12")
    engine = make_engine(db_url)
    try:
        refuse_records_of(engine, "%/products/guarantee.html")
        crawl(run_cli, db_url)
        rows = fetches(db_url)
        (refused,) = [f for f in rows if (f.final_url or "").endswith("/products/guarantee.html")]
        assert refused.warc_path is None and refused.warc_offset is None
        assert refused.outcome == "error" and refused.status == 200
        assert refused.error is not None and refused.error.startswith("not archived: ") and REFUSED in refused.error
        archived = [f for f in rows if f is not refused]
        assert archived and all(f.warc_path and f.warc_path == "db:shop-run1" for f in archived), [(f.final_url, f.warc_path, f.outcome) for f in archived]
        assert not (tmp_path / "machine-a" / "warc").exists()

        allow_records(engine)
        crawl(run_cli, db_url)
        again = [f for f in fetches(db_url) if f.id > max(r.id for r in rows)
                 and (f.final_url or "").endswith("/products/guarantee.html")]
        assert len(again) == 1 and again[0].warc_path and again[0].warc_path == "db:shop-run2"
        with make_session_factory(engine)() as session:
            record = read_record(tmp_path / "empty", again[0].warc_path, again[0].warc_offset or 0, session=session)
            assert canonical_url(record.url) == again[0].final_url
            assert hashlib.sha256(record.payload).hexdigest() == again[0].sha256
    finally:
        engine.dispose()


def test_a_crawl_with_database_evidence_is_bundled_on_a_machine_without_its_files(
        run_cli, db_url, site_server, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CLAIMWATCH_EVIDENCE", "database")
    monkeypatch.setenv("CLAIMWATCH_DATA", str(tmp_path / "machine-a"))
    monkeypatch.setenv("CLAIMWATCH_THROTTLE_START_DELAY", "0.05")
    monkeypatch.setenv("CLAIMWATCH_SCREENSHOTS", "0")
    monkeypatch.setenv("CLAIMWATCH_CRAWL_WORKERS", "0")  # extraction in the crawl process: fewer processes
    server = site_server(SHOP)
    setup_site(run_cli, db_url, "shop", f"{server.url}/products/", "--allow", "/products/", "--max-pages", "8")
    crawl(run_cli, db_url)
    assert not (tmp_path / "machine-a" / "warc").exists()
    rows = fetches(db_url)
    assert rows and all(f.warc_path and f.warc_path.startswith("db:") for f in rows)

    monkeypatch.setenv("CLAIMWATCH_DATA", str(tmp_path / "machine-b"))  # empty, and the default store
    monkeypatch.delenv("CLAIMWATCH_EVIDENCE")
    out = tmp_path / "page.zip"
    made = run_cli("evidence", f"{server.url}/products/guarantee.html", "--out", str(out), db=db_url)
    assert made.exit_code == 0, made.stderr
    assert run_cli("evidence", "verify", str(out)).exit_code == 0
    with zipfile.ZipFile(out) as archive:
        payload = gzip.decompress(archive.read("warc/evidence.warc.gz"))
    assert b"WARC-Type: response" in payload and b"/products/guarantee.html" in payload


# --- screenshots ----------------------------------------------------------------------------------------


def test_screenshots_in_the_database_are_kept_once_and_read_from_any_machine(engine, migrated, tmp_path) -> None:
    png = tiny_png(b"\x00\x80\x00")
    sha = hashlib.sha256(png).hexdigest()
    machine_a = machine(migrated, tmp_path / "a")
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        assert store_screenshot(machine_a, png, session=session) == sha
        assert store_screenshot(machine_a, png, session=session) == sha  # deduplicated by SHA-256
    with sessions.begin() as session:
        assert store_screenshot(machine_a, png, session=session) == sha  # already there: no error
    assert row_count(engine, ScreenshotBlob) == 1
    assert files_under(tmp_path / "a") == []
    with pytest.raises(ValueError, match="needs a session"):
        store_screenshot(machine_a, png)

    machine_b = machine(migrated, tmp_path / "b", store=None)
    with sessions() as session:
        assert load_screenshot(machine_b, sha, session=session) == png
        assert load_screenshot(machine_b, "0" * 64, session=session) is None
    assert load_screenshot(machine_b, sha) is None  # without the database: only the (empty) data folder
    with sessions.begin() as session:
        session.execute(update(ScreenshotBlob).values(data=png + b"tampered"))
    with sessions() as session, pytest.raises(ValueError, match="does not match"):
        load_screenshot(machine_b, sha, session=session)


def test_the_local_store_is_the_default_and_keeps_files_in_the_data_folder(engine, migrated, tmp_path) -> None:
    settings = machine(migrated, tmp_path / "data", store=None)
    assert settings.evidence_store == "local"
    archive = open_archive(settings, prefix="shop-run3-w1")
    assert isinstance(archive, WarcArchive)
    try:
        location = archive.write_exchange(exchange(URL, VERSIONS[0], 1))
    finally:
        archive.close()
    assert location is not None and location.path.startswith("warc/shop-run3-w1-") and location.offset > 0
    assert (tmp_path / "data" / location.path).is_file()
    assert read_record(tmp_path / "data", location.path, location.offset).url == URL
    png = tiny_png()
    with make_session_factory(engine).begin() as session:
        sha = store_screenshot(settings, png, session=session)
    assert (tmp_path / "data" / "screenshots" / f"{sha}.png").read_bytes() == png
    assert row_count(engine, WarcRecord) == 0 and row_count(engine, ScreenshotBlob) == 0


def test_the_evidence_store_setting() -> None:
    assert load_settings({}, db_url="sqlite:///x.db").evidence_store == "local"
    assert load_settings({"CLAIMWATCH_EVIDENCE": " Database "}, db_url="sqlite:///x.db").evidence_store == "database"
    with pytest.raises(ConfigError, match="CLAIMWATCH_EVIDENCE"):
        load_settings({"CLAIMWATCH_EVIDENCE": "s3"}, db_url="sqlite:///x.db")
