"""WARC archives of every fetch, so an analyst can prove what a page said and when (read back with warcio).

Crawl workers write through one seam, ``open_archive(settings, prefix=...)`` (an ``ArchiveWriter``): by
default (``CLAIMWATCH_EVIDENCE=local``) a ``WarcArchive`` of files in the data folder, described below;
with ``CLAIMWATCH_EVIDENCE=database`` a ``monitor.warcdb.DatabaseArchive`` that keeps the same record
bytes in the database, for crawls on several machines (docs/evidence.md). ``read_record`` and
``raw_records`` read either, dispatching on the fetch row's ``warc_path`` (``db:`` for the database).

A ``WarcArchive`` writes gzip-per-record WARC/1.1 files under ``data_dir/warc/``, named
``<prefix>-<UTC stamp>-<serial>.warc.gz`` (the crawl's prefix names the site and the run, so two writers
never share a file): a new file for every crawl run, and a new one whenever the current file would grow
past ``max_bytes``. Each file starts with a ``warcinfo`` record.

- A fetch with an HTTP response becomes a ``response`` record followed by its ``request`` record
  (``WARC-Concurrent-To`` the response). ``WARC-Block-Digest`` and ``WARC-Payload-Digest`` are SHA-256
  (``sha256:<base32>``, allowed by WARC 1.1 and verified by ``warcio check``), so the payload digest is the
  very SHA-256 the ``body`` table is keyed by.
- The payload is the body as claimwatch analysed it: Scrapy has already undone any ``Content-Encoding``
  and ``Transfer-Encoding``, so those headers are dropped and ``Content-Length`` states the stored length
  (noted in a ``Claimwatch-Note`` WARC header). Pages rendered in Chromium (``render_js``) carry the DOM
  after scripts ran, marked ``Claimwatch-Rendered: chromium``.
- A fetch that got no response (timeout, refused connection...) becomes a ``metadata`` record
  (``application/warc-fields``) with the error, so the audit trail has no holes.

Every record is serialised in memory and appended whole or not at all: a write that fails (a full disk)
is cut off again, back to the file's last whole record, before the error is raised, so the offsets of the
records before and after it stay right (a file that cannot be cut back is closed and the next record
starts a new one). Fetch rows keep ``warc_path`` relative to the data folder and the byte offset of their
record (``read_record`` reads it back); a fetch whose record could not be written has neither.

>>> with WarcArchive(data_dir, prefix="shop-run7") as archive:            # doctest: +SKIP
...     location = archive.write_exchange(exchange)
>>> read_record(data_dir, location.path, location.offset, session=session).url   # doctest: +SKIP
'https://shop.example/'
"""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import io
import logging
import os
import re
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed
from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParserException

import monitor

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from monitor.config import Settings

log = logging.getLogger(__name__)

WARC_DIR = "warc"
DEFAULT_MAX_BYTES = 100 * 1024 * 1024
#: Headers describing a transfer encoding the stored payload no longer has.
DECODED_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


WARC_GZIP_LEVEL = 1  # on every fetch: warcio's level 9 costs ~4x the time for ~10% smaller records


@dataclass(frozen=True, slots=True)
class WarcLocation:
    """Where a fetch's record lives: a path relative to the data folder and the record's byte offset."""

    path: str
    offset: int


@dataclass(frozen=True, slots=True)
class HttpExchange:
    """One HTTP request and its response as the crawler saw them (plain values; no Scrapy)."""

    url: str  # the URL the response came from (after redirects)
    status: int
    body: bytes
    fetched_at: datetime
    response_headers: Sequence[tuple[str, str]] = ()
    request_headers: Sequence[tuple[str, str]] = ()
    method: str = "GET"
    protocol: str = "HTTP/1.1"
    rendered: bool = False  # body is Chromium's DOM after scripts ran, not the bytes the server sent
    payload_sha256: str | None = None  # the body's SHA-256 (hex) when already known


@dataclass(frozen=True, slots=True)
class ArchivedRecord:
    """A record read back from a WARC file."""

    record_type: str
    record_id: str
    url: str
    date: str
    payload: bytes
    http_status: int | None = None
    http_headers: list[tuple[str, str]] = field(default_factory=list)
    warc_headers: list[tuple[str, str]] = field(default_factory=list)

    def warc_header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.warc_headers if key.lower() == lowered), None)


