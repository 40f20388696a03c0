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

Verification checks every listed file against its SHA-256, that nothing unlisted was added, every WARC
record's digests, and that each fetch's response payload hashes to the body SHA-256 the manifest states.
The manifest cannot vouch for itself: keep its SHA-256 (printed by ``claimwatch evidence``) with the case.

>>> with sessions() as session:                                            # doctest: +SKIP
...     bundle = build_bundle(session, settings, "https://shop.example/", change_id=42)
>>> write_bundle(bundle, Path("change-42.zip"))                           # doctest: +SKIP
'3b1f...'
>>> verify_bundle(Path("change-42.zip")).ok                               # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import io
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
from monitor.models import Change, Fetch, Page, Site, Snapshot, StatementRow
from monitor.screenshots import load_screenshot
from monitor.urls import canonical_url
from monitor.warc import (
    ArchivedRecord,
    claimwatch_version,
    iter_records,
    payload_sha256,
    raw_records,
    read_record,
    warcinfo_record,
)

BUNDLE_FORMAT = "claimwatch-evidence/1"
MANIFEST = "manifest.json"
WARC_MEMBER = "warc/evidence.warc.gz"
REPORT_MEMBER = "report.html"


class EvidenceError(ValueError):
    """The bundle cannot be built: unknown URL or change, no snapshot at that time..."""


@dataclass(slots=True)
class Bundle:
    """The files of a bundle (name -> bytes) and its manifest, before they are zipped."""

    manifest: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)

    def manifest_bytes(self) -> bytes:
        return (json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    message: str  # the one-line verdict
    problems: tuple[str, ...] = ()
    manifest_sha256: str | None = None


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
        }
        files[f"statements/{role}.json"] = _statements_document(session, selection, snapshot, fetch)
        if fetch.warc_path and fetch.warc_offset is not None:
            record = read_record(settings.data_dir, fetch.warc_path, fetch.warc_offset)
            warc_parts.append(raw_records(settings.data_dir, fetch.warc_path, fetch.warc_offset))
            entry["warc"] = {"record_id": record.record_id, "source_file": fetch.warc_path,
                             "source_offset": fetch.warc_offset}
        if snapshot.screenshot_sha256:
            png = load_screenshot(settings, snapshot.screenshot_sha256)
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


# --- verifying ----------------------------------------------------------------------------------------


def verify_bundle(path: Path) -> Verification:
    """Re-check every hash of a bundle; ``ok`` False with the problems found otherwise."""
    problems: list[str] = []
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if MANIFEST not in names:
                return _failed(path, ["no manifest.json"])
            manifest_raw = archive.read(MANIFEST)
            manifest = json.loads(manifest_raw)
            listed = {entry["name"]: entry for entry in manifest.get("files", [])}
            contents: dict[str, bytes] = {}
            for name, entry in sorted(listed.items()):
                if name not in names:
                    problems.append(f"{name}: missing")
                    continue
                data = archive.read(name)
                contents[name] = data
                if _sha256(data) != entry.get("sha256") or len(data) != entry.get("bytes"):
                    problems.append(f"{name}: SHA-256 does not match the manifest")
            problems += [f"{name}: not listed in the manifest" for name in sorted(names - set(listed) - {MANIFEST})]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, KeyError, TypeError, ValueError) as exc:
        # a corrupted member fails its CRC here (BadZipFile), a mangled manifest its JSON parse
        return _failed(path, [f"unreadable bundle: {exc}"])
    if not problems:
        problems += _check_warc(manifest, contents.get(WARC_MEMBER))
    if problems:
        return _failed(path, problems, _sha256(manifest_raw))
    digest = _sha256(manifest_raw)
    message = (f"OK: {path.name}: {len(listed)} files match manifest.json (manifest SHA-256 {digest}), "
               f"claimwatch {manifest.get('claimwatch_version')}")
    return Verification(True, message, (), digest)


def _check_warc(manifest: dict[str, Any], warc: bytes | None) -> list[str]:
    expected = {entry["warc"]["record_id"]: entry for entry in manifest.get("snapshots", []) if entry.get("warc")}
    if not expected:
        return []
    if warc is None:
        return [f"{WARC_MEMBER}: missing"]
    records: dict[str, ArchivedRecord] = {}
    try:
        for record in iter_records(io.BytesIO(warc)):
            records[record.record_id] = record
    except Exception as exc:  # noqa: BLE001 - any parse or digest failure is a verdict, not a crash
        return [f"{WARC_MEMBER}: {exc}"]
    problems = []
    for record_id, entry in expected.items():
        found = records.get(record_id)
        if found is None:
            problems.append(f"{WARC_MEMBER}: no record {record_id} ({entry['role']} fetch)")
        elif entry.get("body_sha256") and payload_sha256(found) != entry["body_sha256"]:
            problems.append(f"{WARC_MEMBER}: {entry['role']} payload does not hash to its body SHA-256")
    return problems


def _failed(path: Path, problems: list[str], digest: str | None = None) -> Verification:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Verification(False, f"FAILED: {path.name}: {problems[0]}{more}", tuple(problems), digest)
