"""NormalizePipeline: visible text as ordered blocks, and the noise-free content fingerprint.

A body byte-identical to the page's last fetch is not parsed at all.
"""

from __future__ import annotations

from crawler.items import PageItem
from monitor.noise import text_fingerprint
from monitor.normalize import html_to_blocks
from monitor.store import PageContent


class NormalizePipeline:
    def process_item(self, item: PageItem) -> PageItem:
        if item.body is None or item.skipped or item.alias_of or item.status is None or item.status >= 300:
            return item
        if item.sha256 is not None and item.sha256 == item.known_sha256:
            return item
        blocks = html_to_blocks(item.body, item.encoding)
        item.blocks = blocks
        text = "\n".join(block.text for block in blocks)
        item.content = PageContent(text=text, fingerprint=text_fingerprint(text))
        return item