def claimwatch_version() -> str:
    """``monitor.__version__`` (read from the installed distribution when ``monitor`` resolves as a
    namespace package, as with some editable installs)."""
    version = getattr(monitor, "__version__", None)
    if isinstance(version, str):
        return version
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("claimwatch")
    except PackageNotFoundError:
        return "unknown"


def sha256_base32(hex_digest: str) -> str:
    """The ``sha256:<base32>`` form of a hex SHA-256, as written in ``WARC-Payload-Digest``."""
    return "sha256:" + base64.b32encode(bytes.fromhex(hex_digest)).decode("ascii")


def warc_date(moment: datetime) -> str:
    """WARC/1.1 date with microseconds, always UTC: ``2026-11-01T06:00:00.123456Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def safe_name(value: str) -> str:
    return _UNSAFE.sub("-", value).strip("-") or "site"


class WarcArchive:
    """Append fetches to rotating WARC files under ``data_dir/warc`` (an ``ArchiveWriter``; one instance per
    writer: each has files of its own)."""

    def __init__(self, data_dir: Path, *, prefix: str, max_bytes: int = DEFAULT_MAX_BYTES,
                 operator: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.directory = self.data_dir / WARC_DIR
        self.prefix = safe_name(prefix)
        self.max_bytes = max(int(max_bytes), 1)
        self.operator = operator
        self.files: list[Path] = []  # every file this archive wrote, in order
        self._stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self._serial = 0
        # unbuffered: a failed write leaves nothing behind in a buffer to land later, after other records
        self._handle: io.FileIO | None = None
        self._size = 0  # bytes of whole records in the current file: the next record's offset
        self._records_in_file = 0

    # --- files ----------------------------------------------------------------------------------

    def _open_next(self) -> None:
        self._close_current()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._serial += 1
        path = self.directory / f"{self.prefix}-{self._stamp}-{self._serial:05d}.warc.gz"
        self._handle = path.open("xb", buffering=0)
        self._size = 0
        self._records_in_file = 0
        info = {"description": "claimwatch crawl archive: one response and request record per fetch"}
        if self.operator:
            info["operator"] = self.operator
        try:
            self._append(warcinfo_record(path.name, info))
        except OSError:
            self._abandon()
            with contextlib.suppress(OSError):  # holds nothing: not even its warcinfo record
                path.unlink()
            raise
        self.files.append(path)

    def _close_current(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                os.fsync(handle.fileno())
            finally:
                handle.close()

    def _abandon(self) -> None:
        """Stop writing to the current file (the next record starts a new one)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.close()

    def close(self) -> None:
        self._close_current()

    def __enter__(self) -> WarcArchive:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _append(self, data: bytes) -> int:
        """Append ``data`` whole and return its offset, or cut the file back to its size before and raise."""
        handle = self._handle
        assert handle is not None
        offset = self._size
        try:
            _write_all(handle, data)
        except OSError:
            self._cut_back(offset)
            raise
        self._size += len(data)
        self._records_in_file += 1
        return offset

    def _cut_back(self, size: int) -> None:
        """Truncate the current file to ``size`` after a failed append; if even that fails, abandon it."""
        assert self._handle is not None
        try:
            self._handle.truncate(size)
            self._handle.seek(size)
        except OSError as exc:
            log.error("cannot cut %s back after a failed write (%s): the next record starts a new file",
                      self._handle.name, exc)
            self._abandon()

    def _is_intact(self) -> bool:
        """The current file holds exactly the records written to it (no bytes of a failed write)."""
        assert self._handle is not None
        try:
            return os.fstat(self._handle.fileno()).st_size == self._size
        except OSError:
            return False

    def _write(self, data: bytes) -> WarcLocation:
        """Append serialised records, rotating first when the file would grow past ``max_bytes`` (or holds
        anything else than its records: their offsets are counted, so they must be the file's only bytes)."""
        if self._handle is not None and not self._is_intact():
            self._abandon()
        if self._handle is None or (self._records_in_file > 1 and self._size + len(data) > self.max_bytes):
            self._open_next()
        offset = self._append(data)
        return WarcLocation(self.files[-1].relative_to(self.data_dir).as_posix(), offset)

    # --- records --------------------------------------------------------------------------------

    def write_exchange(self, exchange: HttpExchange) -> WarcLocation:
        """A ``response`` record and its ``request`` record (``exchange_records``); returns the response
        record's location."""
        return self._write(exchange_records(exchange))  # response first, then its request

    def write_error(self, url: str, error: str, fetched_at: datetime) -> WarcLocation:
        """A ``metadata`` record for a fetch that got no response (the audit trail has no holes)."""
        return self._write(error_record(url, error, fetched_at))


