"""Evidence bundles: everything that proves one change of one page, in one zip an analyst can hand on.

``build_bundle()`` picks a page's snapshots before and after a change (``change_id``), or the version
current at a moment (``at``) and the one before it, or else the page's latest version and the one before;
``write_bundle()`` writes the zip; ``verify_bundle()`` re-checks it. A bundle holds:

=============================  =====================================================================
``warc/evidence.warc.gz``      a ``warcinfo`` record, then the response and request records of both
                               fetches, copied byte for byte from the crawl's WARC files
``statements/before.json``     the statements (and normalised text) of each snapshot
``statements/after.json``
``report.html``                the change report of those changes (``monitor.report``)
``screenshots/<role>.png``     the snapshots' screenshots, when they were taken
``manifest.json``              every other file with its SHA-256 and size, the fetch times (UTC), the
                               snapshots, changes and the claimwatch version
=============================  =====================================================================

A fetch's record is bundled only once it is sure to be that fetch's: the record at the row's
``warc_path``/``warc_offset`` must be a ``response`` of the fetch's URL whose payload hashes to the
fetch's body SHA-256 (``EvidenceError`` otherwise, and no bundle). Verification (``monitor.evidence_check``)
is strict about the zip, the manifest and every member, and streams them. The manifest cannot vouch for
itself: keep its SHA-256 (printed by ``claimwatch evidence``) with the case.

>>> with sessions() as session:                                            # doctest: +SKIP
...     bundle = build_bundle(session, settings, "https://shop.example/", change_id=42)
>>> write_bundle(bundle, Path("change-42.zip"))                           # doctest: +SKIP
'3b1f...'
>>> verify_bundle(Path("change-42.zip")).ok                               # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.evidence_check import (
    BUNDLE_FORMAT,
    MANIFEST,
    REPORT_MEMBER,
    WARC_MEMBER,
    Verification,
    same_url,
    verify_bundle,
)
from monitor.models import Change, CrawlRun, Fetch, Page, Site, Snapshot, StatementRow
from monitor.screenshots import load_screenshot, same_origin
from monitor.urls import canonical_url
from monitor.warc import ArchivedRecord, claimwatch_version, payload_sha256, raw_records, read_record, warcinfo_record

__all__ = ["BUNDLE_FORMAT", "MANIFEST", "REPORT_MEMBER", "WARC_MEMBER", "Bundle", "EvidenceError", "Verification",
           "build_bundle", "select_snapshots", "verify_bundle", "write_bundle", "write_run_warc"]


class EvidenceError(ValueError):
    """The bundle cannot be built: unknown URL or change, no snapshot at that time..."""


@dataclass(slots=True)
class Bundle:
    """The files of a bundle (name -> bytes) and its manifest, before they are zipped."""

    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    def manifest_bytes(self) -> bytes:
        return (json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- choosing the snapshots ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Selection:
    page: Page
    site: str
    before: Snapshot | None
    after: Snapshot
    changes: tuple[Change, ...]


def _pages(session: Session, url: str, site: str | None) -> list[tuple[Page, str]]:
    try:
        canonical = canonical_url(url)
    except ValueError as exc:
        raise EvidenceError(f"not a URL: {url!r}") from exc
    query = select(Page, Site.name).join(Site, Site.id == Page.site_id).where(Page.url.in_({url, canonical}))
    if site:
        query = query.where(Site.name == site)
    return [(page, name) for page, name in session.execute(query)]


def select_snapshots(session: Session, url: str, *, change_id: int | None = None, at: datetime | None = None,
                     site: str | None = None) -> Selection:
    """The page's snapshots before and after: of ``change_id``; else the version current at ``at`` and
    the one it replaced; else the latest version and the one it replaced."""
    pages = _pages(session, url, site)
    if not pages:
        raise EvidenceError(f"no watched page {url!r}" + (f" in site {site!r}" if site else ""))
    if len(pages) > 1:
        names = ", ".join(sorted(name for _page, name in pages))
        raise EvidenceError(f"{url} is watched by several sites ({names}): choose one with --site")
    page, site_name = pages[0]

    if change_id is not None:
        change = session.get(Change, change_id)
        if change is None or change.page_id != page.id:
            raise EvidenceError(f"change {change_id} is not a change of {page.url}")
        if change.after_snapshot_id is None:
            raise EvidenceError(f"change {change_id} has no 'after' snapshot any more")
        after = session.get(Snapshot, change.after_snapshot_id)
        assert after is not None
        before = session.get(Snapshot, change.before_snapshot_id) if change.before_snapshot_id else None
    else:
        query = select(Snapshot).where(Snapshot.page_id == page.id)
        if at is not None:
            query = query.where(Snapshot.created_at <= at)
        found = session.scalar(query.order_by(Snapshot.created_at.desc(), Snapshot.id.desc()).limit(1))
        if found is None:
            when = f" at or before {_iso(at)}" if at else ""
            raise EvidenceError(f"no snapshot of {page.url}{when}")
        after = found
        previous_id = session.scalar(
            select(Change.before_snapshot_id).where(Change.after_snapshot_id == after.id,
                                                    Change.before_snapshot_id.is_not(None)).limit(1)
        ) or session.scalar(
            select(Snapshot.id).where(Snapshot.page_id == page.id, Snapshot.id < after.id)
            .order_by(Snapshot.id.desc()).limit(1)
        )
        before = session.get(Snapshot, previous_id) if previous_id else None
    changes = tuple(session.scalars(
        select(Change).where(Change.after_snapshot_id == after.id).order_by(Change.id)
    ))
    return Selection(page, site_name, before, after, changes)


# --- building -----------------------------------------------------------------------------------------


def _statements_document(session: Session, selection: Selection, snapshot: Snapshot, fetch: Fetch) -> bytes:
    rows = session.scalars(
        select(StatementRow).where(StatementRow.snapshot_id == snapshot.id).order_by(StatementRow.position)
    )
    document = {
        "url": selection.page.url,
        "site": selection.site,
        "snapshot_id": snapshot.id,
        "fetched_at": _iso(fetch.fetched_at),
        "extractor_version": snapshot.extractor_version,
        "statements": [
            {"position": row.position, "kind": row.kind, "type": row.type, "text": row.text,
             "severity": row.severity, "attributes": row.attributes or {}}
            for row in rows
        ],
        "findings": list(snapshot.findings or []),
        "text": snapshot.text,
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _report_html(session: Session, selection: Selection) -> bytes:
    from monitor.report import build_report, render_report, restrict_report

    moment = selection.after.created_at
    ids = {change.id for change in selection.changes}
    times = [change.detected_at for change in selection.changes] or [moment]
    ctx = build_report(session, since=min(times), until=max(times) + timedelta(microseconds=1),
                       sites=[selection.site], kind="report")
    mine = tuple(item for item in ctx.changes if item.id in ids)
    # restrict_report re-nests and re-counts what is left: this page's changes only
    ctx = restrict_report(replace(ctx, changes=mine, events=(), findings=()), [selection.site])
    return render_report(ctx).html.encode("utf-8")


def build_bundle(session: Session, settings: Settings, url: str, *, change_id: int | None = None,
                 at: datetime | None = None, site: str | None = None) -> Bundle:
    """Collect the evidence of one page's change (see the module docstring for what is inside)."""
    selection = select_snapshots(session, url, change_id=change_id, at=at, site=site)
    files: dict[str, bytes] = {}
    warc_parts: list[bytes] = []
    snapshots: list[dict[str, Any]] = []
    for role, snapshot in (("before", selection.before), ("after", selection.after)):
        if snapshot is None:
            continue
        fetch = session.get(Fetch, snapshot.fetch_id)
        assert fetch is not None
        entry: dict[str, Any] = {
            "role": role,
            "snapshot_id": snapshot.id,
            "created_at": _iso(snapshot.created_at),
            "fetch_id": fetch.id,
            "fetched_at": _iso(fetch.fetched_at),
            "url": fetch.final_url or selection.page.url,
            "http_status": fetch.status,
            "body_sha256": fetch.sha256,
            "warc": None,
            "statements": f"statements/{role}.json",
            "screenshot": None,
            "screenshot_sha256": snapshot.screenshot_sha256,
            "screenshot_url": snapshot.screenshot_url,  # the page the screenshot shows
        }
        files[f"statements/{role}.json"] = _statements_document(session, selection, snapshot, fetch)
        if fetch.warc_path and fetch.warc_offset is not None:
            record, raw = fetch_record(settings.data_dir, fetch, entry["url"], session=session)
            warc_parts.append(raw)
            entry["warc"] = {"record_id": record.record_id, "source_file": fetch.warc_path,
                             "source_offset": fetch.warc_offset}
        # a screenshot is bundled only with the URL it shows, of the page's own origin (one taken before
        # screenshots recorded their URL stays out)
        if snapshot.screenshot_sha256 and same_origin(snapshot.screenshot_url or "", entry["url"]):
            png = load_screenshot(settings, snapshot.screenshot_sha256, session=session)
            if png is not None:
                entry["screenshot"] = f"screenshots/{role}.png"
                files[f"screenshots/{role}.png"] = png
        snapshots.append(entry)
    if warc_parts:
        files[WARC_MEMBER] = _bundle_warc(warc_parts, selection)
    files[REPORT_MEMBER] = _report_html(session, selection)
    manifest: dict[str, Any] = {
        "format": BUNDLE_FORMAT,
        "claimwatch_version": claimwatch_version(),
        "created_at": _iso(datetime.now(UTC)),
        "url": selection.page.url,
        "site": selection.site,
        "snapshots": snapshots,
        "changes": [
            {"id": c.id, "change": c.change, "kind": c.kind, "type": c.type, "severity": c.severity,
             "before": c.before, "after": c.after, "detected_at": _iso(c.detected_at)}
            for c in selection.changes
        ],
        "files": [{"name": name, "sha256": _sha256(data), "bytes": len(data)}
                  for name, data in sorted(files.items())],
    }
    return Bundle(manifest, files)


