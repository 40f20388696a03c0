"""Verifying an evidence bundle someone hands over: ``verify_bundle(path)`` (``claimwatch evidence verify``).

A bundle is untrusted input until it is verified, so everything is checked strictly, and no member is
ever read whole: memory stays bounded whatever sizes the zip or the manifest declare.

- **The zip.** Every member is a regular file (no symlink) with a safe relative name (no ``..``, absolute
  or drive path, backslash or empty part), no name appears twice (a forged copy placed before the genuine
  member is what some unzip tools extract), and the members follow one another from the first byte to the
  central directory (a local entry the directory does not list is what a streaming unzip extracts).
- **The manifest** (at most 16 MiB) is a ``claimwatch-evidence/1`` JSON object with every check a genuine
  bundle has: each file's SHA-256 and size; ``report.html`` and each snapshot's statements listed; each
  archived fetch's WARC record id with the body SHA-256 to check it against; each screenshot's
  ``screenshot_url``, of the snapshot's own origin (never a picture of another site or an internal page).
- **Every member** has the manifest's size (compared before reading) and SHA-256 (hashed in 1 MiB chunks);
  none is unlisted.
- **The WARC member**: every record's digests hold (``monitor.warccheck``), no record id appears twice, and
  each archived fetch's record is there, a response of the snapshot's URL whose payload hashes to the body
  SHA-256.

Any problem is a one-line ``FAILED`` verdict, never an exception. The manifest cannot vouch for itself:
pass the SHA-256 recorded when the bundle was made as ``manifest_sha256`` to pin it.

>>> verify_bundle(Path("change-42.zip"), manifest_sha256="3b1f...").ok    # doctest: +SKIP
True
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from monitor.hosts import url_origin
from monitor.urls import canonical_url
from monitor.warccheck import CheckedRecord, WarcCheckError, check_records

BUNDLE_FORMAT = "claimwatch-evidence/1"
MANIFEST = "manifest.json"
WARC_MEMBER = "warc/evidence.warc.gz"
REPORT_MEMBER = "report.html"
ROLES = ("before", "after")
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
MAX_WARC_RECORDS = 1000  # a bundle holds five: warcinfo, then a response and a request per fetch
CHUNK = 1024 * 1024
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_DRIVE = re.compile(r"[A-Za-z]:")
#: What reading a damaged or unusual zip raises (bad CRC, truncation, encryption, unknown compression).
_UNREADABLE = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error, RuntimeError, ValueError)


class BundleRejected(ValueError):
    """A problem that ends verification at once (the zip's structure, the manifest)."""


@dataclass(frozen=True, slots=True)
class Verification:
    ok: bool
    message: str  # the one-line verdict
    problems: tuple[str, ...] = ()
    manifest_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class Listed:
    """A member as the manifest lists it."""

    name: str
    sha256: str
    size: int


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    role: str
    url: str
    body_sha256: str | None
    record_id: str | None  # its response record in the WARC member; None: the fetch was not archived


@dataclass(frozen=True, slots=True)
class Manifest:
    files: dict[str, Listed]
    snapshots: tuple[SnapshotEntry, ...]
    claimwatch_version: str


def verify_bundle(path: Path, *, manifest_sha256: str | None = None) -> Verification:
    """Check a bundle (see the module docstring); ``ok`` False with the problems found otherwise."""
    digest: str | None = None
    try:
        with zipfile.ZipFile(path) as archive:
            members = zip_members(archive)
            raw = _read_manifest(archive, members)
            digest = hashlib.sha256(raw).hexdigest()
            if manifest_sha256 is not None and digest != manifest_sha256.strip().lower():
                raise BundleRejected(f"{MANIFEST}: its SHA-256 is {digest}, not {manifest_sha256.strip()}")
            manifest = parse_manifest(raw)
            problems = check_members(archive, members, manifest)
            if not problems and WARC_MEMBER in manifest.files:
                problems = check_warc(archive, members[WARC_MEMBER], manifest)
    except BundleRejected as exc:
        return _failed(path, [str(exc)], digest)
    except _UNREADABLE as exc:
        return _failed(path, [f"unreadable bundle: {exc}"], digest)
    if problems:
        return _failed(path, problems, digest)
    message = (f"OK: {path.name}: {len(manifest.files)} files match manifest.json (manifest SHA-256 {digest}), "
               f"claimwatch {manifest.claimwatch_version[:40]}")
    return Verification(True, _one_line(message), (), digest)


def _failed(path: Path, problems: list[str], digest: str | None = None) -> Verification:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Verification(False, _one_line(f"FAILED: {path.name}: {problems[0]}{more}"), tuple(problems), digest)


def _one_line(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _shown(value: object) -> str:
    """A value from the bundle, for a message: quoted, printable, at most ~100 characters."""
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


# --- the zip ------------------------------------------------------------------------------------------


def safe_member_name(name: str) -> bool:
    """A relative path of plain parts: no absolute or drive path, backslash, control character, or
    empty, ``.`` or ``..`` part (so extracting it stays inside the folder extracted to)."""
    if not name or name.startswith("/") or "\\" in name or _DRIVE.match(name):
        return False
    if any(not char.isprintable() for char in name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def _not_a_file(info: zipfile.ZipInfo) -> str | None:
    """What the member is when its Unix mode says it is not a regular file (None: a file)."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind in (0, stat.S_IFREG):
        return None
    return {stat.S_IFLNK: "a symbolic link", stat.S_IFDIR: "a directory"}.get(kind, "a special file")


def zip_members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The zip's members by name, once sure each is a uniquely named regular file with a safe name and
    that the members fill the zip up to its central directory."""
    members: dict[str, zipfile.ZipInfo] = {}
    for info in archive.infolist():
        name = info.filename
        if name in members:
            raise BundleRejected(f"{_shown(name)}: duplicate member name (a reader could take either)")
        if not safe_member_name(name):
            raise BundleRejected(f"{_shown(name)}: unsafe member name")
        kind = _not_a_file(info)
        if kind is not None:
            raise BundleRejected(f"{name}: {kind}, not a regular file")
        members[name] = info
    _check_layout(archive)
    return members


def _check_layout(archive: zipfile.ZipFile) -> None:
    """Refuse bytes the central directory does not account for: hidden entries, prepended data."""
    assert archive.fp is not None
    expected = 0
    for info in sorted(archive.infolist(), key=lambda member: member.header_offset):
        if info.header_offset != expected:
            raise BundleRejected(f"bytes outside the zip's members before {info.filename}")
        expected = _member_end(archive.fp, info)
    if expected != archive.start_dir:
        raise BundleRejected("bytes outside the zip's members before its central directory")


def _member_end(fp: IO[bytes], info: zipfile.ZipInfo) -> int:
    """Where a member's local header, data and data descriptor end."""
    fp.seek(info.header_offset)
    header = fp.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise BundleRejected(f"{info.filename}: no local header where the zip's directory says")
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    end = info.header_offset + 30 + name_length + extra_length + info.compress_size
    if info.flag_bits & 0x08:  # sizes in a data descriptor after the data, with or without its signature
        fp.seek(end)
        signed = fp.read(4) == b"PK\x07\x08"
        zip64 = max(info.compress_size, info.file_size) >= zipfile.ZIP64_LIMIT
        end += (20 if zip64 else 12) + (4 if signed else 0)
    return end


# --- the manifest -------------------------------------------------------------------------------------


def _read_manifest(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]) -> bytes:
    info = members.get(MANIFEST)
    if info is None:
        raise BundleRejected(f"no {MANIFEST}")
    if info.file_size > MAX_MANIFEST_BYTES:
        raise BundleRejected(f"{MANIFEST}: {info.file_size} bytes, more than a manifest ever has")
    with archive.open(info) as handle:
        return handle.read(MAX_MANIFEST_BYTES + 1)  # zipfile stops at the declared size


def _bad(problem: str) -> BundleRejected:
    return BundleRejected(f"{MANIFEST}: {problem}")


def parse_manifest(raw: bytes) -> Manifest:
    """The manifest's checks, once sure it has every one a genuine bundle has (``BundleRejected`` if not)."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise _bad(f"not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise _bad("not a JSON object")
    if document.get("format") != BUNDLE_FORMAT:
        raise _bad(f"format {_shown(document.get('format'))}, not {BUNDLE_FORMAT}")
    files = _listed_files(document.get("files"))
    snapshots = _snapshots(document.get("snapshots"), files)
    if REPORT_MEMBER not in files:
        raise _bad(f"does not list {REPORT_MEMBER}")
    archived = any(snapshot.record_id for snapshot in snapshots)
    if archived and WARC_MEMBER not in files:
        raise _bad(f"names WARC records but does not list {WARC_MEMBER}")
    if WARC_MEMBER in files and not archived:
        raise _bad(f"lists {WARC_MEMBER} but no snapshot names a record in it")
    version = document.get("claimwatch_version")
    return Manifest(files, snapshots, version if isinstance(version, str) else "unknown")


def _is_sha256(value: object) -> bool:
    return isinstance(value, str) and _SHA256_HEX.fullmatch(value) is not None


def _listed_files(value: object) -> dict[str, Listed]:
    if not isinstance(value, list):
        raise _bad("'files' is not a list")
    files: dict[str, Listed] = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise _bad("an entry of 'files' is not an object")
        name, sha256, size = entry.get("name"), entry.get("sha256"), entry.get("bytes")
        if not isinstance(name, str) or not safe_member_name(name) or name == MANIFEST:
            raise _bad(f"lists an unsafe or missing file name {_shown(name)}")
        if name in files:
            raise _bad(f"lists {name} twice")
        if not _is_sha256(sha256):
            raise _bad(f"{name} has no SHA-256")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise _bad(f"{name} has no size")
        assert isinstance(sha256, str)
        files[name] = Listed(name, sha256, size)
    return files


def _snapshots(value: object, files: dict[str, Listed]) -> tuple[SnapshotEntry, ...]:
    if not isinstance(value, list) or not value:
        raise _bad("no snapshots")
    snapshots = [_snapshot(entry, files) for entry in value]
    roles = [snapshot.role for snapshot in snapshots]
    if len(set(roles)) != len(roles) or "after" not in roles:
        raise _bad(f"snapshots {_shown(roles)}: one 'after', at most one 'before'")
    return tuple(snapshots)


def _snapshot(entry: object, files: dict[str, Listed]) -> SnapshotEntry:
    if not isinstance(entry, dict):
        raise _bad("a snapshot is not an object")
    role, url, body_sha256 = entry.get("role"), entry.get("url"), entry.get("body_sha256")
    if role not in ROLES:
        raise _bad(f"a snapshot's role is {_shown(role)}")
    assert isinstance(role, str)
    if not isinstance(url, str) or not url:
        raise _bad(f"the {role} snapshot has no URL")
    statements = f"statements/{role}.json"
    if entry.get("statements") != statements or statements not in files:
        raise _bad(f"the {role} snapshot's statements ({statements}) are not listed")
    if body_sha256 is not None and not _is_sha256(body_sha256):
        raise _bad(f"the {role} snapshot's body_sha256 is not a SHA-256")
    record_id = _record_id(entry.get("warc"), role)
    if record_id is not None and body_sha256 is None:
        raise _bad(f"the {role} snapshot names a WARC record but no body_sha256 to check it against")
    _check_screenshot(entry, files, role)
    return SnapshotEntry(role, url, body_sha256, record_id)


def _record_id(warc: object, role: str) -> str | None:
    if warc is None:
        return None
    record_id = warc.get("record_id") if isinstance(warc, dict) else None
    if not isinstance(record_id, str) or not record_id:
        raise _bad(f"the {role} snapshot's 'warc' has no record_id")
    return record_id


def _check_screenshot(entry: dict[str, Any], files: dict[str, Listed], role: str) -> None:
    name = entry.get("screenshot")
    if name is None:
        return
    listed = files.get(name) if isinstance(name, str) else None
    if listed is None or listed.sha256 != entry.get("screenshot_sha256"):
        raise _bad(f"the {role} snapshot's screenshot {_shown(name)} is not listed with its screenshot_sha256")
    # a picture of another origin (an internal service a page steered the browser to) proves nothing
    shown, url = entry.get("screenshot_url"), entry.get("url")
    if not isinstance(shown, str) or url_origin(shown) is None:
        raise _bad(f"the {role} snapshot's screenshot has no screenshot_url (the page it shows)")
    if url_origin(shown) != url_origin(str(url)):
        raise _bad(f"the {role} snapshot's screenshot shows {_shown(shown)}, not a page of {_shown(url)}'s origin")


# --- the members --------------------------------------------------------------------------------------


def check_members(archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], manifest: Manifest) -> list[str]:
    """Every member is listed, and every listed member is there with its size and SHA-256."""
    problems = [f"{name}: not listed in the manifest" for name in sorted(members)
                if name != MANIFEST and name not in manifest.files]
    for name, listed in sorted(manifest.files.items()):
        info = members.get(name)
        if info is None:
            problems.append(f"{name}: missing")
        elif info.file_size != listed.size:  # never read what the manifest does not account for
            problems.append(f"{name}: {info.file_size} bytes, the manifest says {listed.size}")
        elif member_sha256(archive, info) != listed.sha256:
            problems.append(f"{name}: SHA-256 does not match the manifest")
    return problems


def member_sha256(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """A member's SHA-256, read in chunks (zipfile checks its CRC at the end: BadZipFile otherwise)."""
    digest = hashlib.sha256()
    with archive.open(info) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check_warc(archive: zipfile.ZipFile, info: zipfile.ZipInfo, manifest: Manifest) -> list[str]:
    """Every record's digests hold, and each archived fetch's record is its response (URL, body SHA-256)."""
    expected = {snapshot.record_id: snapshot for snapshot in manifest.snapshots if snapshot.record_id}
    seen: set[str] = set()
    problems: list[str] = []
    try:
        with archive.open(info) as handle:
            for record in check_records(handle):
                if record.record_id in seen:
                    return [f"{WARC_MEMBER}: record {_shown(record.record_id)} twice (a reader could take either)"]
                if len(seen) == MAX_WARC_RECORDS:
                    return [f"{WARC_MEMBER}: more than {MAX_WARC_RECORDS} records, more than a bundle holds"]
                seen.add(record.record_id)
                snapshot = expected.get(record.record_id)
                if snapshot is not None:
                    problems += _record_problems(record, snapshot)
    except WarcCheckError as exc:
        return [f"{WARC_MEMBER}: {exc}"]
    problems += [f"{WARC_MEMBER}: no record {record_id} ({snapshot.role} fetch)"
                 for record_id, snapshot in expected.items() if record_id not in seen]
    return problems


def same_url(recorded: str, expected: str) -> bool:
    """A record's WARC-Target-URI (the URL as fetched) is the fetch's URL (stored canonical)."""
    if recorded == expected:
        return True
    try:
        return canonical_url(recorded) == canonical_url(expected)
    except ValueError:
        return False


def _record_problems(record: CheckedRecord, snapshot: SnapshotEntry) -> list[str]:
    where = f"{WARC_MEMBER}: the {snapshot.role} fetch's record"
    if record.record_type != "response":
        return [f"{where} is a {_shown(record.record_type)} record, not a response"]
    if not same_url(record.target_uri, snapshot.url):
        return [f"{where} is of {_shown(record.target_uri)}, not {snapshot.url}"]
    if snapshot.body_sha256 and record.payload_sha256 != snapshot.body_sha256:
        return [f"{where}: its payload does not hash to the body SHA-256"]
    return []
