"""Archived page versions for the evidence tests, without a crawl: each version's records written through
``monitor.warc.open_archive`` (files in the data folder or rows in the database, as the settings say), then
its fetch, snapshot, statement and change rows, as a crawl stores them."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from monitor.config import Settings, load_settings
from monitor.db import make_engine, make_session_factory, upgrade
from monitor.models import Change, CrawlRun, Fetch, Page, Site, Snapshot, StatementRow
from monitor.screenshots import Screenshot, record_screenshots
from monitor.warc import HttpExchange, WarcLocation, open_archive

START = datetime(2026, 11, 1, 6, tzinfo=UTC)


def machine(db: str, data: Path, store: str | None = "database") -> Settings:
    """The settings of a machine with its own data folder, sharing the database ``db``; ``store`` None:
    CLAIMWATCH_EVIDENCE unset (the default, ``local``)."""
    env = {"CLAIMWATCH_DATA": str(data), "CLAIMWATCH_CONTACT": "tests@claimwatch.invalid"}
    if store is not None:
        env["CLAIMWATCH_EVIDENCE"] = store
    return load_settings(env, db_url=db)


def tiny_png(rgb: bytes = b"\x17\x5c\xd3") -> bytes:
    """A valid 1x1 PNG of one colour."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" + rgb))
            + chunk(b"IEND", b""))


def page_exchange(url: str, text: str, fetched_at: datetime) -> HttpExchange:
    """A 200 HTML response with ``text`` in one paragraph, as the crawler hands it to the archive."""
    body = f"<html><body><p>{text}</p></body></html>".encode()
    return HttpExchange(url=url, status=200, body=body, fetched_at=fetched_at,
                        response_headers=[("Content-Type", "text/html; charset=utf-8")],
                        request_headers=[("User-Agent", "claimwatch/test (+tests@claimwatch.invalid)")],
                        payload_sha256=hashlib.sha256(body).hexdigest())


@dataclass(frozen=True)
class Version:
    url: str
    text: str
    kind: str = "claim"
    type: str = "structure_function"
    severity: str = "low"


@dataclass(frozen=True)
class Stored:
    run_id: int
    fetch_ids: tuple[int, ...]  # in the order of the versions
    snapshot_ids: tuple[int, ...]
    locations: tuple[WarcLocation, ...]
    change_ids: tuple[int, ...]  # one per version that replaced an earlier one of its URL
    screenshot: bytes | None  # the PNG of the last version, when asked for


def store_versions(settings: Settings, versions: Sequence[Version], *, prefix: str = "shop-run1",
                   screenshot: bool = False) -> Stored:
    """Archive and store ``versions`` in order (one fetch a minute) for the site "shop", creating the
    database's schema when needed; a later version of a URL is a "modified" change of the earlier one."""
    engine = make_engine(settings.db_url)
    try:
        upgrade(engine)
        archive = open_archive(settings, prefix=prefix)
        try:  # archived first, each in its own transaction, as the crawl does before it stores the page
            sent = [page_exchange(v.url, v.text, START + timedelta(minutes=n)) for n, v in enumerate(versions)]
            written = [archive.write_exchange(one) for one in sent]
        finally:
            archive.close()
        locations = tuple(location for location in written if location is not None)
        assert len(locations) == len(versions)
        with make_session_factory(engine).begin() as session:
            site = session.scalar(select(Site).where(Site.name == "shop"))
            if site is None:
                site = Site(name="shop", start_urls=["http://127.0.0.1:1/"], allow=[], recipients=[])
                session.add(site)
                session.flush()
            run = CrawlRun(site_id=site.id, status="finished")
            session.add(run)
            session.flush()
            pages: dict[str, Page] = {}
            latest: dict[str, Snapshot] = {}
            fetch_ids, snapshot_ids, change_ids = [], [], []
            for version, one, location in zip(versions, sent, locations, strict=True):
                page = pages.get(version.url)
                if page is None:
                    page = Page(site_id=site.id, url=version.url, first_seen=one.fetched_at)
                    session.add(page)
                    session.flush()
                    pages[version.url] = page
                fetch = Fetch(page_id=page.id, run_id=run.id, fetched_at=one.fetched_at, final_url=version.url,
                              status=200, outcome="changed" if version.url in latest else "new",
                              content_type="text/html", sha256=one.payload_sha256, bytes=len(one.body),
                              warc_path=location.path, warc_offset=location.offset)
                session.add(fetch)
                session.flush()
                assert one.payload_sha256 is not None
                snapshot = Snapshot(page_id=page.id, fetch_id=fetch.id, created_at=one.fetched_at,
                                    fingerprint=one.payload_sha256, statements_hash=one.payload_sha256,
                                    text=version.text, extractor_version="test", findings=[])
                session.add(snapshot)
                session.flush()
                session.add(StatementRow(snapshot_id=snapshot.id, position=0, kind=version.kind, type=version.type,
                                         text=version.text, key=version.text.lower(), attributes={},
                                         severity=version.severity, matched=[]))
                before = latest.get(version.url)
                if before is not None:
                    change = Change(page_id=page.id, site_id=site.id, run_id=run.id,
                                    before_snapshot_id=before.id, after_snapshot_id=snapshot.id, change="modified",
                                    kind=version.kind, type=version.type, before=before.text, after=version.text,
                                    severity=version.severity, delta={}, inline=[],
                                    detected_at=one.fetched_at + timedelta(seconds=1))
                    session.add(change)
                    session.flush()
                    change_ids.append(change.id)
                page.current_snapshot_id = snapshot.id
                latest[version.url] = snapshot
                fetch_ids.append(fetch.id)
                snapshot_ids.append(snapshot.id)
            png = tiny_png() if screenshot else None
            if png is not None:
                shot = Screenshot(png, versions[-1].url)
                assert record_screenshots(session, settings, [(snapshot_ids[-1], shot)]) == 1
            return Stored(run.id, tuple(fetch_ids), tuple(snapshot_ids), locations, tuple(change_ids), png)
    finally:
        engine.dispose()
