"""ArchivePipeline: the raw body's SHA-256, the key under which it is stored once."""

from __future__ import annotations

from crawler.items import PageItem
from monitor.store import sha256_hex


class ArchivePipeline:
    def process_item(self, item: PageItem) -> PageItem:
        if item.body is not None and item.status is not None and item.status < 300:
            item.sha256 = sha256_hex(item.body)
        return item