def fetch_record(data_dir: Path, fetch: Fetch, url: str, *,
                 session: Session | None = None) -> tuple[ArchivedRecord, bytes]:
    """The fetch's response record and its raw bytes (with its request record), from the data folder or,
    for a ``db:`` location, the database through ``session`` (``monitor.warc.read_record``), once sure they
    are this fetch's: a ``response`` of ``url`` whose payload hashes to the fetch's body SHA-256. A row that points
    elsewhere (another page's record, an older one, the middle of one: rows written before archive writes
    were all-or-nothing) is an ``EvidenceError``: another URL's record is never bundled."""
    assert fetch.warc_path is not None and fetch.warc_offset is not None
    where = f"fetch {fetch.id}: the WARC record at {fetch.warc_path}#{fetch.warc_offset}"
    try:
        record = read_record(data_dir, fetch.warc_path, fetch.warc_offset, session=session)
        raw = raw_records(data_dir, fetch.warc_path, fetch.warc_offset, session=session)
    except OSError as exc:
        raise EvidenceError(f"{where} cannot be read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise EvidenceError(f"{where} cannot be read: {exc}") from exc
    problem = _record_mismatch(record, url, fetch.sha256)
    if problem is not None:
        raise EvidenceError(f"{where} {problem}; nothing bundled (the archive and the database disagree)")
    return record, raw


def _record_mismatch(record: ArchivedRecord, url: str, body_sha256: str | None) -> str | None:
    if record.record_type != "response":
        return f"is a {record.record_type or 'unknown'} record, not the fetch's response"
    if not same_url(record.url, url):
        return f"is of {record.url}, not {url}"
    if body_sha256 is not None and payload_sha256(record) != body_sha256:
        return "holds another body than the fetch's (its payload's SHA-256 differs)"
    return None


def _bundle_warc(parts: list[bytes], selection: Selection) -> bytes:
    """A small WARC: a fresh ``warcinfo`` record, then the crawl's own records, unchanged."""
    info = {"description": f"claimwatch evidence for {selection.page.url}: the records of the fetches "
                           "before and after, copied unchanged from the crawl archives"}
    return warcinfo_record(WARC_MEMBER.rsplit("/", 1)[-1], info) + b"".join(parts)


def write_bundle(bundle: Bundle, out: Path) -> str:
    """Write the zip (atomically); returns the SHA-256 of its manifest."""
    manifest = bundle.manifest_bytes()
    out.parent.mkdir(parents=True, exist_ok=True)
    with (tempfile.NamedTemporaryFile(dir=out.parent, prefix=".evidence-", suffix=".zip", delete=False) as tmp,
          zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive):
        archive.writestr(MANIFEST, manifest)
        for name in sorted(bundle.files):
            # WARC and PNG are compressed already
            kind = zipfile.ZIP_STORED if name.endswith((".gz", ".png")) else zipfile.ZIP_DEFLATED
            archive.writestr(name, bundle.files[name], compress_type=kind)
    os.replace(tmp.name, out)
    return _sha256(manifest)


# --- a crawl run's archive, from wherever it is kept ----------------------------------------------------


def write_run_warc(session: Session, settings: Settings, run_id: int, out: Path) -> int:
    """Write one WARC file of a crawl run's archived fetches (atomically): a ``warcinfo`` record, then each
    fetch's records in fetch order, copied byte for byte from the data folder's files or the database
    (``db:`` locations), so every digest and date is the crawl's own. Returns the number of fetches.

    A fetch whose record cannot be read, or is not of its URL, is an ``EvidenceError`` naming it (and no
    file): the archive and the database disagree.

    >>> write_run_warc(session, settings, 7, Path("run7.warc.gz"))        # doctest: +SKIP
    31
    """
    run = session.get(CrawlRun, run_id)
    if run is None:
        raise EvidenceError(f"no crawl run {run_id}")
    fetches = session.execute(
        select(Fetch.id, Fetch.warc_path, Fetch.warc_offset, Fetch.final_url, Page.url)
        .join(Page, Page.id == Fetch.page_id)
        .where(Fetch.run_id == run_id, Fetch.warc_path.is_not(None), Fetch.warc_offset.is_not(None))
        .order_by(Fetch.id)
    ).all()
    info = {"description": f"claimwatch crawl run {run_id}: the records of its {len(fetches)} archived "
                           "fetches, copied unchanged from the crawl archives"}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".run-", suffix=".warc.gz", delete=False) as tmp:
        try:
            tmp.write(warcinfo_record(out.name, info))
            for fetch_id, warc_path, warc_offset, final_url, page_url in fetches:
                assert warc_path is not None and warc_offset is not None
                where = f"fetch {fetch_id}: the WARC record at {warc_path}#{warc_offset}"
                try:
                    record = read_record(settings.data_dir, warc_path, warc_offset, session=session)
                    raw = raw_records(settings.data_dir, warc_path, warc_offset, session=session)
                except OSError as exc:
                    raise EvidenceError(f"{where} cannot be read: {exc.strerror or exc}") from exc
                except ValueError as exc:
                    raise EvidenceError(f"{where} cannot be read: {exc}") from exc
                if record.record_type not in ("response", "metadata"):
                    raise EvidenceError(f"{where} is a {record.record_type or 'unknown'} record, not a fetch's")
                if not any(same_url(record.url, url) for url in (final_url, page_url) if url):
                    raise EvidenceError(f"{where} is of {record.url}, not {final_url or page_url}")
                tmp.write(raw)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, out)
    return len(fetches)