def exchange_records(exchange: HttpExchange) -> bytes:
    """A fetch's ``response`` record and its ``request`` record (``WARC-Concurrent-To`` the response), as
    two gzip members, response first.

    Serialised here rather than by warcio's writer (which buffers and re-reads every payload to
    digest it): this runs on every fetch. The HTTP header blocks are still warcio's
    (``StatusAndHeaders``, which percent-encodes non-ASCII values), and ``warcio check`` verifies
    both digests (tests/test_warc.py).
    """
    date = warc_date(exchange.fetched_at)
    kept = [(k, v) for k, v in exchange.response_headers if k.lower() not in DECODED_HEADERS]
    dropped = sorted({k.lower() for k, _ in exchange.response_headers if k.lower() in DECODED_HEADERS}
                     - {"content-length"})
    kept.append(("Content-Length", str(len(exchange.body))))
    reason = _reason(exchange.status)
    http_headers = StatusAndHeaders(f"{exchange.status} {reason}".strip(), kept,
                                    protocol=exchange.protocol or "HTTP/1.1").to_ascii_bytes()
    payload_digest = sha256_base32(exchange.payload_sha256 or hashlib.sha256(exchange.body).hexdigest())
    response_id = _record_id()
    extra: list[tuple[str, str]] = []
    if dropped:
        extra.append(("Claimwatch-Note", f"payload stored decoded; removed {', '.join(dropped)} "
                                         "(Content-Length is the stored length)"))
    if exchange.rendered:
        extra.append(("Claimwatch-Rendered", "chromium (DOM after scripts ran)"))
    response = _gzip_record(
        [("WARC-Type", "response"), ("WARC-Record-ID", response_id), ("WARC-Target-URI", exchange.url),
         ("WARC-Date", date), ("WARC-Payload-Digest", payload_digest), *extra],
        "application/http; msgtype=response", (http_headers, exchange.body),
    )
    request = _gzip_record(
        [("WARC-Type", "request"), ("WARC-Record-ID", _record_id()), ("WARC-Target-URI", exchange.url),
         ("WARC-Date", date), ("WARC-Concurrent-To", response_id), ("WARC-Payload-Digest", _EMPTY_DIGEST)],
        "application/http; msgtype=request", (_request_headers(exchange).to_ascii_bytes(),),
    )
    return response + request


def error_record(url: str, error: str, fetched_at: datetime) -> bytes:
    """The ``metadata`` record (``application/warc-fields``: ``fetch-error``, ``fetched-at``) of a fetch
    that got no response."""
    date = warc_date(fetched_at)
    fields = f"fetch-error: {' '.join(error.split())}\r\nfetched-at: {date}\r\n".encode()
    return _gzip_record(
        [("WARC-Type", "metadata"), ("WARC-Record-ID", _record_id()), ("WARC-Target-URI", url),
         ("WARC-Date", date)],
        "application/warc-fields", (fields,),
    )


# --- the seam: where a crawl's records go ---------------------------------------------------------------

#: ``warc_path`` of a record kept in the database: ``db:<prefix>``, with the row's id as ``warc_offset``.
DATABASE_LOCATION = "db:"


class ArchiveWriteError(OSError):
    """A record could not be kept (its store refused it): handled like a failed file write."""


class ArchiveWriter(Protocol):
    """Where a crawl worker's WARC records go (``open_archive``). Each ``write_*`` keeps the fetch's records
    whole, or raises ``OSError`` (``ArchiveWriteError`` for a database) having kept nothing: the fetch is
    then recorded as an error, "not archived: <why>"."""

    def write_exchange(self, exchange: HttpExchange) -> WarcLocation | None: ...

    def write_error(self, url: str, error: str, fetched_at: datetime) -> WarcLocation | None: ...

    def close(self) -> None: ...


def is_database_location(warc_path: str) -> bool:
    """Whether a fetch row's ``warc_path`` names a record kept in the database (``db:<prefix>``)."""
    return warc_path.startswith(DATABASE_LOCATION)


