"""ArchivePipeline: the raw body's SHA-256 (its key in the body table) and a WARC record of every fetch.

Scrapy-free: it runs first in the page chain (``pipelines.chain``), in each page worker. Every worker
writes WARC files of its own (``monitor.warc.WarcArchive``, named after the site, the run and the
worker), opened with ``open()`` and closed with ``close()``; each item gets ``warc_path`` (relative to
the data folder) and ``warc_offset`` (its response record, or the ``metadata`` record of a fetch that got
no response) for the fetch row.

A record that cannot be written (a full disk, a read-only data folder) leaves the WARC file as it was
(``WarcArchive`` cuts a failed write off again) and the fetch says so: no ``warc_path``/``warc_offset``,
and ``error`` "not archived: <why>", so the fetch row is kept, as an error: the page keeps its current
snapshot (no version is ever recorded without its archived response) and the next crawl tries again.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crawler.items import PageItem
from monitor.store import sha256_hex
from monitor.warc import DEFAULT_MAX_BYTES, HttpExchange, WarcArchive, WarcLocation

log = logging.getLogger(__name__)


class ArchivePipeline:
    def __init__(self, data_dir: Path | None, *, prefix: str, max_bytes: int = DEFAULT_MAX_BYTES,
                 operator: str | None = None) -> None:
        self.data_dir = data_dir
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.operator = operator
        self.archive: WarcArchive | None = None

    def open(self) -> None:
        if self.data_dir is not None:
            self.archive = WarcArchive(self.data_dir, prefix=self.prefix, max_bytes=self.max_bytes,
                                       operator=self.operator)

    def close(self) -> None:
        if self.archive is not None:
            self.archive.close()
            self.archive = None

    def process_item(self, item: PageItem) -> PageItem:
        if item.body is not None and item.status is not None and item.status < 300:
            item.sha256 = sha256_hex(item.body)
        if self.archive is None:
            return item
        try:
            location = self._write(self.archive, item)
        except OSError as exc:
            log.error("page %s not archived: %s", item.url, exc)
            why = f"not archived: {exc}"
            item.error = f"{item.error} ({why})" if item.error else why
            item.warc_path, item.warc_offset = None, None
            return item
        if location is None:
            return item
        item.warc_path, item.warc_offset = location.path, location.offset
        item.raw_headers, item.request_headers = [], []  # archived
        return item

    @staticmethod
    def _write(archive: WarcArchive, item: PageItem) -> WarcLocation | None:
        """The fetch's record: its response, or the error of a fetch that got none."""
        if item.status is not None:
            return archive.write_exchange(HttpExchange(
                url=item.response_url or item.final_url or item.url,
                status=item.status,
                body=item.body or b"",
                fetched_at=item.fetched_at,
                response_headers=item.raw_headers or list(item.headers.items()),
                request_headers=item.request_headers,
                protocol=item.protocol or "HTTP/1.1",
                rendered=item.rendered,
                payload_sha256=item.sha256,
            ))
        if item.error:
            return archive.write_error(item.url, item.error, item.fetched_at)
        return None
