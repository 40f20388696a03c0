"""Checking a WARC file of unknown origin (an evidence bundle's) in bounded memory.

warcio reads header lines whole, and ``monitor.warc.read_record`` reads payloads whole: right for the
crawl's own archives, not for a file someone handed over, where a few KiB of gzip can inflate to a 2 GiB
header line or payload. ``check_records()`` streams instead: header lines of at most 64 KiB, blocks hashed
in 1 MiB chunks, and each record's ``WARC-Block-Digest`` (and ``WARC-Payload-Digest`` of HTTP records,
required on responses) must hold. Digests must be SHA-256, as claimwatch writes them; ``warcio check``
accepts every file that passes here (tests/test_evidence.py).

>>> for record in check_records(stream):                                  # doctest: +SKIP
...     print(record.record_id, record.payload_sha256)
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

MAX_LINE = 64 * 1024  # a header line
MAX_HEADER_LINES = 256
MAX_RECORD_ID = 512  # a URI such as <urn:uuid:...>: ids are kept to find duplicates
CHUNK = 1024 * 1024
_END_OF_RECORD = b"\r\n\r\n"
_VERSIONS = (b"WARC/1.0", b"WARC/1.1")
#: WARC headers that must not appear twice in a record (a reader could take either).
_SINGLE = frozenset({"warc-type", "warc-record-id", "warc-target-uri", "content-length", "content-type",
                     "warc-block-digest", "warc-payload-digest"})


class WarcCheckError(ValueError):
    """Not a well-formed gzipped WARC file, or a digest that does not hold."""


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """A record whose digests hold."""

    record_type: str
    record_id: str
    target_uri: str
    payload_sha256: str | None  # hex SHA-256 of the HTTP payload (response and request records)


class _Block:
    """The next ``length`` bytes of a stream (a record's block), hashed as they are read."""

    def __init__(self, stream: gzip.GzipFile, length: int) -> None:
        self.stream = stream
        self.left = length
        self.digest = hashlib.sha256()

    def readline(self) -> bytes:
        return self._took(self.stream.readline(min(MAX_LINE, self.left)))

    def chunks(self) -> Iterator[bytes]:
        while self.left:
            chunk = self._took(self.stream.read(min(CHUNK, self.left)))
            if not chunk:
                raise WarcCheckError("a record ends before its Content-Length")
            yield chunk

    def _took(self, data: bytes) -> bytes:
        self.left -= len(data)
        self.digest.update(data)
        return data


def check_records(stream: IO[bytes]) -> Iterator[CheckedRecord]:
    """Every record of a gzipped WARC stream, its digests checked; ``WarcCheckError`` at the first problem."""
    reader = gzip.GzipFile(fileobj=stream, mode="rb")
    try:
        while first := reader.readline(MAX_LINE):
            yield _check_record(reader, first)
    except (EOFError, zlib.error, OSError) as exc:  # gzip.BadGzipFile is an OSError
        raise WarcCheckError(f"not a gzipped WARC file ({exc})") from exc


def _check_record(reader: gzip.GzipFile, first: bytes) -> CheckedRecord:
    if first.rstrip(b"\r\n") not in _VERSIONS:
        raise WarcCheckError("no WARC/1.x line where a record starts")
    headers = _header_fields(lambda: reader.readline(MAX_LINE), "WARC")
    record_id = headers.get("warc-record-id", "")
    record_type = headers.get("warc-type", "")
    if not record_id or len(record_id) > MAX_RECORD_ID or not record_type:
        raise WarcCheckError("a record without a WARC-Record-ID or WARC-Type")
    block = _Block(reader, _content_length(headers.get("content-length"), record_id))
    payload = None
    if headers.get("content-type", "").startswith("application/http"):
        if not block.readline().endswith(b"\n"):  # the HTTP status or request line
            raise WarcCheckError(f"{record_id}: no HTTP status line")
        _header_fields(block.readline, "HTTP")
        payload = hashlib.sha256()
    for chunk in block.chunks():
        if payload is not None:
            payload.update(chunk)
    if reader.read(len(_END_OF_RECORD)) != _END_OF_RECORD:
        raise WarcCheckError(f"{record_id}: does not end where its Content-Length says")
    _digest_holds(headers.get("warc-block-digest"), block.digest.digest(), f"{record_id}: block")
    if payload is not None and (record_type == "response" or "warc-payload-digest" in headers):
        _digest_holds(headers.get("warc-payload-digest"), payload.digest(), f"{record_id}: payload")
    return CheckedRecord(record_type, record_id, headers.get("warc-target-uri", ""),
                         payload.hexdigest() if payload is not None else None)


def _header_fields(readline: Callable[[], bytes], what: str) -> dict[str, str]:
    """Header lines up to the blank line, as lower-cased names and values (bounded in length and number)."""
    fields: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = readline()
        if not line.endswith(b"\n"):
            raise WarcCheckError(f"a {what} header line longer than {MAX_LINE} bytes, or cut short")
        if line in (b"\r\n", b"\n"):
            return fields
        name, colon, value = line.decode("utf-8", "replace").partition(":")
        name = name.strip().lower()
        if not colon or not name:
            raise WarcCheckError(f"a {what} header line without a name")
        if what == "WARC" and name in _SINGLE and name in fields:
            raise WarcCheckError(f"{name} twice in one record")
        fields[name] = value.strip()
    raise WarcCheckError(f"more than {MAX_HEADER_LINES} {what} header lines")


def _content_length(value: str | None, record_id: str) -> int:
    if value is None or not value.isascii() or not value.isdigit():
        raise WarcCheckError(f"{record_id}: no Content-Length")
    return int(value)


def _digest_holds(stated: str | None, digest: bytes, what: str) -> None:
    if stated is None:
        raise WarcCheckError(f"{what} digest missing")
    if _digest_bytes(stated) != digest:
        raise WarcCheckError(f"{what} digest does not match")


def _digest_bytes(stated: str) -> bytes | None:
    """The bytes of a ``sha256:<base32 or hex>`` digest (None for any other algorithm or a bad value)."""
    algorithm, _, value = stated.partition(":")
    if algorithm.strip().lower() != "sha256":
        return None
    value = value.strip()
    try:
        return bytes.fromhex(value) if len(value) == 64 else base64.b32decode(value.upper())
    except (ValueError, binascii.Error):
        return None