def open_archive(settings: Settings, *, prefix: str, max_bytes: int | None = None, operator: str | None = None,
                 engine: Engine | None = None) -> ArchiveWriter:
    """The archive a crawl worker writes its fetches to, as ``settings.evidence_store`` says:

    - ``local``: a ``WarcArchive`` of rotating files under ``settings.data_dir/warc`` (past ``max_bytes``,
      default ``settings.warc_max_bytes``);
    - ``database``: a ``monitor.warcdb.DatabaseArchive``, one row per fetch in ``settings.db_url``'s
      ``warc_record`` table (through ``engine`` when given, else an engine of its own, disposed by
      ``close()``).

    ``prefix`` names the worker's records (``<site>-run<run>-w<worker>``); ``operator`` (default
    ``settings.contact``) goes into the ``warcinfo`` record.

    >>> archive = open_archive(settings, prefix="shop-run7-w1201")          # doctest: +SKIP
    >>> location = archive.write_exchange(exchange); archive.close()          # doctest: +SKIP
    """
    operator = operator if operator is not None else settings.contact
    if settings.evidence_store == "database":
        from monitor.warcdb import DatabaseArchive

        return DatabaseArchive.open(settings, prefix=prefix, operator=operator, engine=engine)
    return WarcArchive(settings.data_dir, prefix=prefix,
                       max_bytes=max_bytes if max_bytes is not None else settings.warc_max_bytes,
                       operator=operator)


def _write_all(handle: io.FileIO, data: bytes) -> None:
    """Write every byte: a write may be cut short (the disk filled up mid-record); the next one raises."""
    written = 0
    with memoryview(data) as view:
        while written < len(data):
            count = handle.write(view[written:])
            if not count:
                raise OSError(errno.EIO, f"no bytes written to {handle.name}")
            written += count


_EMPTY_DIGEST = "sha256:" + base64.b32encode(hashlib.sha256(b"").digest()).decode("ascii")


def _record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


@cache
def record_codec() -> Any:
    """The zlib-compatible module the records are compressed with: ISA-L's (``isal``), which writes the
    same gzip format ~5x faster than zlib at level 1 (0.07 ms for a 50 KB page instead of 0.36) and a
    little smaller; zlib itself where isal has no build for the platform."""
    try:
        from isal import isal_zlib
    except ImportError:  # pragma: no cover - isal is a pinned dependency
        import zlib

        return zlib
    return isal_zlib


def _gzip_record(warc_headers: Sequence[tuple[str, str]], content_type: str, block: Sequence[bytes]) -> bytes:
    """One WARC/1.1 record as its own gzip member: the headers given, then the block's SHA-256 digest,
    type and length, then the block (its parts in order). Every record claimwatch writes is made here."""
    digest = hashlib.sha256()
    for part in block:
        digest.update(part)
    lines = [f"{name}: {value}\r\n" for name, value in warc_headers]
    lines.append(f"WARC-Block-Digest: sha256:{base64.b32encode(digest.digest()).decode('ascii')}\r\n")
    lines.append(f"Content-Type: {content_type}\r\nContent-Length: {sum(map(len, block))}\r\n\r\n")
    deflate = record_codec()
    compressor = deflate.compressobj(WARC_GZIP_LEVEL, deflate.DEFLATED, deflate.MAX_WBITS + 16)
    out = [compressor.compress(("WARC/1.1\r\n" + "".join(lines)).encode("utf-8"))]
    out.extend(compressor.compress(part) for part in block)
    out.append(compressor.compress(b"\r\n\r\n"))
    out.append(compressor.flush())
    return b"".join(out)


