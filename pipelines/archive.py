"""ArchivePipeline: the raw body's SHA-256 (its key in the body table) and a WARC record of every fetch.

First of the four pipelines. Each site's crawl writes records of its own (``monitor.warc.open_archive``:
WARC files named after the site and the run in the data folder, or rows in the database when
``CLAIMWATCH_EVIDENCE=database``), on the crawl's storage thread (``pipelines.services``). Each item gets
``warc_path`` and ``warc_offset`` (its response record, or the ``metadata`` record of a fetch that got no
response) for its fetch row.

A record that cannot be written (a full disk, a read-only data folder, a database that refuses it) is cut
off again and the fetch says so: no ``warc_path``/``warc_offset``, and ``error`` "not archived: <why>", so the
fetch row is kept as an error, the page keeps its current snapshot (no version is ever recorded without its
archived response) and the next crawl tries again.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

from crawler.items import PageItem
from monitor.store import sha256_hex
from monitor.warc import ArchiveWriter, HttpExchange, WarcLocation, open_archive, safe_name
from pipelines.services import PageServices

log = logging.getLogger(__name__)


class ArchivePipeline:
    def __init__(self, services: PageServices, prefix: str) -> None:
        self.services = services
        self.prefix = prefix  # <site>-run<run>: the names of this crawl's records
        self.archive: ArchiveWriter | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        plan = crawler.settings["CLAIMWATCH_PLAN"]
        return cls(PageServices.from_crawler(crawler),
                   f"{safe_name(plan.site)}-run{plan.run_id}")

    async def process_item(self, item: PageItem) -> PageItem:
        if item.body is not None and item.status is not None and item.status < 300:
            item.sha256 = sha256_hex(item.body)
        try:
            location = await self.services.in_io(self._write, item)
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

    def _write(self, item: PageItem) -> WarcLocation | None:
        """The fetch's record: its response, or the error of a fetch that got none (storage thread)."""
        if self.archive is None:
            self.archive = open_archive(self.services.settings, prefix=self.prefix, engine=self.services.engine)
        if item.status is not None:
            return self.archive.write_exchange(HttpExchange(
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
            return self.archive.write_error(item.url, item.error, item.fetched_at)
        return None

    def _close(self) -> None:
        if self.archive is not None:
            self.archive.close()
            self.archive = None

    async def close_spider(self) -> None:
        await self.services.in_io(self._close)