def warcinfo_record(filename: str, info: dict[str, str]) -> bytes:
    """A gzipped ``warcinfo`` record naming claimwatch as the software, plus ``info`` fields."""
    fields = {"software": f"claimwatch/{claimwatch_version()}", "format": "WARC File Format 1.1",
              "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
              **info}
    body = "".join(f"{name}: {value}\r\n" for name, value in fields.items()).encode("utf-8")
    return _gzip_record(
        [("WARC-Type", "warcinfo"), ("WARC-Record-ID", _record_id()), ("WARC-Filename", filename),
         ("WARC-Date", warc_date(datetime.now(UTC)))],
        "application/warc-fields", (body,),
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _request_headers(exchange: HttpExchange) -> StatusAndHeaders:
    parts = urlsplit(exchange.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = list(exchange.request_headers)
    if not any(name.lower() == "host" for name, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return StatusAndHeaders(f"{exchange.method} {target} {exchange.protocol or 'HTTP/1.1'}", headers,
                            is_http_request=True)


# --- reading ------------------------------------------------------------------------------------------


def warc_file(data_dir: Path, warc_path: str) -> Path:
    """The absolute file of a fetch's relative ``warc_path`` (refuses paths leaving the data folder)."""
    base = Path(data_dir).resolve()
    path = (base / warc_path).resolve()
    if base not in path.parents:
        raise ValueError(f"WARC path outside the data folder: {warc_path!r}")
    return path


def _to_archived(record: Any) -> ArchivedRecord:
    headers = record.rec_headers
    payload = record.raw_stream.read()
    http = record.http_headers
    status = None
    http_headers: list[tuple[str, str]] = []
    if http is not None and record.rec_type == "response":
        code = http.get_statuscode()
        status = int(code) if code and code.isdigit() else None
    if http is not None:
        http_headers = list(http.headers)
    return ArchivedRecord(
        record_type=record.rec_type, record_id=headers.get_header("WARC-Record-ID") or "",
        url=headers.get_header("WARC-Target-URI") or "", date=headers.get_header("WARC-Date") or "",
        payload=payload, http_status=status, http_headers=http_headers, warc_headers=list(headers.headers),
    )


#: What warcio raises on bytes that are not a record (an offset into the middle of one, a damaged file).
_NOT_A_RECORD = (ArchiveLoadFailed, StatusAndHeadersParserException, zlib.error, EOFError, UnicodeError)


class _RecordIterator(ArchiveIterator):
    """warcio's iterator without its console note: on bytes that are not a record it writes "Record not
    followed by newline" and the raw bytes it found to standard error before it raises; the caller's one-line
    error says what happened instead (``claimwatch evidence`` prints exactly one line, never raw bytes)."""

    INC_RECORD = ""


def read_record(data_dir: Path, warc_path: str, offset: int, *, session: Session | None = None) -> ArchivedRecord:
    """The record a fetch row's ``warc_path``/``warc_offset`` point at: in a data-folder WARC file, or, for
    a ``db:`` path, in the database (``session`` required: the same database as the fetch row).

    ``ValueError`` when no record starts there; ``OSError`` when the file cannot be read."""
    with _record_stream(data_dir, warc_path, offset, session) as handle:
        try:
            for record in _RecordIterator(handle):
                return _to_archived(record)
        except _NOT_A_RECORD as exc:
            raise ValueError(f"no WARC record starts at {warc_path}#{offset} ({type(exc).__name__})") from exc
    raise ValueError(f"no WARC record at {warc_path}#{offset}")


def raw_records(data_dir: Path, warc_path: str, offset: int, *, session: Session | None = None) -> bytes:
    """The exact bytes (gzip members) of the record at ``offset`` and of the ``request`` record that
    follows it when it is concurrent to it: copied verbatim, so their digests and dates stay intact.
    Where the record is found as with ``read_record``."""
    with _record_stream(data_dir, warc_path, offset, session) as handle:
        try:
            spans = _record_spans(_RecordIterator(handle))
        except _NOT_A_RECORD as exc:
            raise ValueError(f"no WARC record starts at {warc_path}#{offset} ({type(exc).__name__})") from exc
        if not spans:
            raise ValueError(f"no WARC record at {warc_path}#{offset}")
        chunks = []
        for start, length in spans:  # the iterator's offsets are absolute stream positions
            handle.seek(start)
            chunks.append(handle.read(length))
    return b"".join(chunks)


@contextlib.contextmanager
def _record_stream(data_dir: Path, warc_path: str, offset: int,
                   session: Session | None) -> Iterator[BinaryIO]:
    """A readable stream positioned at the record: the WARC file, or the database row's bytes."""
    if is_database_location(warc_path):
        if session is None:
            raise ValueError(f"the WARC record {warc_path}#{offset} is in the database: no session to read it")
        from monitor.warcdb import stored_records

        yield io.BytesIO(stored_records(session, warc_path, offset))
        return
    with warc_file(data_dir, warc_path).open("rb") as handle:
        handle.seek(offset)
        yield handle


def _record_spans(iterator: ArchiveIterator) -> list[tuple[int, int]]:
    """(offset, length) of the iterator's first record, and of the next when it is its request record."""
    spans: list[tuple[int, int]] = []
    first_id = None
    for record in iterator:
        record_id = record.rec_headers.get_header("WARC-Record-ID")
        concurrent = record.rec_headers.get_header("WARC-Concurrent-To")
        iterator.read_to_end(record)
        start, length = iterator.get_record_offset(), iterator.get_record_length()
        if first_id is None:
            first_id = record_id
            spans.append((start, length))
            continue
        if record.rec_type == "request" and concurrent == first_id:
            spans.append((start, length))
        break
    return spans


def payload_sha256(record: ArchivedRecord) -> str:
    return hashlib.sha256(record.payload).hexdigest()
